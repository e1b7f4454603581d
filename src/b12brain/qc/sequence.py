"""What an MR series is, read from its metadata: FLAIR, T1, T2, DWI, localizer, reformat ...

The call uses BIDS sidecar keys as dcm2niix writes them (times in seconds): ``ImageType``,
``SeriesDescription``, ``ProtocolName``, ``SequenceName``, ``ScanningSequence``,
``InversionTime``, ``EchoTime``, ``RepetitionTime``, ``MRAcquisitionType``, ``Modality``,
``DiffusionBValues``, ``NumberOfVolumes``. Three kinds of evidence, in this order:

1. **What the scanner marked**: a modality other than MR; ``ImageType`` values for localizers,
   ADC and trace maps, susceptibility images, phase images, reformats and projections, and
   derived images. These decide the call.
2. **Names**: keywords in the series description, protocol and sequence names, in several
   vendors' spellings (e.g. Siemens ``t2_tirm_tra_dark-fluid``, ``t1_mprage_sag``,
   ``ep2d_diff``, ``AAHead_Scout``; Philips ``3D_Brain_VIEW_FLAIR``, ``T1W_3D_TFE``,
   ``Survey``; GE ``Ax T2 FLAIR``, ``Sag CUBE FLAIR``, ``BRAVO``, ``3-Plane Loc``). A
   "T1 FLAIR" (GE's T1-weighted inversion recovery) is a T1.
3. **Physics**: inversion, echo and repetition times and the scanning sequence
   (:func:`_call_from_timing`), used alone when the names say nothing and as a cross-check
   when they do: names and timing that contradict each other give no call (``contrast`` None,
   with both reasons), so the image decides.

The cut-offs of step 3 are this tool's own rules, set from the typical ranges of clinical
protocols (fluid-nulling FLAIR: TI about 1.5-3 s at TR of 4.5 s or more; T1 inversion
recovery such as MPRAGE or IR-SPGR: TI about 0.4-1.3 s; STIR: TI about 0.1-0.25 s; spin-echo
T2: TE of 60 ms or more at TR of 2 s or more; proton density: TE under 40 ms at TR of 1.5 s or
more; spin-echo T1: TR under 1 s; spoiled gradient-echo T1: TR under 100 ms, TE under 10 ms;
T2*/susceptibility gradient echo: TE of 15 ms or more). docs/series-selection.md lists them.

Examples
--------
>>> call_sequence({"SeriesDescription": "t2_tirm_tra_dark-fluid", "InversionTime": 2.5,
...                "RepetitionTime": 9.0, "EchoTime": 0.081}).contrast
'flair'
>>> call_sequence({"SeriesDescription": "Ax T1 FLAIR", "InversionTime": 0.86}).contrast
't1'
>>> call_sequence({"ImageType": ["DERIVED", "PRIMARY", "DIFFUSION", "ADC"]}).contrast
'adc'
>>> call_sequence({}).contrast is None
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Contrast = Literal[
    "flair", "t1", "t2", "pd", "dwi", "adc", "swi", "perfusion", "fmri", "angio", "localizer", "derived", "other"
]
Acquisition = Literal["2D", "3D"]

#: ``ImageType`` values and what they make a series, checked in this order.
_IMAGE_TYPE_MARKERS: tuple[tuple[frozenset[str], Contrast, str], ...] = (
    (frozenset({"LOCALIZER", "SCOUT"}), "localizer", "a localizer"),
    (frozenset({"ADC", "FA", "EADC", "EXP"}), "adc", "a diffusion map (ADC/FA)"),
    (frozenset({"TRACEW", "TRACE", "DIFFUSION", "ISODWI", "DWI"}), "dwi", "a diffusion-weighted image"),
    (frozenset({"SWI", "MNIP", "MINIP", "SWAN", "SWI_COMBINED"}), "swi", "a susceptibility-weighted image"),
    (frozenset({"P", "PHASE", "PHASE MAP", "IMAGINARY", "REAL"}), "derived", "a phase, real or imaginary image"),
    (frozenset({"MPR", "REFORMATTED", "PROJECTION IMAGE", "MIP", "CSA MPR", "CSA RESAMPLED", "COMPOSED"}),
     "derived", "a reformat or projection"),
    (frozenset({"PERFUSION", "ASL", "CBF", "RELCBF", "TTP", "MTT", "CBV"}), "perfusion", "a perfusion image or map"),
)

#: Name keywords (regular expressions on the lower-cased description, protocol and sequence
#: names), checked in this order: the first that matches decides. Short keywords must stand as
#: their own word-part (no letter or digit before them) so that e.g. ``fl2d`` (a Siemens
#: gradient echo) is not read as FLAIR.
_B = r"(?<![a-z0-9])"  # start of a word-part
_NAME_KEYWORDS: tuple[tuple[str, Contrast, str], ...] = (
    (rf"{_B}(localiz|localis|scout|survey|aahead|3[-_ ]?pl(ane)?(?![a-z])|tri[-_ ]?pilot|pilot|loc(?![a-z]))", "localizer",
     "a localizer"),
    (rf"{_B}(adc|apparent diffusion|d?adc_|fa(?![a-z0-9])|colfa)", "adc", "a diffusion map"),
    (rf"{_B}(dwi|diff|dti|trace|resolve|b1000|ep2d_diff|dwi_)", "dwi", "diffusion-weighted"),
    (rf"{_B}(perf|p?c?asl|pasl|dsc|dce|cbf|relcbf|tgse)", "perfusion", "perfusion"),
    (rf"{_B}(bold|fmri|rest(?!ore)|resting|ep2d_bold)", "fmri", "functional (BOLD)"),
    (rf"{_B}(swi|swan|venobold|susc|swip|mnip|t2\*|t2_?star|t2s(?![a-z0-9])|hemo|gre_?t2)", "swi",
     "susceptibility or T2* weighted"),
    (rf"{_B}(tof|angio|mra(?![a-z])|inhance|pc_?3d)", "angio", "an angiogram"),
    (rf"{_B}t1(?![0-9]).*({_B}flair|{_B}tir|{_B}ir(?![a-z]))|{_B}(flair|tir|ir)(?![a-z]).*{_B}t1(?![0-9])", "t1",
     "a T1-weighted inversion recovery ('T1 FLAIR')"),
    (r"(flair|tirm|dark[-_ ]?fluid|fluid[-_ ]?atten|spcir)", "flair", "FLAIR"),
    (rf"{_B}stir", "other", "a STIR (short inversion time, fat suppressed)"),
    (rf"{_B}(t1(?![0-9])|mp-?_?rage|mp2rage|memprage|i?r?-?f?spgr|bravo|tfe(?![a-z])|vibe|tfl(?![a-z])|mdeft)", "t1",
     "T1-weighted"),
    (rf"{_B}(pd(?![a-z0-9])|pdw|pd_|proton[-_ ]?density)", "pd", "proton-density weighted"),
    (rf"{_B}(t2(?![0-9])|fse|frfse|tse(?![a-z])|haste|blade|propeller)", "t2", "T2-weighted"),
)


@dataclass(frozen=True)
class SequenceCall:
    """What a series' metadata says it is.

    Parameters
    ----------
    contrast : str or None
        One of :data:`Contrast`; None when the metadata says nothing usable, or its names and
        timing contradict each other (then ``reasons`` says how).
    reasons : tuple of str
        Why, in words a reader can check against the scanner's console, e.g.
        ``"description 'AX T2 FLAIR' names FLAIR"``, ``"TI 2500 ms at TR 9000 ms"``.
    acquisition : "2D", "3D" or None
        From ``MRAcquisitionType``, else from a "3D" in the names; None when unknown.
    """

    contrast: Contrast | None
    reasons: tuple[str, ...]
    acquisition: Acquisition | None


def call_sequence(metadata: Mapping[str, Any]) -> SequenceCall:
    """Say what kind of MR series ``metadata`` (BIDS sidecar keys, seconds) describes.

    Values of the wrong type are ignored, so an odd sidecar never raises.
    """
    acquisition = _acquisition(metadata)
    modality = _text(metadata.get("Modality")).upper()
    if modality and modality != "MR":
        return SequenceCall("other", (f"modality {modality}, not MR",), acquisition)
    marked = _call_from_image_type(metadata.get("ImageType"))
    if marked is not None:
        return SequenceCall(marked[0], (marked[1],), acquisition)
    volumes = _number(metadata.get("NumberOfVolumes"))
    b_values = _numbers(metadata.get("DiffusionBValues"))
    if b_values and max(b_values) > 0:
        return SequenceCall("dwi", (f"diffusion b-values up to {max(b_values):g} s/mm²",), acquisition)
    if volumes is not None and volumes > 1:
        return SequenceCall("fmri", (f"{volumes:g} volumes in one series",), acquisition)
    named = _call_from_names(metadata)
    timed = _call_from_timing(metadata)
    if named is None and timed is None:
        return SequenceCall(None, (), acquisition)
    if named is None:
        assert timed is not None
        return SequenceCall(timed[0], (timed[1],), acquisition)
    if timed is None or timed[0] == named[0]:
        return SequenceCall(named[0], tuple(r for r in (named[1], timed and timed[1]) if r), acquisition)
    if {named[0], timed[0]} <= {"flair", "t1", "t2", "pd"}:
        # Names and timing disagree about the weighting: neither is trusted; the image decides.
        reason = f"{named[1]}, but {timed[1]} (names and timing disagree)"
        return SequenceCall(None, (reason,), acquisition)
    return SequenceCall(named[0], (named[1],), acquisition)


def _call_from_image_type(value: Any) -> tuple[Contrast, str] | None:
    values = {_text(v).upper() for v in value} if isinstance(value, Sequence) and not isinstance(value, str) else set()
    if isinstance(value, str):
        values = {v.strip().upper() for v in re.split(r"[\\/]", value)}
    for markers, contrast, what in _IMAGE_TYPE_MARKERS:
        found = sorted(values & markers)
        if found:
            return contrast, f"ImageType {found[0]}: {what}"
    if values and "DERIVED" in values and "SECONDARY" in values:
        return "derived", "ImageType DERIVED/SECONDARY: a derived image"
    return None


def _call_from_names(metadata: Mapping[str, Any]) -> tuple[Contrast, str] | None:
    for key, label in (("SeriesDescription", "description"), ("ProtocolName", "protocol"),
                       ("SequenceName", "sequence name")):
        text = _text(metadata.get(key))
        lowered = text.lower()
        for pattern, contrast, what in _NAME_KEYWORDS:
            if re.search(pattern, lowered):
                return contrast, f"{label} '{_short(text)}' names {what}"
    return None


def _call_from_timing(metadata: Mapping[str, Any]) -> tuple[Contrast, str] | None:
    """This tool's own timing rules (module docstring); None when they do not apply."""
    ti = _number(metadata.get("InversionTime"))
    te = _number(metadata.get("EchoTime"))
    tr = _number(metadata.get("RepetitionTime"))
    sequence = _text(metadata.get("ScanningSequence")).upper()
    shown = ", ".join(
        f"{name} {value * 1000:.0f} ms" for name, value in (("TI", ti), ("TE", te), ("TR", tr)) if value is not None
    )
    if ti is not None and ti > 0:
        if 1.4 <= ti <= 3.5 and (tr is None or tr >= 4.5):
            return "flair", f"{shown}: a fluid-nulling inversion (FLAIR)"
        if 0.4 <= ti < 1.4:
            return "t1", f"{shown}: a T1 inversion recovery"
        if ti < 0.3:
            return "other", f"{shown}: a short-TI inversion (STIR)"
        return None
    if "EP" in sequence:
        timing = f", {shown}" if shown else ""
        return "other", f"echo-planar sequence ({sequence}{timing}): DWI, BOLD or perfusion, not a structural scan"
    if te is None or tr is None:
        return None
    if "GR" in sequence:
        if tr < 0.1 and te < 0.01:
            return "t1", f"{shown}: a spoiled gradient echo (T1)"
        if te >= 0.015:
            return "swi", f"{shown}: a long-TE gradient echo (T2*)"
        return None
    if "SE" in sequence or not sequence:
        if te >= 0.06 and tr >= 2.0:
            return "t2", f"{shown}: a T2-weighted spin echo"
        if te < 0.04 and tr >= 1.5:
            return "pd", f"{shown}: a proton-density weighted spin echo"
        if tr < 1.0 and te < 0.03:
            return "t1", f"{shown}: a T1-weighted spin echo"
    return None


def _acquisition(metadata: Mapping[str, Any]) -> Acquisition | None:
    kind = _text(metadata.get("MRAcquisitionType")).upper()
    if kind in ("2D", "3D"):
        return "3D" if kind == "3D" else "2D"
    names = " ".join(_text(metadata.get(k)).lower() for k in ("SeriesDescription", "ProtocolName"))
    return "3D" if re.search(r"(?<![a-z0-9])3d", names) else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


def _numbers(value: Any) -> list[float]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [n for n in (_number(v) for v in value) if n is not None]


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
