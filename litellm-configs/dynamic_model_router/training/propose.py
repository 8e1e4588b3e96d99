"""Utterances to add, from a reviewed file: the marked messages the routes send elsewhere.

    python -m dynamic_model_router.training.propose review.jsonl [--routes routes.yaml] \
        [--write-routes new.yaml]

Each labelled row whose conversation is one message, and that the routes now send to another
model than the one marked, is proposed as an utterance of the route that sends to the marked
model (the first such route in the file). Follow-up turns are not proposed: out of their
conversation they are no example of anything. Prints the proposal as YAML for review;
`--write-routes` writes a copy of the routes file with the utterances added (without its comments).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE, load_routes
from dynamic_model_router.training.labelled import read_labelled


def proposals(review: Path, routes: Path) -> dict[str, list[str]]:
    """{route name: messages to add as its utterances}."""
    config = load_routes(routes)
    decider = RouteDecider(config)
    route_of = {}
    for route in reversed(config.routes):
        route_of[route.model] = route.name
    found: dict[str, list[str]] = {}
    for item in read_labelled(review).items:
        if len(item.user_turns) != 1 or item.expected not in route_of:
            continue
        if decider.decide(item.messages).model != item.expected:
            text = item.user_turns[0].strip()
            if text not in found.setdefault(route_of[item.expected], []):
                found[route_of[item.expected]].append(text)
    return {name: texts for name, texts in found.items() if texts}


def propose(review: Path, routes: Path | None, write_routes: Path | None) -> str:
    routes = routes or DEFAULT_ROUTES_FILE
    found = proposals(review, routes)
    if not found:
        return f"# every marked message in {review} already reaches its model with {routes}"
    if write_routes is not None:
        data = yaml.safe_load(routes.read_text(encoding="utf-8"))
        for route in data["routes"]:
            route["utterances"] += found.get(route["name"], [])
        write_routes.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    count = sum(len(texts) for texts in found.values())
    head = f"# {count} utterances to add, from {review}: messages {routes} sends elsewhere than marked\n"
    return head + yaml.safe_dump(found, sort_keys=False, allow_unicode=True, width=1000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dynamic_model_router.training.propose", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("review", type=Path, help="a reviewed file (dynamic_model_router.training.ratings)")
    parser.add_argument("--routes", type=Path, help="the routes file (default: the project's)")
    parser.add_argument(
        "--write-routes", type=Path, help="write a copy of the routes with the utterances added"
    )
    args = parser.parse_args(argv)
    print(propose(args.review, args.routes, args.write_routes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
