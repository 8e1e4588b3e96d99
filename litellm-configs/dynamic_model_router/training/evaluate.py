"""Measure a routes file on labelled data, with the same router the hook uses.

    python -m dynamic_model_router.training.evaluate DATA.jsonl [--routes routes.yaml] [--png report.png]
                         [--fit platt|isotonic] [--write-routes fitted.yaml]
    python -m dynamic_model_router.training.evaluate DATA.jsonl... --compare routes-a.yaml routes-b.yaml...

Each line of DATA.jsonl is {"text": ..., "route": MODEL} or {"messages": [...], "route": MODEL},
where MODEL is the model the request should reach (e.g. doctor, dcot, phi2). Prints accuracy,
per-model precision/recall, the confusion matrix, the misrouted items and a per-route
threshold sweep; --write-routes saves a copy of the routes file with the swept thresholds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.decide.decision import Decision
from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE, RoutesConfig, load_routes
from dynamic_model_router.training.labelled import Item, read_labelled


@dataclass
class Report:
    config: RoutesConfig
    items: list[Item]
    decisions: list[Decision]

    @property
    def models(self) -> list[str]:
        return sorted({i.expected for i in self.items} | {d.model for d in self.decisions})

    @property
    def accuracy(self) -> float:
        return sum(self._correct()) / len(self.items)

    def _correct(self) -> list[bool]:
        return [d.model == i.expected for i, d in zip(self.items, self.decisions, strict=True)]

    def precision_recall(self, model: str) -> tuple[float, float]:
        confusion = self.confusion()
        routed = sum(v for (_, got), v in confusion.items() if got == model)
        expected = sum(v for (want, _), v in confusion.items() if want == model)
        hit = confusion[(model, model)]
        return (hit / routed if routed else 0.0), (hit / expected if expected else 0.0)

    def part(self, keep: list[bool]) -> Report:
        pairs = [(i, d) for i, d, k in zip(self.items, self.decisions, keep, strict=True) if k]
        return Report(self.config, [i for i, _ in pairs], [d for _, d in pairs])

    def confusion(self) -> Counter[tuple[str, str]]:
        return Counter((i.expected, d.model) for i, d in zip(self.items, self.decisions, strict=True))

    def text(self, show_misrouted: int) -> str:
        confusion = self.confusion()
        models = self.models
        right = sum(self._correct())
        lines = [
            f"accuracy: {self.accuracy:.3f} ({right}/{len(self.items)})",
            "",
            "model      precision  recall   n",
        ]
        for m in models:
            precision, recall = self.precision_recall(m)
            expected = sum(v for (want, _), v in confusion.items() if want == m)
            lines.append(f"{m:<10} {precision:9.3f} {recall:7.3f} {expected:4d}")
        lines += [
            "",
            "confusion (rows: expected, columns: routed to)",
            " " * 10 + "".join(f"{m:>8}" for m in models),
        ]
        lines += [
            f"{want:<10}" + "".join(f"{confusion[(want, got)]:8d}" for got in models) for want in models
        ]
        missed = [(i, d) for i, d in zip(self.items, self.decisions, strict=True) if d.model != i.expected]
        lines += ["", f"misrouted ({len(missed)}):"]
        for item, d in missed[:show_misrouted]:
            score = "-" if d.score is None else f"{d.score:.2f}"
            text = " ".join(item.text.split())[:110]
            lines.append(f"  {item.expected} -> {d.model} ({d.reason}, {score}): {text}")
        return "\n".join(lines)


def table(reports: dict[str, Report]) -> str:
    """One markdown row per data set: items, accuracy, and each model's precision / recall."""
    models = sorted({m for r in reports.values() for m in r.models})
    head = ["set", "items", "accuracy", *(f"{m} P / R" for m in models)]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, report in reports.items():
        cells = [name, str(len(report.items)), f"{report.accuracy:.3f}"]
        for m in models:
            expected = any(i.expected == m for i in report.items)
            precision, recall = report.precision_recall(m)
            cells.append(f"{precision:.3f} / {recall:.3f}" if expected else "-")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def by_source(name: str, report: Report) -> dict[str, Report]:
    """The report split by the repository its items came from (`owner/name:path`; none: no split)."""

    def repository(item: Item) -> str | None:
        return item.source.split(":")[0] if item.source else None

    sources = sorted({r for i in report.items if (r := repository(i))})
    return {f"{name}: {s}": report.part([repository(i) == s for i in report.items]) for s in sources}


