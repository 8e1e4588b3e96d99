"""The semantic router inside the LiteLLM proxy: which model answers a request for the virtual model.

Subpackages by concern, each importing only those before it in this list (tests/unit/test_module_layers.py):
- log, shipped, prompts, routes_file: the logger, where the shipped configuration is, how a model is
  asked (chat templates, generation settings' ranges), the routes file's schema;
- encoding: the offline encoder and its on-disk embedding cache;
- decide: decisions and reasons, the signals that score routes, the combiner, the decider;
- observe: what operators and clients see of a decision (metrics, headers, status line);
- runtime: what changes while the proxy runs (the live routes file, runtime adapters);
- request: requests checked before routing (body, fields, messages, guards, the master key) and
  shaped for the model that answers (prompt_format);
- reply: replies shown for people (dcot's chains of thought folded);
- hook: the LiteLLM hook that ties them together (built by litellm-configs/custom_router.py);
- training: offline tools (evaluate, train, fit, ratings, propose); never imported by the above.
"""
