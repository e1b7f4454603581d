"""Choosing the FLAIR and the T1 of a study (rules: docs/series-selection.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from b12brain.errors import InputFileError
from b12brain.study import choose_series, one_study, open_study


def test_cd_gives_the_3d_flair_and_the_3d_t1(patient_cd: Path) -> None:
    with open_study(patient_cd) as index:
        series = one_study(index)
        flair = choose_series(index.path, series, "flair")
        t1 = choose_series(index.path, series, "t1")
    assert flair is not None and t1 is not None
    assert (flair.series.number, t1.series.number) == (6, 8)
    assert flair.why.startswith("looks like a FLAIR: description '3D_Brain_VIEW_FLAIR' names FLAIR")
    assert "3D, 6 mm slices; preferred to series 5 'Ax T2 FLAIR', series 4 't2_tirm_tra_dark-fluid'" in flair.why
    # The reformatted 3D FLAIR (series 7) is never a candidate.
    assert "Sag CUBE FLAIR" not in flair.why
    # The BRAVO is as good (3D, same slices) but earlier; the reformatted TFE is never a candidate.
    assert t1.why.endswith("preferred to series 12 'Ax BRAVO', series 9 'Ax T1 SE' (3D first, then thinnest slices, "
                           "then latest)")


def _study(tmp_path: Path, corpus, specs, **options) -> Path:  # type: ignore[no-untyped-def]
    for spec, volume in specs:
        corpus.write_series(tmp_path / "study" / f"s{spec.number}", volume, spec, **options)
    return tmp_path / "study"


def test_thinnest_then_latest(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    spec, small = corpus.SeriesSpec, corpus.small_volume
    study = _study(tmp_path, corpus, [
        (spec(3, "Ax T2 FLAIR", "GE", time="090000"), small(10, 5.0)),
        (spec(4, "Ax T2 FLAIR", "GE", time="091000"), small(10, 3.0)),
        (spec(5, "Ax T2 FLAIR repeat", "GE", time="092000"), small(10, 3.0)),
    ])
    with open_study(study) as index:
        choice = choose_series(index.path, index.series, "flair")
    assert choice is not None and choice.series.number == 5


def test_two_equally_good_flairs_are_ambiguous(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    spec, small = corpus.SeriesSpec, corpus.small_volume
    study = _study(tmp_path, corpus, [
        (spec(3, "Ax T2 FLAIR", "GE"), small(10, 5.0)),
        (spec(4, "t2_tirm_tra_dark-fluid", "SIEMENS"), small(10, 5.0)),
    ])
    with open_study(study) as index:
        with pytest.raises(InputFileError) as info:
            choose_series(index.path, index.series, "flair")
        lines = str(info.value).splitlines()
        assert lines[0] == f"{study}: 2 series are equally good as the FLAIR (same acquisition, slice thickness and time):"
        assert lines[1].startswith("  3  'Ax T2 FLAIR'  2D, 5 mm slices, 10 slices, 2024-03-12 10:00:00  UID ")
        assert lines[2].startswith("  4  't2_tirm_tra_dark-fluid'")
        assert lines[3] == "choose one with --flair-series NUMBER (or its UID)"
        by_number = choose_series(index.path, index.series, "flair", pick="4")
        by_uid = choose_series(index.path, index.series, "flair", pick=index.series[0].uid)
        assert by_number is not None and by_number.series.number == 4 and by_number.why == "chosen with --flair-series 4"
        assert by_uid is not None and by_uid.series.number == 3
        with pytest.raises(InputFileError, match=r"holds no series numbered or with the UID '12' \(--flair-series\)"):
            choose_series(index.path, index.series, "flair", pick="12")


def test_no_flair_and_optional_t1(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    spec, small = corpus.SeriesSpec, corpus.small_volume
    study = _study(tmp_path, corpus, [
        (spec(1, "3-Plane Loc", "GE"), small(3)),
        (spec(2, "Ax T2 FSE", "GE", tr=4000, te=100), small(10)),
        (spec(3, "Ax DWI", "GE", scanning="EP", volumes=2), small(10)),
    ])
    with open_study(study) as index:
        with pytest.raises(InputFileError, match=r"none of its 3 series looks like a FLAIR from its metadata; "
                           r"`b12brain series .*study` lists them: choose one with --flair-series NUMBER"):
            choose_series(index.path, index.series, "flair")
        assert choose_series(index.path, index.series, "t1", required=False) is None


def test_two_patients_in_one_folder_are_refused_unless_one_study_is_chosen(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    spec, small = corpus.SeriesSpec, corpus.small_volume
    corpus.write_series(tmp_path / "in" / "a", small(), spec(3, "Ax T2 FLAIR", "GE"))
    corpus.write_series(tmp_path / "in" / "b", small(), spec(3, "Ax T2 FLAIR", "GE"), study_uid="2.25.777",
                        patient="ROE^RICHARD", patient_id="PID0002")
    with open_study(tmp_path / "in") as index:
        with pytest.raises(InputFileError) as info:
            one_study(index)
        message = str(info.value)
        assert message.splitlines()[0] == f"{tmp_path / 'in'}: holds 2 studies of 2 patients:"
        assert "  2024-03-12  'MRT Schaedel'  1 series  UID 2.25.777" in message.splitlines()
        assert message.endswith("choose one with --study-uid UID, or point at the folder of one study")
        for identifier in ("DOE", "ROE", "PID000", "19500101"):
            assert identifier not in message
        chosen = one_study(index, "2.25.777")
        assert [s.study_uid for s in chosen] == ["2.25.777"]
        with pytest.raises(InputFileError, match=r"holds no study with the UID 1.2.3"):
            one_study(index, "1.2.3")
