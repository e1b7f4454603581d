"""One FLAIR written as the scanners and PACS hand it over: classic, enhanced multi-frame and
compressed, all read to the same volume; multi-volume series and non-image objects named."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import uid
from pydicom.dataset import FileMetaDataset

from b12brain.errors import InputFileError
from b12brain.io import load_volume
from b12brain.cli.main import main
from b12brain.io import dicom, dicom_headers
from b12brain.io.dicom import load_dicom_series

SHAPE = (40, 48, 24)
SPACING = (1.1, 0.9, 2.5)
ORIGIN_LPS = (-20.0, 31.5, -12.0)
#: An oblique orientation (columns are the index axes' LPS direction cosines).
OBLIQUE = np.linalg.qr(np.array([[0.9, -0.3, 0.3], [0.3, 0.95, 0.0], [-0.3, 0.1, 0.95]]))[0]
PATIENT = {"0010|0010": "QUUXLEY^ZELDA", "0010|0020": "PID-7734219", "0010|0030": "19500101",
           "0008|0050": "ACC-55501", "0008|0080": "ST ELSEWHERE HOSPITAL"}
MR_TAGS = {"0018|0020": "SE\\IR", "0018|0080": "9000", "0018|0081": "81", "0018|0082": "2500", "0018|0087": "3",
           "0008|0070": "SIEMENS", "0008|1090": "Prisma", "0018|1030": "t2_tirm_tra_dark-fluid"}


def _data() -> np.ndarray:
    ramp = np.add.outer(np.add.outer(np.arange(SHAPE[0]) * 3, np.arange(SHAPE[1]) * 7), np.arange(SHAPE[2]) * 11)
    return (ramp + np.random.default_rng(1).integers(0, 3, SHAPE)).astype(np.int16)


def _classic(folder: Path, write_dicom_series) -> Path:
    return write_dicom_series(
        folder, _data(), spacing_mm=SPACING, origin_lps=ORIGIN_LPS, direction=OBLIQUE, extra_tags={**PATIENT, **MR_TAGS}
    )


@pytest.mark.parametrize(
    "form",
    ["enhanced", uid.EnhancedMRImageStorage, uid.JPEG2000Lossless, uid.JPEGLSLossless, uid.RLELossless],
    ids=["legacy-converted-enhanced", "enhanced-mr-class", "jpeg2000", "jpeg-ls", "rle"],
)
def test_every_form_reads_to_the_classic_volume(tmp_path, write_dicom_series, write_enhanced_series,
                                                 recode_dicom_series, form):
    source = _classic(tmp_path / "classic", write_dicom_series)
    reference = load_dicom_series(source)
    if form == "enhanced":
        other = write_enhanced_series(source, tmp_path / "other")
    elif form == uid.EnhancedMRImageStorage:
        other = write_enhanced_series(source, tmp_path / "other", sop_class=form)
    else:
        other = recode_dicom_series(source, tmp_path / "other", form)
    volume = load_volume(other)
    assert volume.shape == SHAPE
    np.testing.assert_array_equal(volume.data, _data().astype(np.float32))  # lossless codecs: equal
    np.testing.assert_allclose(volume.affine, reference.affine, atol=0.01)
    assert volume.metadata["SeriesDescription"].startswith("AX FLAIR")  # highdicom adds "(enhanced conversion)"


@pytest.mark.parametrize("transfer_syntax", [uid.JPEG2000Lossless, uid.JPEGLSLossless, uid.RLELossless],
                         ids=["jpeg2000", "jpeg-ls", "rle"])
def test_compressed_enhanced_file_with_frames_stored_downwards(tmp_path, write_dicom_series, write_enhanced_series,
                                                               recode_dicom_series, transfer_syntax):
    # dcm2niix stacks a compressed multi-frame file's frames in stored order: b12brain hands it
    # them sorted. (highdicom stores an axial stack's frames from the top down.)
    source = write_dicom_series(tmp_path / "classic", _data(), spacing_mm=SPACING, origin_lps=ORIGIN_LPS)
    folder = write_enhanced_series(recode_dicom_series(source, tmp_path / "packed", transfer_syntax), tmp_path / "e")
    stored = pydicom.dcmread(folder / "enhanced.dcm", stop_before_pixels=True).PerFrameFunctionalGroupsSequence
    heights = [float(item.PlanePositionSequence[0].ImagePositionPatient[2]) for item in stored]
    assert heights == sorted(heights, reverse=True)
    volume = load_dicom_series(folder)
    np.testing.assert_array_equal(volume.data, _data())
    np.testing.assert_allclose(volume.affine, load_dicom_series(source).affine, atol=0.01)


def test_deflated_series_is_refused_naming_the_syntax(tmp_path, write_dicom_series, recode_dicom_series):
    source = _classic(tmp_path / "classic", write_dicom_series)
    folder = recode_dicom_series(source, tmp_path / "deflated", uid.DeflatedExplicitVRLittleEndian)
    with pytest.raises(InputFileError, match="Deflated Explicit VR Little Endian transfer syntax, which dcm2niix cannot "
                       "read; inflate it first"):
        load_dicom_series(folder)


def test_jpeg_compressed_series_reads_to_the_classic_volume(tmp_path, write_dicom_series):
    import SimpleITK as sitk

    source = write_dicom_series(tmp_path / "classic", _data(), spacing_mm=SPACING, origin_lps=ORIGIN_LPS)
    folder = tmp_path / "jpeg"
    folder.mkdir()
    for path in sorted(source.iterdir()):
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        image = reader.Execute()
        for key in reader.GetMetaDataKeys():
            image.SetMetaData(key, reader.GetMetaData(key))
        writer = sitk.ImageFileWriter()
        writer.SetFileName(str(folder / path.name))
        writer.SetUseCompression(True)
        writer.SetCompressor("JPEG")
        writer.KeepOriginalImageUIDOn()
        writer.Execute(image)
    syntax = pydicom.dcmread(folder / "IM0000.dcm", stop_before_pixels=True).file_meta.TransferSyntaxUID
    assert syntax.is_compressed and "JPEG" in syntax.name
    volume = load_dicom_series(folder)
    if "Lossless" in syntax.name:
        np.testing.assert_array_equal(volume.data, _data())
    else:
        assert np.abs(volume.data - _data()).max() <= 0.05 * np.abs(_data()).max()
    np.testing.assert_allclose(volume.affine, load_dicom_series(source).affine, atol=0.01)


def test_classic_volume_is_laid_out_as_stored_with_the_headers_geometry(tmp_path, write_dicom_series):
    volume = load_dicom_series(_classic(tmp_path, write_dicom_series))
    np.testing.assert_array_equal(volume.data, _data())
    lps_to_ras = np.diag([-1.0, -1.0, 1.0])
    expected = np.eye(4)
    expected[:3, :3] = lps_to_ras @ OBLIQUE @ np.diag(SPACING)
    expected[:3, 3] = lps_to_ras @ np.array(ORIGIN_LPS)
    np.testing.assert_allclose(volume.affine, expected, atol=1e-4)


def test_metadata_has_bids_names_and_units_and_no_patient_identifiers(tmp_path, write_dicom_series):
    meta = load_dicom_series(_classic(tmp_path, write_dicom_series)).metadata
    assert meta["InversionTime"] == pytest.approx(2.5) and meta["EchoTime"] == pytest.approx(0.081)
    assert meta["RepetitionTime"] == pytest.approx(9.0) and meta["MagneticFieldStrength"] == 3
    assert meta["Manufacturer"] == "Siemens" and meta["ManufacturersModelName"] == "Prisma"
    assert meta["SeriesInstanceUID"] == "2.25.1234567890.1" and meta["StudyDate"] == "2024-01-01"
    assert meta["ProtocolName"] == "t2_tirm_tra_dark-fluid"
    text = repr(meta)
    for identifier in ("QUUXLEY", "ZELDA", "PID-7734219", "19500101", "ACC-55501"):
        assert identifier not in text


def _edit(folder: Path, change) -> None:
    for i, path in enumerate(sorted(folder.glob("*.dcm"))):
        ds = pydicom.dcmread(path)
        change(i, ds)
        ds.save_as(path)


def test_dwi_series_is_named_with_its_b_values(tmp_path, write_dicom_series):
    data = _data()[:, :, :8]
    write_dicom_series(tmp_path, data, spacing_mm=SPACING, prefix="B0_")
    write_dicom_series(tmp_path, data, spacing_mm=SPACING, prefix="B1000_")
    _edit(tmp_path, lambda i, ds: setattr(ds, "DiffusionBValue", 0.0 if i < 8 else 1000.0))
    with pytest.raises(InputFileError) as info:
        load_dicom_series(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}: this series holds 2 volumes of 8 slices (b-values 0, 1000: a DWI series), not one 3D scan such "
        "as a FLAIR or T1; pass the FLAIR's (or T1's) series"
    )


def test_fmri_time_series_is_named(tmp_path, write_dicom_series):
    data = _data()[:, :, :6]
    for t in range(3):
        write_dicom_series(tmp_path, data, spacing_mm=SPACING, prefix=f"T{t}_")
    _edit(tmp_path, lambda i, ds: setattr(ds, "TemporalPositionIdentifier", i // 6 + 1))
    with pytest.raises(InputFileError, match=r"holds 3 volumes of 6 slices \(3 time points: an fMRI or perfusion"):
        load_dicom_series(tmp_path)


def test_multi_echo_series_is_named(tmp_path, write_dicom_series):
    data = _data()[:, :, :6]
    write_dicom_series(tmp_path, data, spacing_mm=SPACING, prefix="E1_", extra_tags={"0018|0081": "12"})
    write_dicom_series(tmp_path, data, spacing_mm=SPACING, prefix="E2_", extra_tags={"0018|0081": "95"})
    with pytest.raises(InputFileError, match=r"holds 2 volumes of 6 slices \(echo times 12, 95 ms: a multi-echo series\)"):
        load_dicom_series(tmp_path)


@pytest.mark.parametrize("case", ["duplicate", "dwi", "report"])
def test_run_exits_2_with_one_line_naming_the_cause(tmp_path, capfd, write_dicom_series, case):
    folder = tmp_path / "series"
    if case == "report":
        folder.mkdir()
        _object(folder / "SR0001.dcm", uid.BasicTextSRStorage)
        expected = "SR0001.dcm (a structured report"
    else:
        write_dicom_series(folder, _data(), spacing_mm=SPACING, extra_tags=PATIENT)
        copy = pydicom.dcmread(folder / "IM0005.dcm")
        copy.SOPInstanceUID = "2.25.999"
        copy.save_as(folder / "IM0005b.dcm")
        expected = "two slices share the position"
        if case == "dwi":
            write_dicom_series(folder, _data(), spacing_mm=SPACING, prefix="B1000_", extra_tags=PATIENT)
            (folder / "IM0005b.dcm").unlink()
            _edit(folder, lambda i, ds: setattr(ds, "DiffusionBValue", 0.0 if i < SHAPE[2] else 1000.0))
            expected = "holds 2 volumes of 24 slices (b-values 0, 1000: a DWI series)"
    capfd.readouterr()
    assert main(["run", "--flair", str(folder), "--out", str(tmp_path / "out"), "--segmenter", "classical"]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and expected in err and str(folder) in err
    assert "QUUXLEY" not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_temporary_folder_is_removed_after_success_failure_and_timeout(tmp_path, monkeypatch, write_dicom_series):
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    good = write_dicom_series(tmp_path / "good", _data(), spacing_mm=SPACING)
    load_dicom_series(good)
    monkeypatch.setattr(dicom, "_DCM2NIIX_ARGS", ("-b", "y", "-f", "series", "-d", "0", "--no-such-option"))
    with pytest.raises(InputFileError, match="dcm2niix could not convert the series"):
        load_dicom_series(good)
    monkeypatch.undo()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setattr(dicom, "DCM2NIIX_TIMEOUT_S", 0.001)
    with pytest.raises(InputFileError, match=r"dcm2niix did not convert the series within 0.001 s"):
        load_dicom_series(good)
    assert list(temp.iterdir()) == []


def test_a_folder_of_links_to_the_series_files_reads_the_same(tmp_path, write_dicom_series):
    source = write_dicom_series(tmp_path / "series", _data(), spacing_mm=SPACING, origin_lps=ORIGIN_LPS)
    links = tmp_path / "links"
    links.mkdir()
    for path in sorted(source.iterdir()):
        (links / path.name).symlink_to(path)
    np.testing.assert_array_equal(load_dicom_series(links).data, _data())


def test_a_series_dcm2niix_splits_is_refused_never_read_in_part(tmp_path, write_dicom_series):
    # One grid in the headers, but each file with its own StudyTime: dcm2niix makes 24 images.
    write_dicom_series(tmp_path, _data(), spacing_mm=SPACING)
    _edit(tmp_path, lambda i, ds: setattr(ds, "StudyTime", f"1200{i:02d}"))
    with pytest.raises(InputFileError, match=r"dcm2niix split the series into 24 images \(parts \(first\), a, b"):
        load_dicom_series(tmp_path)


def test_siemens_mosaic_is_named(tmp_path, write_dicom_series):
    write_dicom_series(tmp_path, _data(), spacing_mm=SPACING, extra_tags={"0008|0008": "ORIGINAL\\PRIMARY\\M\\ND\\MOSAIC"})
    with pytest.raises(InputFileError, match="is a Siemens mosaic series .*not a FLAIR or T1"):
        load_dicom_series(tmp_path)


def _object(path: Path, sop_class: str, *, pixels: bool = False) -> None:
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta.TransferSyntaxUID = uid.ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, ds.file_meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID, ds.Modality, ds.PatientName = "2.25.77", "OT", "QUUXLEY^ZELDA"
    if pixels:
        ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 8, 8, 7
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PixelRepresentation = 1, "MONOCHROME2", 0
        ds.PixelData = bytes(64)
    ds.save_as(path, enforce_file_format=True)


@pytest.mark.parametrize(
    ("sop_class", "pixels", "named"),
    [
        (uid.BasicTextSRStorage, False, "a structured report"),
        (uid.GrayscaleSoftcopyPresentationStateStorage, False, "a presentation state"),
        (uid.SecondaryCaptureImageStorage, True, "a secondary capture"),
        (uid.KeyObjectSelectionDocumentStorage, False, "a key object selection"),
    ],
    ids=["sr", "presentation-state", "secondary-capture", "key-object"],
)
def test_non_image_objects_are_named_by_their_class(tmp_path, capfd, sop_class, pixels, named):
    _object(tmp_path / "OBJ0001.dcm", sop_class, pixels=pixels)
    with pytest.raises(InputFileError) as info:
        load_dicom_series(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{tmp_path}: holds no image series: OBJ0001.dcm ({named}")
    assert "corrupt" not in message and "QUUXLEY" not in message


def test_a_report_and_a_presentation_state_beside_the_series_are_left_out(tmp_path, write_dicom_series):
    write_dicom_series(tmp_path, _data(), spacing_mm=SPACING)
    _object(tmp_path / "SR0001.dcm", uid.ComprehensiveSRStorage)
    _object(tmp_path / "PR0001.dcm", uid.GrayscaleSoftcopyPresentationStateStorage)
    np.testing.assert_array_equal(load_dicom_series(tmp_path).data, _data())


@pytest.mark.parametrize("where", ["missing", "duplicate"])
def test_gap_and_duplicate_refused_in_an_enhanced_file_too(tmp_path, write_dicom_series, write_enhanced_series, where):
    source = write_dicom_series(tmp_path / "c", _data(), spacing_mm=SPACING, extra_tags=PATIENT,
                                skip_slices=(9,) if where == "missing" else ())
    if where == "duplicate":
        copy = pydicom.dcmread(source / "IM0005.dcm")
        copy.SOPInstanceUID = "2.25.999"
        copy.save_as(source / "IM0005b.dcm")
    folder = write_enhanced_series(source, tmp_path / "e")
    expected = "1 missing slice: the gap between enhanced.dcm frame" if where == "missing" else "two slices share the position"
    with pytest.raises(InputFileError, match=expected) as info:
        load_dicom_series(folder)
    assert "QUUXLEY" not in str(info.value)


def test_patient_identifiers_never_in_a_refusal(tmp_path, write_dicom_series, capfd):
    write_dicom_series(tmp_path, _data(), spacing_mm=SPACING, extra_tags=PATIENT, skip_slices=(4,))
    with pytest.raises(InputFileError) as info:
        load_dicom_series(tmp_path)
    out = capfd.readouterr()
    for text in (str(info.value), out.out, out.err):
        assert "QUUXLEY" not in text and "PID-7734219" not in text


def test_voxel_ceiling_is_checked_on_the_headers(tmp_path, write_dicom_series):
    write_dicom_series(tmp_path, _data(), spacing_mm=SPACING)
    with pytest.raises(InputFileError, match=r"dimensions \(40, 48, 24\) are too large \(46,080 voxels\)"):
        load_dicom_series(tmp_path, max_voxels=10_000)


def test_file_count_and_file_size_bounds_refuse_before_reading(tmp_path, monkeypatch, write_dicom_series):
    write_dicom_series(tmp_path, _data(), spacing_mm=SPACING)
    monkeypatch.setattr(dicom_headers, "MAX_SERIES_FILES", 10)
    with pytest.raises(InputFileError, match=r"holds more than 10 DICOM files"):
        load_dicom_series(tmp_path)
    monkeypatch.undo()
    monkeypatch.setattr(dicom_headers, "MAX_FILE_BYTES", 1000)
    with pytest.raises(InputFileError, match=r"IM0000.dcm: holds [0-9,]+ bytes, more than the 1,000 a DICOM file"):
        load_dicom_series(tmp_path)


def test_nifti_sidecar_is_read_and_a_bad_one_warned(tmp_path, write_nifti, blob):
    path = write_nifti(tmp_path, blob, name="scan.nii.gz")
    (tmp_path / "scan.json").write_text('{"SeriesDescription": "3D FLAIR", "EchoTime": 0.39, "PatientName": "X^Y"}')
    volume = load_volume(path)
    assert volume.metadata == {"SeriesDescription": "3D FLAIR", "EchoTime": 0.39}
    assert volume.warnings == ()
    (tmp_path / "scan.json").write_text('{"EchoTime": 390, "InversionTime": "long"}')
    volume = load_volume(path)
    assert volume.metadata == {}
    assert [w.code for w in volume.warnings] == ["sidecar.bad_fields"]
    assert "EchoTime is 390, expected seconds" in volume.warnings[0].message
    (tmp_path / "scan.json").write_text("{not json")
    volume = load_volume(path)
    assert volume.metadata == {} and [w.code for w in volume.warnings] == ["sidecar.unusable"]
