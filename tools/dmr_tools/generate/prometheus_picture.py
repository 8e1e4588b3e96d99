"""Photograph dashboard panels' live data on Prometheus' own graph page, in headless Chromium.

    make up PROMETHEUS=1   (then send some chats)
    .venv/bin/python -m dmr_tools.generate.prometheus_picture [OUT.png]

Takes PROMETHEUS_URL from .run/env and graphs some of chart/files/dashboard.json's queries over
the last 15 minutes (default OUT: images/monitoring-live.png, the picture docs/monitoring.md shows).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

from dmr_tools.paths import CHROMIUM, DASHBOARD, ROOT
from dmr_tools.stack.rendering import NAMESPACE
from dmr_tools.stack.run_dir import RunDir

PANELS = (
    "Decisions per route",
    "Decisions by reason",
    "Winning score per route",
    "Margin to the runner-up per route",
    "Routes reloads",
    "Time to first token",
)
VARIABLES = {"$namespace": NAMESPACE, "$__rate_interval": "1m", "$__range": "15m"}


def graph_url(prometheus: str) -> str:
    panels = {p["title"]: p for p in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]}
    params: dict[str, str] = {}
    for index, title in enumerate(PANELS):
        expr = panels[title]["targets"][0]["expr"]
        for variable, value in VARIABLES.items():
            expr = expr.replace(variable, value)
        params |= {f"g{index}.expr": expr, f"g{index}.tab": "0", f"g{index}.range_input": "15m"}
    return f"{prometheus}/graph?{urlencode(params)}"


def main(out: Path) -> None:
    prometheus = RunDir(ROOT / ".run").env()["PROMETHEUS_URL"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(graph_url(prometheus))
        page.wait_for_selector(".graph_area svg", timeout=30_000)
        page.wait_for_timeout(3000)
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "images" / "monitoring-live.png")
