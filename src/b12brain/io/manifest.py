"""The manifest of a result folder: which files b12brain wrote there, with their checksums.

``b12brain-manifest.json`` is written last into every result folder. It is how b12brain tells
its own folder (which ``--overwrite`` may replace) from anything else (which it never deletes).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from b12brain import __version__

MANIFEST_NAME = "b12brain-manifest.json"
MANIFEST_SCHEMA_VERSION = "1.0"


def sha256_of_file(path: Path | str) -> str:
    """SHA-256 (hex) of one file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path | str) -> str:
    """SHA-256 of a file; for a folder (e.g. a DICOM series), the SHA-256 of its manifest.

    The manifest lists ``<sha256>  <relative path>`` per file, sorted by path (as
    ``sha256sum`` prints it), so different folders never share a checksum.
    """
    path = Path(path)
    if not path.is_dir():
        return sha256_of_file(path)
    lines = [f"{sha256_of_file(f)}  {f.relative_to(path).as_posix()}\n" for f in sorted(path.rglob("*")) if f.is_file()]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def write_manifest(folder: Path, *, command: str | None = None, skip: frozenset[str] = frozenset()) -> Path:
    """List every file under ``folder`` (but ``skip``) in ``folder/b12brain-manifest.json``.

    Each file is flushed to disk as it is hashed, so the manifest never vouches for data that
    is still only in memory.
    """
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in skip | {MANIFEST_NAME}):
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
        files.append({"path": path.relative_to(folder).as_posix(), "bytes": path.stat().st_size,
                      "sha256": sha256_of_file(path)})
    document: dict[str, Any] = {
        "tool": "b12brain",
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "version": __version__,
        "command": command,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": files,
    }
    manifest = folder / MANIFEST_NAME
    with manifest.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(document, indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return manifest


def manifest_problem(folder: Path, *, allow_missing: bool = False) -> str | None:
    """Why ``folder`` is not an unchanged b12brain result, or None when it is.

    It is one when its manifest is readable, every listed file still has its size and SHA-256,
    and the folder holds nothing else. ``allow_missing`` accepts listed files that are gone
    (a result that b12brain was removing when it was killed).
    """
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file() or manifest.is_symlink():
        return f"has no {MANIFEST_NAME}, so b12brain cannot tell that it wrote it"
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
        listed = {entry["path"]: entry for entry in document["files"]}
        ours = document["tool"] == "b12brain"
    except (OSError, ValueError, KeyError, TypeError):
        return f"{MANIFEST_NAME} is not a readable b12brain manifest"
    if not ours:
        return f"{MANIFEST_NAME} was not written by b12brain"
    found: dict[str, Path] = {}
    for root, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = Path(root) / name
            relative = path.relative_to(folder).as_posix()
            if relative == MANIFEST_NAME:
                continue
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                return f"{relative} is not a plain file that b12brain wrote"
            if path.is_dir() and not any(key.startswith(f"{relative}/") for key in listed):
                return f"holds the folder {relative}, which b12brain did not make"
            if path.is_file():
                if relative not in listed:
                    return f"holds {relative}, which b12brain did not write"
                found[relative] = path
    for relative, entry in listed.items():
        written = found.get(relative)
        if written is None:
            if allow_missing:
                continue
            return f"{relative} (listed in {MANIFEST_NAME}) is missing"
        if written.stat().st_size != entry.get("bytes") or sha256_of_file(written) != entry.get("sha256"):
            return f"{relative} was changed after b12brain wrote it"
    return None
