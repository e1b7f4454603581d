"""The imaging pattern of a ``summary.json``: the lesion pattern the B12 literature describes,
and features that point to other causes such as multiple sclerosis.

Rules (each reported as a :class:`~b12brain.clinical.Finding` with its source; the Fazekas
grades are b12brain's estimate from the mask [U] wherever they act):

- *none*: no lesion kept by the pipeline.
- *confluent periventricular lesions*: estimated Fazekas periventricular grade 3 (irregular,
  extending into the deep white matter); the cobalamin-deficiency leukoencephalopathy of the
  case series is confluent periventricular FLAIR hyperintensity [V].
- *confluent deep lesions*: estimated Fazekas deep grade >= 2 with periventricular grade < 3;
  deep confluence alone is the common small-vessel-disease pattern and is not labelled as the
  B12 pattern (b12brain's rule [U]).
- *periventricular-predominant*: at least half the lesion volume periventricular (a cut-off of
  b12brain's own [U]); poorer B12 status went with more severe, mainly periventricular, lesions
  in the Rotterdam Scan Study (de Lau et al. 2009) [V], an association, not a cut-off.
- *deep-predominant* (at least half the volume deep) / *mixed*: not the B12 pattern.
- Features that point to other causes (MS stays in the differential) [U]: lesions in at least
  two of the periventricular, juxtacortical and infratentorial regions (the regions of the
  McDonald 2017 dissemination-in-space criterion); nine or more discrete lesions without
  confluence. A juxtacortical or infratentorial lesion on its own is reported, but does not
  count as such a feature. Lesion shape (ovoid or not) is not measured.
- Caps or pencil-thin lining of the ventricles (summary schema 1.1, ``caps_lining``) are named
  as their own finding, the Fazekas periventricular grade-1 finding; they are not lesions here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from b12brain.clinical import Finding
from b12brain.errors import FieldError, InputFileError
from b12brain.io.jsonfile import JSONProblem, parse_json, read_json_bytes, shorten
from b12brain.quantify.burden import Burden
from b12brain.quantify.lesions import LESION_CLASSES

SUPPORTED_SUMMARY_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7")
#: Share of the lesion volume that makes a pattern "periventricular-predominant" or
#: "deep-predominant" (b12brain's own cut-off [U]).
PREDOMINANT_FRACTION = 0.5
#: The patterns the B12 literature describes.
B12_PATTERNS = ("confluent periventricular lesions", "periventricular-predominant")
#: Discrete lesions from which "many discrete lesions" is reported [U].
MANY_LESIONS = 9
MS_REGIONS = ("periventricular", "juxtacortical", "infratentorial")


@dataclass(frozen=True)
class ImagingPattern:
    """What the lesion figures of one scan say for the B12 question."""

    pattern: str
    consistent_with_b12: bool
    points_to_other_causes: bool
    lesion_count: int
    lesion_ml: float
    ml_by_class: dict[str, float]
    count_by_class: dict[str, int]
    fazekas_periventricular: int
    fazekas_deep: int
    findings: tuple[Finding, ...]
    source: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "pattern": self.pattern,
            "consistent_with_b12_literature": self.consistent_with_b12,
            "points_to_other_causes": self.points_to_other_causes,
            "lesion_count": self.lesion_count,
            "lesion_ml": self.lesion_ml,
            "ml_by_class": self.ml_by_class,
            "count_by_class": self.count_by_class,
            "fazekas_estimate": {"periventricular": self.fazekas_periventricular, "deep": self.fazekas_deep},
            "findings": [f.as_dict() for f in self.findings],
            "summary": self.source,
        }


def read_summary(path: Path | str) -> dict[str, Any]:
    """Read a ``summary.json`` written by ``b12brain run`` (at most 1 MiB, nested 32 deep).

    Its figures are checked by :func:`describe_imaging`.

    Raises
    ------
    InputFileError
        The file is missing, too large, not JSON, not a b12brain summary, or of an unsupported
        version.
    FieldError
        A number is NaN, infinite or longer than 40 characters (the dotted field is named).
    """
    path = Path(path)
    try:
        content = parse_json(read_json_bytes(path))
    except FileNotFoundError as err:
        raise InputFileError(path, "no such file; give the summary.json that `b12brain run` wrote") from err
    except OSError as err:
        raise InputFileError(path, f"not a readable JSON file ({err.strerror}); give the summary.json that `b12brain run` wrote") from err
    except JSONProblem as problem:
        if problem.where in ("(file)", "(top level)") or problem.where.startswith("line "):
            raise InputFileError(path, f"not a readable JSON file ({problem}); give the summary.json that `b12brain run` wrote") from None
        raise FieldError(str(path), problem.where, problem.problem, "a number as `b12brain run` writes it") from None
    if not isinstance(content, dict) or "lesions" not in content:
        raise InputFileError(path, "not a b12brain summary (no 'lesions' object); give the summary.json that `b12brain run` wrote")
    version = content.get("schema_version")
    if version not in SUPPORTED_SUMMARY_VERSIONS:
        raise InputFileError(path, f"summary schema_version {shorten(repr(version))} is not supported; "
                             f"expected one of {SUPPORTED_SUMMARY_VERSIONS}")
    return content


def describe_imaging(summary: Mapping[str, Any] | Burden, source: str = "summary.json") -> ImagingPattern:
    """Classify the lesion pattern of a ``summary.json`` content, or of a pipeline result's
    :class:`~b12brain.quantify.Burden` (see the module rules).

    Raises
    ------
    FieldError
        A lesion figure is missing or not a number (the message names the field).

    Examples
    --------
    >>> summary = {"lesions": {"lesion_count": 3, "lesion_ml": 6.0,
    ...     "ml_by_class": {"periventricular": 5.0, "deep": 1.0, "juxtacortical": 0.0, "infratentorial": 0.0},
    ...     "count_by_class": {"periventricular": 1, "deep": 2, "juxtacortical": 0, "infratentorial": 0}},
    ...     "fazekas_estimate": {"periventricular": 2, "deep": 1}}
    >>> describe_imaging(summary).pattern
    'periventricular-predominant'
    """
    figures = _burden_figures(summary) if isinstance(summary, Burden) else _summary_figures(summary, source)
    count, total_ml, ml_by_class, count_by_class, pv_grade, deep_grade, caps_ml = figures

    pattern, findings = _pattern(count, total_ml, ml_by_class, pv_grade, deep_grade)
    confluent = pattern.startswith("confluent")
    if caps_ml > 0:
        findings.append(Finding(
            "caps_lining",
            f"Caps or pencil-thin lining of the ventricles ({caps_ml:.2f} mL), the finding of Fazekas "
            "periventricular grade 1, reported apart from the lesions and not counted among them.",
            "FAZEKAS_1987", "S"))

    other = _other_cause_features(count, count_by_class, confluent)
    findings.extend(other)
    points_elsewhere = any(f.code in _OTHER_CAUSE_CODES for f in other)
    return ImagingPattern(
        pattern=pattern,
        consistent_with_b12=pattern in B12_PATTERNS,
        points_to_other_causes=points_elsewhere,
        lesion_count=count,
        lesion_ml=total_ml,
        ml_by_class=ml_by_class,
        count_by_class=count_by_class,
        fazekas_periventricular=pv_grade,
        fazekas_deep=deep_grade,
        findings=tuple(findings),
        source=source,
    )


class _Figures(NamedTuple):
    """The lesion figures the pattern rules read, from a Burden or a summary.json."""

    lesion_count: int
    total_ml: float
    ml_by_class: dict[str, float]
    count_by_class: dict[str, int]
    pv_grade: int
    deep_grade: int
    caps_ml: float


def _burden_figures(burden: Burden) -> _Figures:
    return _Figures(
        burden.lesion_count,
        burden.lesion_ml,
        {c: burden.ml_by_class[c] for c in LESION_CLASSES},
        {c: burden.count_by_class[c] for c in LESION_CLASSES},
        burden.fazekas.periventricular,
        burden.fazekas.deep,
        burden.caps_lining_ml,
    )


def _summary_figures(summary: Mapping[str, Any], source: str) -> _Figures:
    """The figures of a summary.json, checked for type, range and consistency (the classes add up
    to the totals, within rounding)."""
    lesions = _field(summary, "lesions", dict, source)
    count = _count(lesions, "lesion_count", source, "lesions.")
    total_ml = _number(lesions, "lesion_ml", source, "lesions.")
    ml_given = _field(lesions, "ml_by_class", dict, source, "lesions.")
    count_given = _field(lesions, "count_by_class", dict, source, "lesions.")
    ml_by_class = {c: _number(ml_given, c, source, "lesions.ml_by_class.") for c in LESION_CLASSES}
    count_by_class = {c: _count(count_given, c, source, "lesions.count_by_class.") for c in LESION_CLASSES}
    fazekas = _field(summary, "fazekas_estimate", dict, source)
    pv_grade = _grade(fazekas, "periventricular", source)
    deep_grade = _grade(fazekas, "deep", source)
    class_ml = sum(ml_by_class.values())
    if class_ml > total_ml * (1 + 1e-6) + _ML_ROUNDING:
        raise FieldError(source, "lesions.ml_by_class", f"the classes add up to {class_ml:g} mL, more than lesions.lesion_ml "
                         f"({total_ml:g} mL)", "class volumes that add up to lesion_ml, as `b12brain run` writes them")
    if sum(count_by_class.values()) != count:
        raise FieldError(source, "lesions.count_by_class", f"the classes add up to {sum(count_by_class.values())} lesions, "
                         f"not lesions.lesion_count ({count})", "class counts that add up to lesion_count, as `b12brain run` writes them")
    if (count == 0) != (total_ml == 0):
        raise FieldError(source, "lesions.lesion_ml", f"{total_ml:g} mL with {count} lesions",
                         "a volume of 0 exactly when there is no lesion, as `b12brain run` writes it")
    caps_ml = 0.0  # caps_lining is absent from schema 1.0
    if "caps_lining" in summary:
        caps = _field(summary, "caps_lining", dict, source)
        caps_ml = _number(caps, "ml", source, "caps_lining.")
        if "count" in caps:
            _count(caps, "count", source, "caps_lining.")
    return _Figures(count, total_ml, ml_by_class, count_by_class, pv_grade, deep_grade, caps_ml)


_ESTIMATE = "b12brain's Fazekas estimate from the lesion mask [U]"
#: Features that point to other causes (a lone juxtacortical or infratentorial lesion does not).
_OTHER_CAUSE_CODES = frozenset({"dissemination_in_space", "many_discrete_lesions"})


def _pattern(count: int, total_ml: float, ml_by_class: Mapping[str, float], pv_grade: int,
             deep_grade: int) -> tuple[str, list[Finding]]:
    """The lesion pattern and the findings that name it (see the module rules)."""
    if count == 0:
        return "none", []
    pv_share = ml_by_class["periventricular"] / total_ml if total_ml > 0 else 0.0
    deep_share = ml_by_class["deep"] / total_ml if total_ml > 0 else 0.0
    grades = f"estimated Fazekas periventricular {pv_grade}, deep {deep_grade}; {_ESTIMATE}"
    if pv_grade == 3:
        return "confluent periventricular lesions", [
            Finding("confluent_periventricular", f"Confluent periventricular lesions ({grades}).", "B12BRAIN", "U"),
            Finding("b12_leukoencephalopathy_literature",
                    "Confluent periventricular FLAIR hyperintensity is the pattern of cobalamin-deficiency "
                    "leukoencephalopathy, which can regress with B12.", "B12_LEUKOENCEPHALOPATHY", "V"),
        ]
    if deep_grade >= 2:
        return "confluent deep lesions", [Finding(
            "confluent_deep_not_b12_pattern",
            f"Confluent deep lesions without periventricular confluence ({grades}): the common small-vessel-disease "
            "pattern, not the pattern the B12 literature describes (b12brain's rule).", "B12BRAIN", "U")]
    if pv_share >= PREDOMINANT_FRACTION:
        return "periventricular-predominant", [
            Finding("periventricular_predominant",
                    f"Lesions are mainly periventricular ({100 * pv_share:.0f}% of {total_ml:.2f} mL; b12brain's own "
                    f"cut-off: at least {100 * PREDOMINANT_FRACTION:.0f}% of the lesion volume).", "B12BRAIN", "U"),
            Finding("de_lau_association",
                    "In the Rotterdam Scan Study poorer B12 status went with more severe, mainly periventricular, "
                    "white-matter lesions (an association in a population study, not a diagnostic cut-off).",
                    "DE_LAU_2009", "V"),
        ]
    pattern = "deep-predominant" if deep_share >= PREDOMINANT_FRACTION else "mixed"
    return pattern, [Finding(
        "not_b12_pattern",
        f"Lesions are {pattern} ({100 * pv_share:.0f}% periventricular, {100 * deep_share:.0f}% deep; b12brain's "
        f"{100 * PREDOMINANT_FRACTION:.0f}% cut-off): not the mainly periventricular pattern the B12 literature describes.",
        "B12BRAIN", "U")]


def _other_cause_features(count: int, count_by_class: Mapping[str, int], confluent: bool) -> list[Finding]:
    features = []
    for region in ("juxtacortical", "infratentorial"):
        if count_by_class[region]:
            features.append(Finding(
                f"{region}_lesions",
                f"{count_by_class[region]} {region} lesion(s): a location typical of multiple sclerosis rather than "
                "of B12-related damage (on its own not a feature that points to other causes).",
                "MCDONALD_2017", "U"))
    regions = [r for r in MS_REGIONS if count_by_class[r]]
    if len(regions) >= 2:
        features.append(Finding(
            "dissemination_in_space",
            f"Lesions in {len(regions)} of the regions of the MS dissemination-in-space criterion ({', '.join(regions)}); "
            "the spinal cord, the fourth region, is not imaged here.",
            "MCDONALD_2017", "U"))
    if count >= MANY_LESIONS and not confluent:
        features.append(Finding(
            "many_discrete_lesions",
            f"{count} discrete lesions without confluence: many separate lesions point to other causes such as MS "
            "(lesion shape, ovoid or not, is not measured).",
            "MCDONALD_2017", "U"))
    return features


#: Rounding allowed between the per-class volumes and the total (mL).
_ML_ROUNDING = 1e-3


def _field(mapping: Mapping[str, Any], key: str, kind: type, source: str, prefix: str = "") -> Any:
    value = mapping.get(key)
    if not isinstance(value, kind):
        raise FieldError(source, prefix + key, f"is {shorten(repr(value))}", f"a {kind.__name__} as `b12brain run` writes it")
    return value


def _number(mapping: Mapping[str, Any], key: str, source: str, prefix: str = "") -> float:
    value = mapping.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise FieldError(source, prefix + key, f"is {shorten(repr(value))}", "a number >= 0 as `b12brain run` writes it")
    return float(value)


def _count(mapping: Mapping[str, Any], key: str, source: str, prefix: str = "") -> int:
    value = _number(mapping, key, source, prefix)
    if not value.is_integer() or value > 1e9:
        raise FieldError(source, prefix + key, f"is {shorten(repr(mapping[key]))}", "a whole number >= 0 as `b12brain run` writes it")
    return int(value)


def _grade(fazekas: Mapping[str, Any], key: str, source: str) -> int:
    grade = _count(fazekas, key, source, "fazekas_estimate.")
    if grade > 3:
        raise FieldError(source, "fazekas_estimate." + key, f"is {grade}", "a Fazekas grade 0-3 as `b12brain run` writes it")
    return grade
