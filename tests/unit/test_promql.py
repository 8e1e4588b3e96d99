"""The PromQL reading the live monitoring check relies on: every series selector, nothing else."""

from __future__ import annotations

import pytest

from support.promql import selectors


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('sum by (route, le) (rate(a_bucket{ns="x"}[5m]))', ['a_bucket{ns="x"}']),
        ("histogram_quantile(0.99, sum by (le) (rate(b[10m]))) > 0.25", ["b{}"]),
        ('x{a=~"5..", b!="c"} / on() group_left() max by (i) (vllm:y)', ['x{a=~"5..", b!="c"}', "vllm:y{}"]),
        (
            "abs(sum(increase(d[30m])) - sum(increase(d[1d] offset 30m))) > 0.25 and on() e >= 50",
            ["d{}", "d{}", "e{}"],
        ),
        ('count without (pod) (up{job="ns/name"}) or absent(up{job="ns/name"})', ['up{job="ns/name"}'] * 2),
        ("f unless on() sum(g) > 0 or h == bool 1", ["f{}", "g{}", "h{}"]),
    ],
)
def test_selectors_are_the_metrics_with_their_matchers_and_nothing_else(expr: str, expected: list[str]):
    assert [s.promql() for s in selectors(expr)] == expected, f"selectors of {expr}"