def evaluate(decider: RouteDecider, items: list[Item]) -> Report:
    return Report(decider.config, items, [decider.decide(i.messages) for i in items])


def compare(routes_files: list[Path], data: list[Path]) -> str:
    """One markdown row per routes file (each names its encoder): accuracy on every data set,
    the median decision time and the encoder's model file size."""
    from dynamic_model_router.encoding.encoder import MODEL_FILE, model_dir

    head = ["routes", "encoder", "model MB", *(p.name for p in data), "decision ms, median / p99"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for routes_file in routes_files:
        config = load_routes(routes_file)
        decider = RouteDecider(config)
        reports = [evaluate(decider, read_labelled(p).items) for p in data]
        latencies = sorted(d.latency_ms for r in reports for d in r.decisions)
        latency = f"{statistics.median(latencies):.1f} / {latencies[int(0.99 * (len(latencies) - 1))]:.1f}"
        folder, _ = model_dir(config.encoder)
        size = (folder / MODEL_FILE).stat().st_size / 1e6
        encoder = config.encoder.model + (
            f" ({config.encoder.path})" if config.encoder.path else " (shipped)"
        )
        cells = [routes_file.name, encoder, f"{size:.0f}", *(f"{r.accuracy:.3f}" for r in reports)]
        rows.append("| " + " | ".join([*cells, latency]) + " |")
    return "\n".join(rows)


def sweep_thresholds(report: Report) -> dict[str, float]:
    """Per route, the threshold in the middle of the best-accuracy plateau (single-turn items).

    A route's decisions only change where its winning score crosses its threshold, so the
    sweep re-labels the recorded decisions instead of embedding again.
    """
    config = report.config
    model_of = {r.name: r.model for r in config.routes}
    # Single-turn items with the router's best route, whether or not it cleared its threshold.
    best = [
        (i.expected, d.route, d.score)
        for i, d in zip(report.items, report.decisions, strict=True)
        if len(i.messages) == 1 and d.route is not None and d.score is not None
    ]
    fitted: dict[str, float] = {}
    for route in config.routes:
        scores = sorted({s for _, r, s in best if r == route.name})
        candidates = [0.0] + [(a + b) / 2 for a, b in zip(scores, scores[1:], strict=False)]

        def accuracy(t: float, route_name: str = route.name) -> int:
            return sum(
                (model_of[r] if (s >= t if r == route_name else True) else config.default_model) == want
                for want, r, s in best
            )

        if not candidates:
            continue
        top = max(accuracy(t) for t in candidates)
        plateau = [t for t in candidates if accuracy(t) == top]
        fitted[route.name] = round(plateau[len(plateau) // 2], 3)
    return fitted


def write_routes(source: Path, target: Path, thresholds: dict[str, float]) -> None:
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    for route in data["routes"]:
        if route["name"] in thresholds:
            route["threshold"] = thresholds[route["name"]]
    target.write_text(
        f"# Written by dynamic_model_router.training.evaluate from {source.name}: "
        "thresholds swept on labelled data.\n"
        + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120),
        encoding="utf-8",
    )


def plot(report: Report, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise SystemExit(f"--png needs matplotlib (pip install matplotlib): {e}") from e
    models = report.models
    confusion = report.confusion()
    grid = [[confusion[(want, got)] for got in models] for want in models]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    left.imshow(grid, cmap="Blues")
    left.set_xticks(range(len(models)), models)
    left.set_yticks(range(len(models)), models)
    left.set_xlabel("routed to")
    left.set_ylabel("expected")
    left.set_title(f"confusion matrix, accuracy {report.accuracy:.3f} (n={len(report.items)})")
    peak = max(max(row) for row in grid)
    for y, row in enumerate(grid):
        for x, value in enumerate(row):
            left.text(
                x, y, str(value), ha="center", va="center", color="white" if value > peak / 2 else "black"
            )
    for expected in models:
        scores = [
            d.score
            for i, d in zip(report.items, report.decisions, strict=True)
            if i.expected == expected and d.score is not None
        ]
        if scores:
            right.hist(scores, bins=30, alpha=0.5, label=f"expected {expected}")
    right.axvline(report.config.threshold, color="black", linestyle="--", label="threshold")
    right.set_xlabel(f"winning route score ({report.config.aggregation} of top {report.config.top_k})")
    right.set_ylabel("items")
    right.set_title("score distributions")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dynamic_model_router.training.evaluate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("data", type=Path, nargs="+", help="labelled JSONL file(s)")
    parser.add_argument("--routes", type=Path, default=DEFAULT_ROUTES_FILE, help="routes file to evaluate")
    parser.add_argument("--png", type=Path, help="write a confusion matrix and score distributions here")
    parser.add_argument("--show-misrouted", type=int, default=50, help="how many misrouted items to list")
    parser.add_argument(
        "--fit", choices=["platt", "isotonic"], help="also calibrate with semantic-router fit()"
    )
    parser.add_argument("--write-routes", type=Path, help="save the routes with swept per-route thresholds")
    parser.add_argument(
        "--compare",
        type=Path,
        nargs="+",
        metavar="ROUTES",
        help="only print one table comparing these routes files (say, one per encoder) on the data",
    )
    args = parser.parse_args(argv)
    if args.compare:
        print(compare(args.compare, args.data))
        return 0

    config = load_routes(args.routes)
    decider = RouteDecider(config)
    reports: dict[str, Report] = {}
    for path in args.data:
        labelled = read_labelled(path)
        items = labelled.items
        report = evaluate(decider, items)
        reports[path.name] = report
        waiting = f"; {labelled.unlabelled} rows not marked yet, left out" if labelled.unlabelled else ""
        print(f"== {path} with {args.routes} ({len(items)} items{waiting})")
        print(report.text(args.show_misrouted))
        if args.png:
            png = args.png if len(args.data) == 1 else args.png.with_stem(f"{args.png.stem}-{path.stem}")
            plot(report, png)
            print(f"\nwrote {png}")
    split = {n: r for name, report in reports.items() for n, r in by_source(name, report).items()}
    print(f"\n{table({**reports, **split})}")
    # Sweeping and fitting use the first data set: fit on one set, measure on another.
    items = read_labelled(args.data[0]).items
    # With every threshold at zero each decision names the best route and its score.
    unthresholded = config.model_copy(
        update={
            "threshold": 0.0,
            "routes": tuple(r.model_copy(update={"threshold": 0.0}) for r in config.routes),
        }
    )
    fitted = sweep_thresholds(
        Report(config, items, evaluate(RouteDecider(unthresholded, decider.encoder), items).decisions)
    )
    print(f"\nper-route thresholds that maximise accuracy on {args.data[0]}: {fitted}")
    if args.fit:
        by_model = {r.model: r.name for r in config.routes}
        single = [i for i in items if len(i.messages) == 1]
        fit = decider.router.fit(
            [i.text for i in single], [by_model.get(i.expected) for i in single], args.fit
        )
        print(f"calibration ({fit.method}, n={fit.n}): top-1 accuracy {fit.accuracy:.3f}, ECE {fit.ece:.3f}")
    if args.write_routes:
        write_routes(args.routes, args.write_routes, fitted)
        print(f"wrote {args.write_routes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
