"""What the client sees of a routing decision: response headers, and Open WebUI's status line.

Open WebUI shows the model the user picked (`auto`), never the one that answered; a client that
sends NOTICE_HEADER with the value NOTICE_CLIENT (the chart's Open WebUI does) gets an
"Answered by <model>" status event before a streamed answer.
"""

from __future__ import annotations

import json
from typing import Any

from dynamic_model_router.decide.decision import Decision, Reason

ROUTE_HEADER = "x-semantic-route"
REASON_HEADER = "x-semantic-route-reason"
SCORE_HEADER = "x-semantic-route-score"
# The model the router chose when another one answered instead.
UNAVAILABLE_HEADER = "x-semantic-route-unavailable"
NOTICE_HEADER = "x-semantic-route-notice"
NOTICE_CLIENT = "open-webui"


def answered_by(response: Any) -> str | None:
    """The model that answered when LiteLLM fell back from the routed one (router_settings.fallbacks),
    else None. LiteLLM records it in the response's hidden headers."""
    hidden = getattr(response, "_hidden_params", None)
    headers = hidden.get("additional_headers") if isinstance(hidden, dict) else None
    if not isinstance(headers, dict):
        return None
    try:
        attempted = int(headers.get("x-litellm-attempted-fallbacks") or 0)
    except (TypeError, ValueError):
        return None
    model = headers.get("x-litellm-model-group")
    return model if attempted > 0 and isinstance(model, str) and model else None


def response_headers(decision: Decision, fallback: str | None) -> dict[str, str]:
    """The headers of a routed answer; `fallback` is the model that answered instead, if any."""
    headers = {ROUTE_HEADER: decision.model, REASON_HEADER: str(decision.reason)}
    if decision.score is not None:
        headers[SCORE_HEADER] = f"{decision.score:.4f}"
    if decision.wanted is not None:
        headers[UNAVAILABLE_HEADER] = decision.wanted
    if fallback is not None and fallback != decision.model:
        headers.update(
            {
                ROUTE_HEADER: fallback,
                REASON_HEADER: str(Reason.UNAVAILABLE),
                UNAVAILABLE_HEADER: decision.model,
            }
        )
    return headers


def request_header(data: dict[str, Any], name: str) -> str | None:
    """A header of the client's request, by its lower-case name, or None."""
    headers = (data.get("proxy_server_request") or {}).get("headers") or {}
    return next((v for k, v in headers.items() if k.lower() == name and isinstance(v, str)), None)


def wants_notice(data: dict[str, Any]) -> bool:
    """Whether the client asked for the status line (only Open WebUI knows what to do with it)."""
    return request_header(data, NOTICE_HEADER) == NOTICE_CLIENT


def status_event(model: str) -> bytes:
    """Open WebUI's status event as a raw SSE line: LiteLLM passes raw bytes through untouched,
    and Open WebUI shows the text above the answer and reads the rest of the stream as usual."""
    event = {"type": "status", "data": {"description": f"Answered by {model}", "done": True}}
    return f"data: {json.dumps({'event': event})}\n\n".encode()
