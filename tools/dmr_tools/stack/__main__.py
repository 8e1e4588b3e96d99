"""python -m dmr_tools.stack up|down|status|decisions: the local stack (`make up`, `make down`, ...)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from .console import StackError
from .launcher import PORT_VARIABLES, down, follow_decisions, status, up
from .rendering import Settings, model_dir
from .run_dir import COMPONENTS, OPTIONAL

DEFAULT_PORTS = {"vllm": 8000, "litellm": 4000, "open-webui": 8080, "prometheus": 9090}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m dmr_tools.stack", description=__doc__)
    parser.add_argument("--run-dir", type=Path, default=Path(".run"), help="logs, process records, secrets")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start (or complete) the stack and print how to use it")
    for name in (*COMPONENTS, *OPTIONAL):
        start.add_argument(
            f"--{name}-port", type=int, default=DEFAULT_PORTS[name], help=f"make's {PORT_VARIABLES[name]}"
        )
    model = commands.add_parser("model", help="print the model folder `up` serves (making it if need be)")
    for command in (start, model):
        command.add_argument("--model-dir", type=Path, help="base model folder (default: SmolLM2, made here)")
        command.add_argument("--values", type=Path, action="append", default=[], help="more values files")
    start.add_argument("--adapters-dir", type=Path, help="folder with one sub-folder per adapter")
    start.add_argument(
        "--prometheus", action="store_true", help="also run the chart's monitoring (make's PROMETHEUS=1)"
    )
    commands.add_parser("down", help="stop what `up` started")
    commands.add_parser("status", help="which components run; exit 1 unless all do")
    commands.add_parser("decisions", help="follow the routing decisions in the proxy log")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            ports = {
                name: getattr(args, f"{name.replace('-', '_')}_port") for name in (*COMPONENTS, *OPTIONAL)
            }
            up(
                Settings(
                    args.run_dir,
                    ports,
                    args.model_dir,
                    args.adapters_dir,
                    tuple(args.values),
                    args.prometheus,
                )
            )
        elif args.command == "model":
            # Progress to stderr: stdout is only the folder, for `$(python -m dmr_tools.stack model)`.
            with contextlib.redirect_stdout(sys.stderr):
                folder = model_dir(Settings(args.run_dir, {}, args.model_dir, values=tuple(args.values)))
            print(folder)
        elif args.command == "down":
            down(args.run_dir)
        elif args.command == "status":
            return 0 if status(args.run_dir) else 1
        else:
            follow_decisions(args.run_dir)
    except StackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
