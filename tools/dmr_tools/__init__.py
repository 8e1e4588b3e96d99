"""The developers' tools, apart from the product and its tests: the local stack that `make up` runs
(stack/), the generators of the chart's README tables, values schema and Grafana dashboard
(generate/), the benchmarks (bench/), and what they share with the tests (paths, the process
supervisor, the real helm, the load runner). Installed into .venv by `make setup` (tools/pyproject.toml);
the tests import it like any package, and the LiteLLM image never carries it."""
