"""Read the series selectors out of a PromQL expression, and ask a Prometheus about them.

Enough PromQL for the chart's alerts and dashboard: metric names with their label matchers, past
functions, aggregations (`sum by (le) (...)`), vector matching (`on() group_left()`), ranges,
offsets, numbers and strings. A check that each selector returns series catches a misspelt metric,
label or label value that a whole expression (`... > 0`, empty when healthy) would hide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"'  # a string
    r"|\[[^\]]*\]"  # a range or subquery
    r"|\d+(?:\.\d+)?[a-zA-Z]*"  # a number or a duration
    r"|[A-Za-z_:][A-Za-z0-9_:]*"  # a name
    r"|=~|!~|!=|==|>=|<=|\S"
)
# Keywords followed by a parenthesised label list, and the other words that are no metric.
LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
WORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[Matcher, ...]

    def promql(self, matchers: tuple[Matcher, ...] | None = None) -> str:
        inner = ", ".join(
            f'{m.label}{m.op}"{m.value}"' for m in (self.matchers if matchers is None else matchers)
        )
        return f"{self.metric}{{{inner}}}"


def selectors(expr: str) -> list[Selector]:
    tokens = TOKEN.findall(expr)
    found: list[Selector] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token in LABEL_LISTS and following == "(":
            i = tokens.index(")", i) + 1
            continue
        # A name before "(" is a function; before "by"/"without", an aggregation.
        is_call = following == "(" or following in ("by", "without")
        if re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", token) and token.lower() not in WORDS and not is_call:
            matchers: tuple[Matcher, ...] = ()
            if following == "{":
                end = tokens.index("}", i)
                matchers = tuple(Matcher(*m) for m in MATCHER.findall(" ".join(tokens[i + 2 : end])))
                i = end
            found.append(Selector(token, matchers))
        i += 1
    return found


class Prometheus:
    def __init__(self, url: str):
        self.url = url

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector an expression returns now; an error in the expression fails."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=30)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", f"{expr}: {body}"
        return body["data"]["result"]

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", timeout=30)
        response.raise_for_status()
        return response.json()["data"]
