"""One combiner turns the signals' evidence into a decision with its reason.

Each route's total is the sum of the scores the signals gave it; the highest total wins if it
clears the route's threshold, else the base model answers (reason `fallback`). A route that puts
recall first (`miss_cost` above 1) wins a close call: when its total clears its threshold and a
signal that knows probabilities (the class head) gives it at least 1 / (1 + miss_cost), the
probability above which sending the message elsewhere costs more, on average, than sending it
there (the first such route in the routes file's order), with the reason `close-call`. The
reason of another routed decision is the first that holds of: a signal that silenced others gave
one (topic change); the winner is the primary signal's own best (`route`); the reason of the
first other signal that added to the winner and names one (`sticky` for the history); else
`route`. A signal may name the model that
answers the winning route instead of its own (a canary).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dynamic_model_router.decide.decision import Reason
from dynamic_model_router.decide.signals.base import Evidence

# A route chosen, or None: (route, score, reason, margin, model override).
Combined = tuple[str | None, float, Reason, float | None, str | None]


def combine(
    thresholds: dict[str, float], evidence: Sequence[Evidence], miss_cost: Mapping[str, float] = {}
) -> Combined:
    """The winning route given the evidence, the primary signal's first. `thresholds` holds every
    route's threshold, in the routes file's order, which breaks ties; `miss_cost` the routes that
    put recall first, with their cost."""
    totals = dict.fromkeys(thresholds, 0.0)
    for said in evidence:
        for route, score in said.scores.items():
            totals[route] += score
    route, *others = sorted(totals, key=totals.__getitem__, reverse=True)
    reason = None
    for preferred, cost in miss_cost.items():
        likely = max((said.probabilities.get(preferred, 0.0) for said in evidence), default=0.0)
        if preferred != route and likely >= 1 / (1 + cost) and totals[preferred] >= thresholds[preferred]:
            others = [route, *(r for r in others if r != preferred)]
            route, reason = preferred, Reason.CLOSE_CALL
            break
    margin = totals[route] - totals[others[0]] if others else None
    if totals[route] < thresholds[route]:
        return None, totals[route], Reason.FALLBACK, margin, None
    return route, totals[route], reason or _reason(route, evidence), margin, _model(route, evidence)


def _reason(route: str, evidence: Sequence[Evidence]) -> Reason:
    for said in evidence:
        if said.silences and said.reason is not None:
            return said.reason
    primary, *others = evidence
    own = primary.scores
    if own and max(own, key=own.__getitem__) == route:
        return primary.reason or Reason.ROUTE
    for said in others:
        if said.scores.get(route) and said.reason is not None:
            return said.reason
    return Reason.ROUTE


def _model(route: str, evidence: Sequence[Evidence]) -> str | None:
    return next((said.models[route] for said in evidence if route in said.models), None)
