"""The metadata call: vendors' series names and timings give the right contrast, and odd
sidecars never raise."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b12brain.qc.sequence import call_sequence

MS = 0.001

# (description, timing (TI, TE, TR in ms, or None), scanning sequence, expected contrast)
VENDOR_SERIES = [
    # Siemens
    ("t2_tirm_tra_dark-fluid", (2500, 81, 9000), "SE\\IR", "flair"),
    ("t2_space_dark-fluid_sag_p2_iso", (1800, 386, 5000), "SE\\IR", "flair"),
    ("t1_mprage_sag_p2_iso", (900, 2.3, 2300), "GR\\IR", "t1"),
    ("ep2d_diff_mddw_20_p2", (None, 89, 5000), "EP", "dwi"),
    ("AAHead_Scout_64ch-head-coil", (None, 1.4, 3.2), "GR", "localizer"),
    ("t2_tse_tra", (None, 100, 4000), "SE", "t2"),
    ("t2_fl2d_tra_hemo", (None, 20, 650), "GR", "swi"),
    ("ep2d_bold_moco_rest", (None, 30, 2000), "EP", "fmri"),
    ("tof_fl3d_tra", (None, 3.6, 21), "GR", "angio"),
    ("pd_tse_tra", (None, 12, 3000), "SE", "pd"),
    ("t1_se_tra", (None, 9, 500), "SE", "t1"),
    ("tgse_pcasl_PLD1800", (None, 37, 4000), "GR\\EP", "perfusion"),
    # Philips
    ("3D_Brain_VIEW_FLAIR", (1650, 300, 4800), "SE\\IR", "flair"),
    ("T2W_FLAIR", (2800, 120, 11000), "SE\\IR", "flair"),
    ("T1W_3D_TFE", (None, 3.7, 8.1), "GR", "t1"),
    ("Survey", (None, 4.6, 11), "GR", "localizer"),
    ("DWI_SSh", (None, 90, 3500), "SE\\EP", "dwi"),
    ("SWIp", (None, 20, 31), "GR", "swi"),
    # GE
    ("Ax T2 FLAIR", (2250, 120, 9000), "SE\\IR", "flair"),
    ("Sag CUBE FLAIR", (1700, 120, 6000), "SE\\IR", "flair"),
    ("Ax T1 FLAIR", (860, 24, 2200), "SE\\IR", "t1"),
    ("Sag BRAVO", (450, 3.2, 8.2), "GR\\IR", "t1"),
    ("Ax FSPGR 3D", (None, 3, 7.6), "GR", "t1"),
    ("3-Plane Loc", (None, 1.6, 4.8), "GR", "localizer"),
    ("Ax SWAN", (None, 25, 40), "GR", "swi"),
    ("Ax T2 FRFSE", (None, 102, 4500), "SE", "t2"),
    ("Ax DWI 1000b", (None, 80, 6000), "EP", "dwi"),
    ("3D ASL", (None, 10, 4800), "", "perfusion"),
    # Canon / Toshiba
    ("FLAIR_AX", (2500, 105, 10000), "SE\\IR", "flair"),
    ("T1_SE_AX", (None, 10, 500), "SE", "t1"),
]


def _metadata(description, timing, sequence):
    ti, te, tr = timing
    meta = {"SeriesDescription": description, "ScanningSequence": sequence, "Modality": "MR"}
    for key, value in (("InversionTime", ti), ("EchoTime", te), ("RepetitionTime", tr)):
        if value is not None:
            meta[key] = value * MS
    return meta


@pytest.mark.parametrize(("description", "timing", "sequence", "expected"), VENDOR_SERIES)
def test_vendor_series_names_and_timings(description, timing, sequence, expected):
    call = call_sequence(_metadata(description, timing, sequence))
    assert call.contrast == expected, call.reasons
    assert call.reasons and description in call.reasons[0]


@pytest.mark.parametrize(
    ("timing", "sequence", "expected"),
    [
        ((2500, 120, 9000), "SE\\IR", "flair"),
        ((900, 3, 2300), "GR\\IR", "t1"),
        ((150, 40, 5000), "SE\\IR", "other"),
        ((None, 100, 4000), "SE", "t2"),
        ((None, 15, 3000), "SE", "pd"),
        ((None, 10, 500), "SE", "t1"),
        ((None, 3, 8), "GR", "t1"),
        ((None, 25, 40), "GR", "swi"),
        ((None, 90, 5000), "EP", "other"),
    ],
)
def test_timing_alone_when_names_say_nothing(timing, sequence, expected):
    call = call_sequence(_metadata("Series 5", timing, sequence))
    assert call.contrast == expected
    assert "ms" in call.reasons[0]


def test_names_and_timing_that_disagree_give_no_call_and_say_why():
    call = call_sequence(_metadata("AX FLAIR", (900, 3, 2300), "GR\\IR"))
    assert call.contrast is None
    assert "disagree" in call.reasons[0] and "AX FLAIR" in call.reasons[0]


@pytest.mark.parametrize(
    ("image_type", "expected"),
    [
        (["ORIGINAL", "PRIMARY", "LOCALIZER"], "localizer"),
        (["DERIVED", "PRIMARY", "DIFFUSION", "ADC"], "adc"),
        (["DERIVED", "PRIMARY", "DIFFUSION", "TRACEW"], "dwi"),
        (["ORIGINAL", "PRIMARY", "P", "ND"], "derived"),
        (["DERIVED", "PRIMARY", "MPR"], "derived"),
        (["DERIVED", "SECONDARY", "REFORMATTED"], "derived"),
        ("DERIVED\\PRIMARY\\MNIP", "swi"),
    ],
)
def test_what_the_scanner_marked_decides_even_against_the_name(image_type, expected):
    meta = _metadata("t2_tirm_tra_dark-fluid", (2500, 81, 9000), "SE\\IR") | {"ImageType": image_type}
    call = call_sequence(meta)
    assert call.contrast == expected and "ImageType" in call.reasons[0]


def test_original_flair_image_type_is_not_a_marker():
    meta = _metadata("Ax T2 FLAIR", (2250, 120, 9000), "SE\\IR") | {"ImageType": ["ORIGINAL", "PRIMARY", "M", "ND"]}
    assert call_sequence(meta).contrast == "flair"


def test_diffusion_b_values_and_several_volumes():
    assert call_sequence({"DiffusionBValues": [0, 1000, 1000]}).contrast == "dwi"
    assert call_sequence({"NumberOfVolumes": 200}).contrast == "fmri"


def test_other_modality():
    call = call_sequence({"Modality": "SR"})
    assert call.contrast == "other" and "SR" in call.reasons[0]


def test_acquisition_from_metadata_or_names():
    assert call_sequence({"MRAcquisitionType": "3D"}).acquisition == "3D"
    assert call_sequence({"MRAcquisitionType": "2D", "SeriesDescription": "3D FLAIR"}).acquisition == "2D"
    assert call_sequence({"SeriesDescription": "3D_Brain_VIEW_FLAIR"}).acquisition == "3D"
    assert call_sequence({"SeriesDescription": "Ax T2 FLAIR"}).acquisition is None


def test_fl2d_gradient_echo_is_not_read_as_flair():
    assert call_sequence({"SeriesDescription": "fl2d_tra"}).contrast != "flair"


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=10,
)
KEYS = ["SeriesDescription", "ProtocolName", "SequenceName", "ScanningSequence", "ImageType", "InversionTime",
        "EchoTime", "RepetitionTime", "MRAcquisitionType", "Modality", "DiffusionBValues", "NumberOfVolumes"]


@given(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8))
def test_any_sidecar_values_give_a_call_without_raising(meta):
    call = call_sequence(meta)
    assert call.contrast is None or isinstance(call.contrast, str)
    assert all(isinstance(r, str) for r in call.reasons)
