"""Indexing what hospitals hand over: a CD with its DICOMDIR, folders, links, single files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pydicom
import pytest

from b12brain.errors import InputFileError
from b12brain.study import open_study


def test_cd_lists_every_series_with_its_metadata(patient_cd: Path) -> None:
    with open_study(patient_cd) as index:
        by_number = {s.number: s for s in index.series}
    assert sorted(by_number) == [*range(1, 14), 90]
    flair = by_number[6]
    assert flair.description == "3D_Brain_VIEW_FLAIR"
    assert flair.metadata["MRAcquisitionType"] == "3D"
    # Times in seconds, BIDS-style, as the metadata call expects them.
    assert (flair.metadata["RepetitionTime"], flair.metadata["EchoTime"], flair.metadata["InversionTime"]) == (4.8, 0.3, 1.65)
    assert flair.metadata["ImageType"] == ["ORIGINAL", "PRIMARY", "M", "ND"]
    assert flair.metadata["Manufacturer"] == "Philips Medical Systems"
    assert flair.slices == len(flair.files) == 28
    assert flair.voxel_mm == pytest.approx((0.8984, 0.8984, 6.0), abs=1e-3)
    assert flair.date_time == "2024-03-12 09:50:00"
    assert flair.volumes == 1
    dwi = by_number[10]
    assert (dwi.volumes, dwi.slices, len(dwi.files)) == (2, 10, 20)
    assert dwi.metadata["NumberOfVolumes"] == 2 and dwi.metadata["DiffusionBValues"] == [0.0, 1000.0]
    assert not by_number[90].is_image and by_number[90].sop_class == "Basic Text SR Storage"


def test_non_dicom_files_of_a_cd_are_skipped_with_a_note(patient_cd: Path) -> None:
    with open_study(patient_cd) as index:
        assert index.notes == ("skipped 5 files that are not DICOM (viewer programs, pictures, text)",)
    # The DICOMDIR itself gives the same series.
    with open_study(patient_cd / "DICOMDIR") as listed:
        assert [s.uid for s in listed.series] == [s.uid for s in index.series]
        assert listed.notes == ()


def test_dicomdir_pointing_at_missing_files(tmp_path: Path, patient_cd: Path) -> None:
    cd = tmp_path / "CD"
    shutil.copytree(patient_cd, cd)
    shutil.rmtree(cd / "PT000000" / "ST000000" / "SE000000")  # the first series' files are gone
    with open_study(cd / "DICOMDIR") as index:
        assert 1 not in {s.number for s in index.series} and len(index.series) == 13
        assert index.notes[0].startswith("3 files listed in the DICOMDIR are missing (PT000000/ST000000/SE000000/IM000000,")
        assert index.notes[0].endswith("; the other files were used")
    with open_study(cd) as walked:  # the folder: the same note, from the DICOMDIR found in it
        assert any("listed in the DICOMDIR are missing" in note for note in walked.notes)
    shutil.rmtree(cd / "PT000000")
    with pytest.raises(InputFileError, match=r"the DICOMDIR lists \d+ files and none of them exists; copy the whole CD"):
        with open_study(cd / "DICOMDIR"):
            pass


def test_dicomdir_file_ids_match_a_cd_mounted_in_lower_case(tmp_path: Path, patient_cd: Path) -> None:
    cd = tmp_path / "cd"
    shutil.copytree(patient_cd, cd)
    os.rename(cd / "PT000000", cd / "pt000000")
    with open_study(cd / "DICOMDIR") as index:
        assert len(index.series) == 14 and index.notes == ()


def test_symlink_loops_are_not_followed(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    study = tmp_path / "study"
    corpus.write_series(study / "s1", corpus.small_volume(), corpus.SeriesSpec(1, "Ax T2 FLAIR", "GE"))
    os.symlink("..", study / "s1" / "up")  # s1/up -> study: a loop
    os.symlink(study, study / "again")
    with open_study(study) as index:
        assert [len(s.files) for s in index.series] == [8]
        assert "did not follow 2 linked folders" in index.notes[0]


def test_a_dicom_file_stands_for_its_series(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "mixed"
    corpus.write_series(folder, corpus.small_volume(), corpus.SeriesSpec(3, "Ax T2 FLAIR", "GE"))
    for i, ds in enumerate(corpus.series_datasets(corpus.small_volume(5), corpus.SeriesSpec(4, "Ax T1", "GE"))):
        ds.save_as(folder / f"T1_{i}.dcm", enforce_file_format=True)
    with open_study(folder / "T1_0.dcm") as index:
        assert [(s.number, len(s.files)) for s in index.series] == [(4, 5)]


def test_unreadable_dicom_and_no_dicom_at_all(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    folder = corpus.write_series(tmp_path / "s", corpus.small_volume(), corpus.SeriesSpec(1, "FLAIR", "GE"))
    (folder / "broken.dcm").write_bytes(bytes(128) + b"DICM" + b"\x02\x00")
    with open_study(folder) as index:
        assert index.notes == ("1 DICOM file could not be read (truncated or corrupt): broken.dcm",)
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("x")
    with pytest.raises(InputFileError, match=r"empty: no DICOM series found \(1 files searched, recursively\)"):
        with open_study(empty):
            pass


def test_patient_identifiers_are_kept_only_as_a_hash(patient_cd: Path) -> None:
    with open_study(patient_cd) as index:
        text = repr(index)
    assert "DOE" not in text and "PID0001" not in text and "19500101" not in text
    assert pydicom.dcmread(next(patient_cd.rglob("IM000000"))).PatientName == "DOE^JANE"  # the data had them


def test_a_damaged_dicomdir_is_noted_and_the_folder_searched(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    folder = corpus.write_series(tmp_path / "cd" / "s1", corpus.small_volume(), corpus.SeriesSpec(1, "FLAIR", "GE"))
    (tmp_path / "cd" / "DICOMDIR").write_bytes(bytes(128) + b"DICM" + b"\x02\x00\x00\x00garbage")
    with open_study(tmp_path / "cd") as index:
        assert [len(s.files) for s in index.series] == [8] and folder.is_dir()
        assert index.notes[0].startswith("is not a readable DICOMDIR (")
        assert index.notes[0].endswith("DICOMDIR was not used, the folder was searched")
    with pytest.raises(InputFileError, match=r"cd/DICOMDIR: is not a readable DICOMDIR .*; point at the study's folder"):
        with open_study(tmp_path / "cd" / "DICOMDIR"):
            pass


def test_enhanced_multiframe_header_gives_geometry_and_timing(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    from pydicom.dataset import Dataset

    ds = corpus.series_datasets(corpus.small_volume(1), corpus.SeriesSpec(7, "3D_Brain_VIEW_FLAIR", "Philips",
                                                                          acquisition="3D"))[0]
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"  # Enhanced MR
    ds.NumberOfFrames = 176
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness"):
        del ds[keyword]
    measures, timing, echo, modifier = Dataset(), Dataset(), Dataset(), Dataset()
    measures.PixelSpacing, measures.SliceThickness = ["1.1", "1.0"], "1.2"
    timing.RepetitionTime, echo.EffectiveEchoTime, modifier.InversionTimes = 4800, 310, [1650]
    shared = Dataset()
    shared.PixelMeasuresSequence, shared.MRTimingAndRelatedParametersSequence = [measures], [timing]
    shared.MREchoSequence, shared.MRModifierSequence = [echo], [modifier]
    ds.SharedFunctionalGroupsSequence = [shared]
    (tmp_path / "s").mkdir()
    ds.save_as(tmp_path / "s" / "IM0001", enforce_file_format=True)
    with open_study(tmp_path / "s") as index:
        (series,) = index.series
    assert (series.slices, series.frames, series.voxel_mm, series.thickness_mm) == (176, 176, (1.0, 1.1, 1.2), 1.2)
    assert series.sop_class == "Enhanced MR Image Storage" and series.is_image
    assert (series.metadata["RepetitionTime"], series.metadata["EchoTime"], series.metadata["InversionTime"]) == (4.8, 0.31, 1.65)
