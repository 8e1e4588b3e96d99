"""`make load`: a long load run against the stack `make up` started (reads .run/env).

Prints throughput, p50/p99 latency, errors, misrouted requests and the proxy's memory by third.
A benchmark, not a test: it asserts nothing; compare runs on the same machine.
Usage: python -m dmr_tools.bench.load_bench [TOTAL] [CONCURRENCY]
"""

from __future__ import annotations

import sys
from pathlib import Path

from dmr_tools.load import messages_with_expected_models, run_load
from dmr_tools.stack.run_dir import RunDir

RUN = RunDir(Path(".run"))


def main(total: int, concurrency: int) -> None:
    if not RUN.env_file.exists():
        sys.exit("the local stack is not running: run `make up` first")
    env = RUN.env()
    proxy = RUN.running("litellm")
    if proxy is None:
        sys.exit("the proxy is not running: run `make up` first")
    items = messages_with_expected_models(env["LITELLM_URL"], env["LITELLM_MASTER_KEY"])
    print(
        f"{total} chats at concurrency {concurrency}, three routes mixed, every 4th streamed ...", flush=True
    )
    run_load(env["LITELLM_URL"], env["LITELLM_MASTER_KEY"], items, 64, concurrency, proxy.pid)
    result = run_load(env["LITELLM_URL"], env["LITELLM_MASTER_KEY"], items, total, concurrency, proxy.pid)
    print(result.summary())
    for problem in (result.errors + result.misrouted)[:10]:
        print("  ", problem)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
