"""MkDocs hooks: publish README.md and MODEL_CARD.md (kept at the repository root, where GitHub
and PyPI show them) as the site's home page and model card, with their links rewritten.

The Markdown files link to each other as they lie in the repository (``docs/speed.md`` from
the README, ``../MODEL_CARD.md`` from a docs page); on the site every page lies flat, so those
links are rewritten to the pages' site paths. Nothing is written into the repository.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

_ROOT = Path(__file__).parent
# repository file -> its page on the site
_PUBLISHED = {"README.md": "index.md", "MODEL_CARD.md": "model-card.md"}
_LINK = re.compile(r"\]\((?!https?://)([^)#\s]+)")


def on_files(files: Files, config: Any) -> Files:
    for source, page in _PUBLISHED.items():
        files.append(File.generated(config, page, abs_src_path=str(_ROOT / source)))
    return files


def _site_path(target: str, page_dir: str) -> str:
    """The site path of a link `target` written in a file lying in repository folder `page_dir`."""
    repo_path = (Path(page_dir) / target).as_posix()
    parts: list[str] = []
    for part in repo_path.split("/"):
        if part == "..":
            parts.pop() if parts else None
        elif part not in ("", "."):
            parts.append(part)
    repo_path = "/".join(parts)
    if repo_path in _PUBLISHED:
        return _PUBLISHED[repo_path]
    if repo_path.startswith("docs/"):
        return repo_path.removeprefix("docs/")
    return target


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    src = page.file.src_uri
    page_dir = "" if src in _PUBLISHED.values() else str(Path("docs") / Path(src).parent)
    return _LINK.sub(lambda m: "](" + _site_path(m.group(1), page_dir), markdown)
