"""The documentation a newcomer reads: README length, links that resolve, every page in the site.

The site itself is built with warnings as errors by `make docs` (called by `make test`).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_LINK = re.compile(r"\]\((?!https?://|mailto:)([^)#\s]+)")


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", ROOT / "MODEL_CARD.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_readme_is_at_most_300_lines() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines; move details to docs/"


def test_readme_says_it_is_not_a_diagnosis() -> None:
    assert "It does not make a diagnosis" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_relative_link_resolves() -> None:
    broken = [
        f"{md.relative_to(ROOT)}: {target}"
        for md in _markdown_files()
        for target in _LINK.findall(md.read_text(encoding="utf-8"))
        if not (md.parent / target).exists()
    ]
    assert not broken, "links to missing files:\n" + "\n".join(broken)


def test_every_docs_page_is_in_the_site_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:", 1)[1]
    listed = set(re.findall(r":\s*(\S+\.md)\s*$", nav, flags=re.MULTILINE))
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert pages - listed == set(), f"docs pages missing from mkdocs.yml nav: {sorted(pages - listed)}"
    published = {"index.md", "model-card.md"}  # README.md and MODEL_CARD.md, added by mkdocs_hooks.py
    assert listed - pages - published == set(), f"nav names missing pages: {sorted(listed - pages - published)}"
