"""Benchmarks, run alone on a quiet machine (`make bench`, `make load`): numbers come from here,
never from timed assertions in tests."""
