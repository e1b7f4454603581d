"""Output folders: created with their parents, published whole, refused when in use."""

from __future__ import annotations

from pathlib import Path

import pytest

from b12brain.errors import OutputError
from b12brain.io.outdir import check_output_dir, staged_output_dir


def test_missing_parents_are_created_only_on_publishing(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "result"
    check_output_dir(out)
    assert not (tmp_path / "a").exists()  # checking creates nothing
    with staged_output_dir(out) as stage:
        (stage / "x.txt").write_text("1")
    assert (out / "x.txt").read_text() == "1"
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["result"]


def test_failure_leaves_no_staging_folder(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), staged_output_dir(tmp_path / "res") as stage:
        (stage / "half.txt").write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_path_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_dir(tmp_path / "file" / "sub" / "out")


def test_overwrite_replaces_only_a_previous_result(tmp_path: Path) -> None:
    out = tmp_path / "res"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty"):
        check_output_dir(out)
    with pytest.raises(OutputError, match="did not write"):
        check_output_dir(out, overwrite=True)
    (out / "notes.txt").unlink()
    (out / "summary.json").write_text("{}")
    with staged_output_dir(out, overwrite=True) as stage:
        (stage / "summary.json").write_text('{"new": 1}')
    assert (out / "summary.json").read_text() == '{"new": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["res"]
