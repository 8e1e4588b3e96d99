"""The README and the docs hold together: every relative link leads to a file that exists, and
every heading a link names exists in that file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dmr_tools.paths import ROOT

DOCS = [ROOT / "README.md", ROOT / "chart" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_relative_link_leads_to_an_existing_file_and_heading(doc: Path):
    broken = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+://", target):
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        if not path.exists() or anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(target)
    assert not broken, f"{doc.relative_to(ROOT)} links to what does not exist: {broken}"


# A path of the repository inside `code` (a placeholder such as test_chart_<component>.py is left out).
PATH_IN_CODE = re.compile(
    r"`[^`\n]*?\b((?:litellm-configs|tools|tests|chart|images|docs)/[\w./-]*[\w/])(?![\w<{*])"
)
MAKE_TARGET = re.compile(r"`make ([a-z][a-z-]*)")
HELP_LINE = re.compile(r"^([a-z][a-z-]*):[^\n]*## \S", re.M)


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_file_of_the_repository_the_docs_name_exists(doc: Path):
    named = set(PATH_IN_CODE.findall(doc.read_text(encoding="utf-8")))
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"{doc.relative_to(ROOT)} names files that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_make_target_the_docs_name_exists_with_a_help_line(doc: Path):
    targets = set(HELP_LINE.findall((ROOT / "Makefile").read_text(encoding="utf-8")))
    unknown = sorted(set(MAKE_TARGET.findall(doc.read_text(encoding="utf-8"))) - targets)
    assert not unknown, f"{doc.relative_to(ROOT)} names make targets `make help` does not list: {unknown}"


def test_make_help_lists_every_phony_target():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    phony = set(re.search(r"^\.PHONY: (.+)$", makefile, re.M).group(1).split())
    missing = sorted(phony - set(HELP_LINE.findall(makefile)))
    assert not missing, f"targets without a `## ` help line (make help): {missing}"
