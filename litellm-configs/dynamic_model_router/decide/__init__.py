"""Chat messages in, a decision out, with no LiteLLM in here: the decision and its reasons, the
signals that score routes (decide/signals/), the combiner that turns their scores into a decision,
and the decider that runs them for one routes file."""
