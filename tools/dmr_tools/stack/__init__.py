"""The local stack `make up` runs and the end-to-end tests drive: the chart's rendering, run as processes."""
