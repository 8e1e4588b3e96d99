"""One table of bad routes, fed to the chart (as an adapter with its own route, in values) and to the
router (as the same route in a routes file): both refuse each one, naming the same field.

The router's rules live in route_config; the chart takes an adapter's route fields from the same
models (tools/dmr_tools/generate/chart_docs.py writes them into values.schema.json), and derives at render
time the routes of the served models, which only it knows there."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from dmr_tools.chart import chart_file, render_error
from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE, RoutesError, check_served, parse_routes

DEFAULT_ADAPTERS = [{"name": "doctor", "rank": 64}, {"name": "dcot", "rank": 64}]
SERVED = {"auto", "phi2", "doctor", "dcot", "legal"}
LEGAL = ["Can my landlord keep my deposit for normal wear and tear?"]

# (id, the adapter entry that carries the bad route, the words both errors must contain)
BAD_ROUTES: list[tuple[str, dict[str, Any], str]] = [
    ("no-utterances", {"name": "legal", "utterances": []}, "utterances"),
    ("empty-utterance", {"name": "legal", "utterances": [""]}, "utterances"),
    ("utterances-not-a-list", {"name": "legal", "utterances": LEGAL[0]}, "utterances"),
    ("negative-threshold", {"name": "legal", "utterances": LEGAL, "threshold": -0.1}, "threshold"),
    ("threshold-not-a-number", {"name": "legal", "utterances": LEGAL, "threshold": "high"}, "threshold"),
    ("description-not-text", {"name": "legal", "utterances": LEGAL, "description": ["x"]}, "description"),
    ("misspelt-field", {"name": "legal", "utterance": LEGAL}, "utterance"),
    ("virtual-model-as-target", {"name": "auto", "utterances": LEGAL}, "auto"),
]


def route_of(adapter: dict[str, Any]) -> dict[str, Any]:
    """The route an adapter entry with utterances becomes in the rendered routes file."""
    fields = {k: v for k, v in adapter.items() if k not in ("name", "rank", "path")}
    return {"name": adapter["name"], "model": adapter["name"], **fields}


def router_error(routes: dict[str, Any], served: set[str] = SERVED) -> str:
    try:
        check_served(parse_routes(routes, "routes.yaml"), served, "routes.yaml")
    except RoutesError as e:
        return str(e)
    raise AssertionError(f"the router accepted bad routes: {routes['routes'][-1]}")


def default_routes() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_ROUTES_FILE.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("adapter", "field"), [case[1:] for case in BAD_ROUTES], ids=[c[0] for c in BAD_ROUTES]
)
def test_a_bad_route_is_refused_by_the_chart_and_the_router_alike(adapter: dict[str, Any], field: str):
    chart = render_error(set_json=(f"adapters={json.dumps([*DEFAULT_ADAPTERS, adapter])}",))
    routes = default_routes()
    routes["routes"].append(route_of(adapter))
    router = router_error(routes)
    assert field in chart, f"the chart's error does not name {field!r}:\n{chart}"
    assert field in router, f"the router's error does not name {field!r}:\n{router}"


def test_a_route_to_a_model_nobody_serves_is_left_out_by_the_chart_and_refused_by_the_router():
    # The adapter list decides: an install whose adapters leave doctor out has no doctor route.
    rendered = chart_file("litellm/litellm-routes-configmap.yaml", "routes.yaml", "dcot-only.yaml")
    config = parse_routes(yaml.safe_load(rendered))
    assert {r.model for r in config.routes} == {"dcot", "phi2"}, [r.name for r in config.routes]
    # A routes file that still routes there (an edit of the live ConfigMap) is refused by the router.
    router = router_error(default_routes(), served={"auto", "phi2", "dcot"})
    assert "doctor" in router and "does not serve" in router, router


def test_a_duplicate_route_name_is_refused_by_the_chart_and_the_router_alike():
    chart = render_error(set_json=(f"adapters={json.dumps([*DEFAULT_ADAPTERS, DEFAULT_ADAPTERS[0]])}",))
    routes = default_routes()
    routes["routes"].append(routes["routes"][0])
    router = router_error(routes)
    for error in (chart, router):
        assert '"doctor"' in error.replace("'", '"') and ("twice" in error or "duplicate" in error), error
