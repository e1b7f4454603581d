"""``resolve_scans``: from --flair/--study/--t1 to the paths a run reads, and back in messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from b12brain.errors import ConfigError, InputFileError
from b12brain.io import load_volume
from b12brain.study import resolve_scans


def test_nifti_and_single_series_folders_are_read_in_place(tmp_path: Path, corpus, builders) -> None:  # type: ignore[no-untyped-def]
    nifti = builders.write_nifti(tmp_path, builders.make_blob())
    series = corpus.write_series(tmp_path / "s3", corpus.small_volume(), corpus.SeriesSpec(3, "Ax T1 SE", "GE"))
    with resolve_scans(flair=nifti, t1=series) as scans:
        assert (scans.flair, scans.t1, scans.choices) == (nifti, series, ())


@pytest.mark.parametrize(("options", "problem"), [
    ({}, "give exactly one of --flair PATH and --study PATH"),
    ({"study": "x", "t1": "y"}, "--t1 goes with --flair"),
    ({"study": "x", "no_t1": True, "t1_series": "3"}, "--no-t1 cannot go with --t1 or --t1-series"),
    ({"flair": "x", "t1_series": "3"}, "--t1-series chooses a series in --study or --t1"),
])
def test_options_that_do_not_go_together(options: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        with resolve_scans(**options):  # type: ignore[arg-type]
            pass


def test_reader_errors_name_the_input_and_the_series_not_the_links(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    study = tmp_path / "study"
    corpus.write_series(study / "a", corpus.small_volume(12), corpus.SeriesSpec(3, "Ax T2 FLAIR", "GE"), skip=(6,))
    corpus.write_series(study / "b", corpus.small_volume(), corpus.SeriesSpec(4, "Ax T1 SE", "GE", tr=500, te=10))
    with pytest.raises(InputFileError) as info:
        with resolve_scans(study=study) as scans:
            assert [c.series.number for c in scans.choices] == [3, 4]
            assert scans.name("flair") == f"{study} (series 3 'Ax T2 FLAIR')"
            load_volume(scans.flair)
    assert info.value.path == f"{study} (series 3 'Ax T2 FLAIR')"
    assert "1 missing slice" in info.value.problem
    assert not scans.flair.exists()


def test_t1_series_and_no_t1(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    study = tmp_path / "study"
    corpus.write_series(study / "a", corpus.small_volume(), corpus.SeriesSpec(3, "Ax T2 FLAIR", "GE"))
    corpus.write_series(study / "b", corpus.small_volume(), corpus.SeriesSpec(4, "Ax T2 FSE", "GE", tr=4000, te=100))
    with resolve_scans(study=study) as scans:
        assert scans.t1 is None and scans.notes == (f"no T1 series found in {study}; the run goes on without a T1",)
    with resolve_scans(study=study, t1_series="4") as scans:
        assert scans.choices[1].why == "chosen with --t1-series 4" and scans.t1 is not None
    with resolve_scans(study=study, no_t1=True) as scans:
        assert scans.t1 is None and scans.notes == ()
    with pytest.raises(ConfigError, match="the same series .* as the FLAIR and as the T1"):
        with resolve_scans(study=study, t1_series="3"):
            pass
