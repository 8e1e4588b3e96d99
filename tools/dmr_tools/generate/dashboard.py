"""Write chart/files/dashboard.json, the router's Grafana dashboard, with grafana-foundation-sdk.

    python -m dmr_tools.generate.dashboard          write it (`make dashboard`)
    python -m dmr_tools.generate.dashboard --check  exit 1 if the committed file is not what this makes

Every query here is run against a live stack's Prometheus by tests/integration/test_monitoring.py;
docs/monitoring.md says what each panel shows.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, prometheus, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import GraphDrawStyle
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from dmr_tools.paths import DASHBOARD

OUT = DASHBOARD
UID = "dynamic-model-router"
NS = 'namespace="$namespace"'
RATE = "$__rate_interval"
DECISIONS = "semantic_router_decisions_total"
REQUESTS = "litellm_proxy_total_requests_metric_total"
SHADOW = "semantic_router_shadow_decisions_total"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    # An instant query (a table of the latest values) rather than a range.
    instant: bool = False


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"


def quantiles(metric: str, by: str, levels: tuple[float, ...], legend: str) -> tuple[Query, ...]:
    return tuple(
        Query(
            f"histogram_quantile({q}, sum by ({by}le) (rate({metric}_bucket{{{NS}}}[{RATE}])))",
            f"{legend} p{round(q * 100)}",
        )
        for q in levels
    )


ROWS: dict[str, tuple[Panel, ...]] = {
    "Routing": (
        Panel(
            "Decisions per route",
            "Requests for the virtual model per second, by the route that took them (none: the base model "
            "answered by default).",
            (Query(f"sum by (route) (rate({DECISIONS}{{{NS}}}[{RATE}]))", "{{route}}"),),
            "reqps",
        ),
        Panel(
            "Decisions by reason",
            "Why each request went where it did: route, sticky (a follow-up kept its conversation's route), "
            "topic-change, close-call (a recall-first route won on its miss_cost), fallback, no-text, error.",
            (Query(f"sum by (reason) (rate({DECISIONS}{{{NS}}}[{RATE}]))", "{{reason}}"),),
            "reqps",
        ),
        Panel(
            "Reasons per route over the time range",
            "How many decisions each route took for each reason in the dashboard's time range.",
            (Query(f"sum by (route, reason) (increase({DECISIONS}{{{NS}}}[$__range]))", instant=True),),
            kind="table",
        ),
        Panel(
            "Share no route took",
            "The share of decisions answered by the base model because no route was confident enough. "
            "A jump means the traffic no longer fits the routes (alert RouterFallbackShareShifted).",
            (
                Query(
                    f'sum(rate({DECISIONS}{{{NS}, reason="fallback"}}[{RATE}]))'
                    f" / sum(rate({DECISIONS}{{{NS}}}[{RATE}]))",
                    "fallback share",
                ),
            ),
            "percentunit",
        ),
        Panel(
            "Requests per model through the proxy",
            "Every request the proxy answered, by the model that served it (routed requests count under "
            "their route's model; direct calls to an adapter too).",
            (Query(f"sum by (requested_model) (rate({REQUESTS}{{{NS}}}[{RATE}]))", "{{requested_model}}"),),
            "reqps",
        ),
    ),
    "Confidence": (
        Panel(
            "Winning score per route",
            "The median and 10th percentile of the best route's score (the sum of its nearest utterances' "
            "similarities); a falling score means the traffic drifts away from the utterances.",
            quantiles("semantic_router_decision_score", "route, ", (0.5, 0.1), "{{route}}"),
        ),
        Panel(
            "Margin to the runner-up per route",
            "How far the winning route was ahead of the next one (median, 10th percentile): small "
            "margins are close calls between two routes.",
            quantiles("semantic_router_decision_margin", "route, ", (0.5, 0.1), "{{route}}"),
        ),
        Panel(
            "Decision latency",
            "Time to decide a route, embedding included (alert RouterDecisionLatencyHigh on the p99).",
            quantiles("semantic_router_decision_seconds", "", (0.5, 0.99), "decision"),
            "s",
        ),
    ),
    "Shadow decisions (a candidate router beside the live one)": (
        Panel(
            "Agreement with the live router per candidate",
            "The share of routed requests for which the candidate would have chosen the same model as "
            "the live router (docs/shadow.md; alert RouterShadowDisagreeing).",
            (
                Query(
                    f'(sum by (candidate) (rate({SHADOW}{{{NS}, agree="yes"}}[{RATE}]))'
                    f" or sum by (candidate) (rate({SHADOW}{{{NS}}}[{RATE}])) * 0)"
                    f" / sum by (candidate) (rate({SHADOW}{{{NS}}}[{RATE}]))",
                    "{{candidate}}",
                ),
            ),
            "percentunit",
        ),
        Panel(
            "Live route against the candidate's over the time range",
            "How many requests each pair of (live route, candidate route) saw: the off-diagonal rows are "
            "what the candidate would change (none: no route, the base model).",
            (
                Query(
                    f"sum by (candidate, route, candidate_route) (increase({SHADOW}{{{NS}}}[$__range]))",
                    instant=True,
                ),
            ),
            kind="table",
        ),
        Panel(
            "Candidate decision time",
            "The candidate's time to decide, off the request's path (median, 99th percentile).",
            quantiles("semantic_router_shadow_decision_seconds", "candidate, ", (0.5, 0.99), "{{candidate}}"),
            "s",
        ),
        Panel(
            "Shadow work dropped",
            "Shadow decisions not made, by reason: busy (its queue was full: the proxy was busier), late "
            "(it waited too long), failed (the candidate raised; see the proxy log).",
            (
                Query(
                    "sum by (candidate, reason) "
                    f"(increase(semantic_router_shadow_dropped_total{{{NS}}}[{RATE}]))",
                    "{{candidate}} {{reason}}",
                ),
            ),
        ),
    ),
    "Failures": (
        Panel(
            "Fallbacks and an unreachable model server",
            "Routed requests the chosen adapter failed and LiteLLM's fallback answered, by adapter; and "
            "requests answered 503 because vLLM could not be reached.",
            (
                Query(
                    "sum by (model, answered_by) "
                    f"(increase(semantic_router_unavailable_total{{{NS}}}[{RATE}]))",
                    "{{model}} answered by {{answered_by}}",
                ),
                Query(
                    f"sum(increase(semantic_router_model_server_unavailable_total{{{NS}}}[{RATE}]))",
                    "model server unreachable (503)",
                ),
            ),
        ),
        Panel(
            "Routes reloads",
            "Reloads of the routes file by result, and whether a refused file is on disk now (1: the last "
            "good routes serve; alert RouterRoutesReloadFailing) or a refused candidate (1: no shadow "
            "decisions; the live routes are not affected).",
            (
                Query(
                    f"sum by (result) (increase(semantic_router_reloads_total{{{NS}}}[{RATE}]))", "{{result}}"
                ),
                Query(f"max(semantic_router_routes_file_rejected{{{NS}}})", "refused file on disk"),
                Query(f"max(semantic_router_candidate_rejected{{{NS}}})", "refused candidate"),
            ),
        ),
        Panel(
            "Proxy errors by status",
            "Requests the proxy answered with an error, by HTTP status (4xx: the client's request; "
            "5xx: ours, alert RouterProxyErrors).",
            (
                Query(
                    f'sum by (status_code) (rate({REQUESTS}{{{NS}, status_code!~"2.."}}[{RATE}]))',
                    "{{status_code}}",
                ),
            ),
            "reqps",
        ),
    ),
    "vLLM": (
        Panel(
            "Adapters running and waiting in vLLM (latest)",
            "The LoRA adapters in vLLM's running batch and queue at its last report. vLLM exports the "
            "sets of adapter names (vllm:lora_requests_info), not a count per adapter.",
            (
                Query(
                    f"vllm:lora_requests_info{{{NS}}} == on(instance) group_left() "
                    f"max by (instance) (vllm:lora_requests_info{{{NS}}})",
                    instant=True,
                ),
            ),
            kind="table",
        ),
        Panel(
            "Answers per adapter from vLLM",
            "Requests vLLM answered, per adapter and the base model, as the proxy counted them.",
            (
                Query(
                    "sum by (litellm_model_name) "
                    f"(rate(litellm_deployment_success_responses_total{{{NS}}}[{RATE}]))",
                    "{{litellm_model_name}}",
                ),
            ),
            "reqps",
        ),
        Panel(
            "Requests running and waiting in vLLM",
            "Requests in vLLM's running batch and in its queue, all adapters together.",
            (
                Query(f"sum(vllm:num_requests_running{{{NS}}})", "running"),
                Query(f"sum(vllm:num_requests_waiting{{{NS}}})", "waiting"),
            ),
        ),
        Panel(
            "KV-cache use",
            "The share of vLLM's KV cache in use: near 100% requests queue or get preempted.",
            (Query(f"max(vllm:kv_cache_usage_perc{{{NS}}})", "KV cache"),),
            "percentunit",
        ),
        Panel(
            "Time to first token",
            "How long people wait for the first token of an answer (median, 95th percentile).",
            quantiles("vllm:time_to_first_token_seconds", "", (0.5, 0.95), "first token"),
            "s",
        ),
    ),
}


# Every query reads the data source the dashboard's variable picks.
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")


def target(query: Query, ref: str) -> prometheus.Dataquery:
    built = prometheus.Dataquery().expr(query.expr).ref_id(ref).legend_format(query.legend or "__auto")
    return built.instant().format(PromQueryFormat.TABLE) if query.instant else built.range()


def panel(spec: Panel) -> timeseries.Panel | table.Panel:
    built: timeseries.Panel | table.Panel
    if spec.kind == "table":
        built = table.Panel()
    else:
        built = timeseries.Panel().draw_style(GraphDrawStyle.LINE).fill_opacity(10).line_width(1)
    built = built.title(spec.title).description(spec.description).unit(spec.unit).height(8).span(12)
    for index, query in enumerate(spec.queries):
        built = built.with_target(target(query, chr(ord("A") + index)))
    return built


def build() -> dict:
    board = (
        dashboard.Dashboard("Dynamic model router")
        .uid(UID)
        .tags(["dynamic-model-router", "vllm", "litellm"])
        .description(
            "Routing decisions, their confidence, fallbacks, the proxy's errors and vLLM's adapters."
        )
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            dashboard.QueryVariable("namespace")
            .label("Namespace")
            .datasource(DATASOURCE)
            .query(f"label_values({DECISIONS}, namespace)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        )
    )
    for row, panels in ROWS.items():
        board = board.with_row(dashboard.Row(row))
        for spec in panels:
            board = board.with_panel(panel(spec).datasource(DATASOURCE))
    return json.loads(json.dumps(board.build(), cls=JSONEncoder))


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv == ["--check"]:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is stale: run `make dashboard` and commit it", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
