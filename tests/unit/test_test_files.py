"""The test suite's own layout: pytest imports test modules by their file name (the folders have
no __init__.py), so two test files of the same name stop the whole run at collection."""

from __future__ import annotations

from collections import Counter

from dmr_tools.paths import TESTS


def test_every_test_module_has_a_file_name_of_its_own():
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    shared = sorted(name for name, count in names.items() if count > 1)
    assert not shared, f"test modules share a file name, pytest would stop at collection: {shared}"
