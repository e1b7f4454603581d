"""describe_imaging / read_summary: every pattern rule, the MS-pointing features, and bad summaries.

Summaries are synthetic dicts shaped like ``summary.json`` (``lesions`` + ``fazekas_estimate``).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from b12brain.assess import ImagingPattern, describe_imaging, read_summary
from b12brain.errors import FieldError, InputFileError
from b12brain.quantify import LESION_CLASSES, Burden, FazekasEstimate

CLASSES = ("periventricular", "deep", "juxtacortical", "infratentorial")


def make_summary(
    ml: dict[str, float] | None = None,
    count: dict[str, int] | None = None,
    *,
    pv_grade: int = 1,
    deep_grade: int = 0,
    lesion_count: int | None = None,
    lesion_ml: float | None = None,
    caps_lining_ml: float | None = None,
) -> dict[str, Any]:
    """A summary.json-like dict; totals default to the sums of the per-class figures; with
    ``caps_lining_ml``, schema 1.1."""
    ml_by_class = {c: 0.0 for c in CLASSES} | (ml or {})
    count_by_class = {c: 0 for c in CLASSES} | (count or {})
    summary = {
        "schema_version": "1.0",
        "lesions": {
            "lesion_count": sum(count_by_class.values()) if lesion_count is None else lesion_count,
            "lesion_ml": round(sum(ml_by_class.values()), 6) if lesion_ml is None else lesion_ml,
            "ml_by_class": ml_by_class,
            "count_by_class": count_by_class,
        },
        "fazekas_estimate": {"periventricular": pv_grade, "deep": deep_grade},
    }
    if caps_lining_ml is not None:
        summary |= {"schema_version": "1.1", "caps_lining": {"count": 1, "ml": caps_lining_ml}}
    return summary


def codes(pattern: ImagingPattern) -> list[str]:
    return [f.code for f in pattern.findings]


# --- patterns -------------------------------------------------------------------------------------

def test_classes_match_the_pipeline() -> None:
    assert tuple(LESION_CLASSES) == CLASSES


def test_no_lesion() -> None:
    result = describe_imaging(make_summary(pv_grade=0, deep_grade=0), "s.json")
    assert result.pattern == "none"
    assert result.consistent_with_b12 is False
    assert result.points_to_other_causes is False
    assert result.findings == ()
    assert result.lesion_count == 0 and result.lesion_ml == 0.0
    assert result.source == "s.json"


def test_caps_and_lining_alone_are_named_but_are_no_lesion_pattern() -> None:
    result = describe_imaging(make_summary(pv_grade=1, caps_lining_ml=0.85), "s.json")
    assert result.pattern == "none" and result.consistent_with_b12 is False
    assert codes(result) == ["caps_lining"]
    assert "0.85 mL" in result.findings[0].message and "grade 1" in result.findings[0].message
    # None set apart: no finding; a bad figure names its field.
    assert codes(describe_imaging(make_summary(pv_grade=0, caps_lining_ml=0.0))) == []
    bad = make_summary(caps_lining_ml=0.1)
    bad["caps_lining"]["ml"] = "a lot"
    with pytest.raises(FieldError, match="caps_lining.ml"):
        describe_imaging(bad, "s.json")


def test_periventricular_predominant_at_exactly_half() -> None:
    result = describe_imaging(make_summary({"periventricular": 5.0, "deep": 5.0}, {"periventricular": 2, "deep": 3}))
    assert result.pattern == "periventricular-predominant"
    assert result.consistent_with_b12 is True
    assert result.points_to_other_causes is False
    assert codes(result) == ["periventricular_predominant", "de_lau_association"]
    cut_off, literature = result.findings
    # The 50% cut-off is the tool's own; de Lau reports an association, not a cut-off.
    assert (cut_off.source, cut_off.level) == ("B12BRAIN", "U") and "b12brain's own cut-off" in cut_off.message
    assert "50% of 10.00 mL" in cut_off.message
    assert (literature.source, literature.level) == ("DE_LAU_2009", "V") and "not a diagnostic cut-off" in literature.message
    assert "%" not in literature.message


def test_just_below_half_periventricular_is_not_predominant() -> None:
    # 4.9 of 10 mL periventricular (49%), the rest deep: deep-predominant, not the B12 pattern.
    result = describe_imaging(make_summary({"periventricular": 4.9, "deep": 5.1}, {"periventricular": 2, "deep": 3}))
    assert result.pattern == "deep-predominant"
    assert result.consistent_with_b12 is False
    assert codes(result) == ["not_b12_pattern"]
    assert "49% periventricular" in result.findings[0].message
    assert result.findings[0].source == "B12BRAIN"


def test_mostly_periventricular() -> None:
    result = describe_imaging(make_summary({"periventricular": 9.0, "deep": 1.0}, {"periventricular": 1, "deep": 1}, pv_grade=2))
    assert result.pattern == "periventricular-predominant"
    assert "90% of 10.00 mL" in result.findings[0].message


@pytest.mark.parametrize(("pv_grade", "deep_grade"), [(3, 0), (3, 1), (3, 3)])
def test_confluent_periventricular(pv_grade: int, deep_grade: int) -> None:
    # Deep-predominant volumes, but periventricular confluence decides the pattern.
    summary = make_summary({"periventricular": 1.0, "deep": 9.0}, {"periventricular": 1, "deep": 2},
                           pv_grade=pv_grade, deep_grade=deep_grade)
    result = describe_imaging(summary)
    assert result.pattern == "confluent periventricular lesions"
    assert result.consistent_with_b12 is True
    assert codes(result) == ["confluent_periventricular", "b12_leukoencephalopathy_literature"]
    estimate, literature = result.findings
    assert (estimate.source, estimate.level) == ("B12BRAIN", "U")  # the Fazekas grade is the tool's estimate
    assert f"periventricular {pv_grade}, deep {deep_grade}" in estimate.message and "estimate" in estimate.message
    assert (literature.source, literature.level) == ("B12_LEUKOENCEPHALOPATHY", "V")
    assert (result.fazekas_periventricular, result.fazekas_deep) == (pv_grade, deep_grade)


@pytest.mark.parametrize(("pv_grade", "deep_grade"), [(0, 2), (1, 2), (2, 3)])
def test_deep_confluence_alone_is_not_the_b12_pattern(pv_grade: int, deep_grade: int) -> None:
    """Issue 17: deep-only confluent lesions were labelled the cobalamin-deficiency pattern."""
    summary = make_summary({"periventricular": 1.0, "deep": 9.0}, {"periventricular": 1, "deep": 2},
                           pv_grade=pv_grade, deep_grade=deep_grade)
    result = describe_imaging(summary)
    assert result.pattern == "confluent deep lesions"
    assert result.consistent_with_b12 is False
    assert codes(result) == ["confluent_deep_not_b12_pattern"]
    assert "small-vessel" in result.findings[0].message and result.findings[0].source == "B12BRAIN"


@pytest.mark.parametrize(("pv_grade", "deep_grade"), [(2, 1), (1, 1), (2, 0)])
def test_grades_below_confluence(pv_grade: int, deep_grade: int) -> None:
    summary = make_summary({"periventricular": 1.0, "deep": 9.0}, {"periventricular": 1, "deep": 2},
                           pv_grade=pv_grade, deep_grade=deep_grade)
    result = describe_imaging(summary)
    assert result.pattern == "deep-predominant"
    assert not any(code.startswith("confluent") for code in codes(result))


def test_juxtacortical_volume_is_not_deep() -> None:
    # 30% PV, 30% deep, 40% juxtacortical: no region b12brain names holds half the volume.
    result = describe_imaging(make_summary({"periventricular": 3.0, "deep": 3.0, "juxtacortical": 4.0},
                                           {"periventricular": 1, "deep": 1, "juxtacortical": 1}))
    assert result.pattern == "mixed"
    assert result.consistent_with_b12 is False
    assert codes(result)[0] == "not_b12_pattern"


def test_one_juxtacortical_dot_beside_deep_lesions() -> None:
    """Issue 17: one juxtacortical dot once gave 'deep-predominant' by counting it as deep, and 'soon'."""
    result = describe_imaging(make_summary({"periventricular": 0.2, "deep": 0.2, "juxtacortical": 0.05},
                                           {"periventricular": 1, "deep": 1, "juxtacortical": 1}))
    assert result.pattern == "mixed"  # 44% PV, 44% deep
    assert "juxtacortical_lesions" in codes(result)
    lone = describe_imaging(make_summary({"deep": 2.0, "juxtacortical": 0.05}, {"deep": 2, "juxtacortical": 1}))
    assert lone.pattern == "deep-predominant" and lone.points_to_other_causes is False


def test_mixed() -> None:
    # 40% PV, 30% deep, 30% infratentorial: no region holds half the volume.
    result = describe_imaging(make_summary({"periventricular": 4.0, "deep": 3.0, "infratentorial": 3.0},
                                           {"periventricular": 1, "deep": 1, "infratentorial": 1}))
    assert result.pattern == "mixed"
    assert result.consistent_with_b12 is False
    assert result.findings[0].code == "not_b12_pattern"
    assert "mixed (40% periventricular, 30% deep" in result.findings[0].message


# --- features that point to other causes ----------------------------------------------------------

@pytest.mark.parametrize("region", ["juxtacortical", "infratentorial"])
def test_one_ms_typical_lesion(region: str) -> None:
    result = describe_imaging(make_summary({"deep": 1.0, region: 0.1}, {"deep": 2, region: 1}, pv_grade=0, deep_grade=1))
    assert result.points_to_other_causes is False  # reported, but alone not a feature that points elsewhere
    assert codes(result) == ["not_b12_pattern", f"{region}_lesions"]  # one region only: no dissemination
    finding = result.findings[1]
    assert finding.source == "MCDONALD_2017" and finding.level == "U"
    assert finding.message.startswith(f"1 {region} lesion(s)")


def test_dissemination_over_two_regions() -> None:
    result = describe_imaging(make_summary({"periventricular": 8.0, "juxtacortical": 0.2}, {"periventricular": 3, "juxtacortical": 1}))
    assert result.pattern == "periventricular-predominant"
    assert result.consistent_with_b12 is True and result.points_to_other_causes is True
    assert codes(result) == ["periventricular_predominant", "de_lau_association", "juxtacortical_lesions",
                             "dissemination_in_space"]
    assert "2 of the regions" in result.findings[-1].message
    assert "periventricular, juxtacortical" in result.findings[-1].message


def test_dissemination_over_three_regions() -> None:
    result = describe_imaging(make_summary({"periventricular": 8.0, "juxtacortical": 0.2, "infratentorial": 0.3},
                                           {"periventricular": 3, "juxtacortical": 1, "infratentorial": 2}))
    assert codes(result)[2:] == ["juxtacortical_lesions", "infratentorial_lesions", "dissemination_in_space"]
    assert "3 of the regions" in result.findings[-1].message


def test_periventricular_and_deep_is_not_dissemination() -> None:
    result = describe_imaging(make_summary({"periventricular": 6.0, "deep": 2.0}, {"periventricular": 3, "deep": 5}))
    assert result.points_to_other_causes is False
    assert codes(result) == ["periventricular_predominant", "de_lau_association"]


def test_eight_discrete_lesions_are_not_many() -> None:
    result = describe_imaging(make_summary({"periventricular": 3.0, "deep": 1.0}, {"periventricular": 4, "deep": 4}))
    assert result.lesion_count == 8
    assert result.points_to_other_causes is False
    assert "many_discrete_lesions" not in codes(result)


def test_nine_discrete_lesions_point_to_other_causes() -> None:
    result = describe_imaging(make_summary({"periventricular": 3.0, "deep": 1.0}, {"periventricular": 4, "deep": 5}))
    assert result.lesion_count == 9
    assert result.points_to_other_causes is True
    assert codes(result) == ["periventricular_predominant", "de_lau_association", "many_discrete_lesions"]
    assert result.findings[-1].message.startswith("9 discrete lesions without confluence")


def test_nine_confluent_lesions_are_not_discrete() -> None:
    result = describe_imaging(make_summary({"periventricular": 3.0, "deep": 1.0}, {"periventricular": 4, "deep": 5}, pv_grade=3))
    assert result.pattern == "confluent periventricular lesions"
    assert result.points_to_other_causes is False
    assert codes(result) == ["confluent_periventricular", "b12_leukoencephalopathy_literature"]


def test_figures_are_kept() -> None:
    summary = make_summary({"periventricular": 2.5, "deep": 0.5, "juxtacortical": 0.25, "infratentorial": 0.125},
                           {"periventricular": 2, "deep": 3, "juxtacortical": 1, "infratentorial": 1}, pv_grade=2, deep_grade=1)
    result = describe_imaging(summary, "x/summary.json")
    assert result.lesion_count == 7 and result.lesion_ml == 3.375
    assert result.ml_by_class == {"periventricular": 2.5, "deep": 0.5, "juxtacortical": 0.25, "infratentorial": 0.125}
    assert result.count_by_class == {"periventricular": 2, "deep": 3, "juxtacortical": 1, "infratentorial": 1}
    as_dict = result.as_dict()
    assert as_dict["summary"] == "x/summary.json"
    assert as_dict["fazekas_estimate"] == {"periventricular": 2, "deep": 1}
    assert as_dict["consistent_with_b12_literature"] is True and as_dict["points_to_other_causes"] is True
    assert [f["code"] for f in as_dict["findings"]] == codes(result)
    assert all("citation" in f for f in as_dict["findings"])
    json.dumps(as_dict, allow_nan=False)


# --- Burden input ---------------------------------------------------------------------------------

def test_burden_gives_the_same_result_as_the_dict() -> None:
    ml = {"periventricular": 6.0, "deep": 1.5, "juxtacortical": 0.5, "infratentorial": 0.0}
    count = {"periventricular": 3, "deep": 4, "juxtacortical": 2, "infratentorial": 0}
    burden = Burden(lesion_count=9, lesion_ml=8.0, count_by_class=count, ml_by_class=ml, brain_ml=1200.0,
                    intracranial_ml=1500.0, ventricle_ml=30.0, lesion_percent_of_brain=0.6667,
                    caps_lining_count=2, caps_lining_ml=0.4, fazekas=FazekasEstimate(2, 1))
    from_burden = describe_imaging(burden, "run/summary.json")
    from_dict = describe_imaging(make_summary(ml, count, pv_grade=2, deep_grade=1, caps_lining_ml=0.4),
                                 "run/summary.json")
    assert from_burden == from_dict
    assert from_burden.pattern == "periventricular-predominant"
    assert codes(from_burden) == ["periventricular_predominant", "de_lau_association", "caps_lining",
                                  "juxtacortical_lesions", "dissemination_in_space", "many_discrete_lesions"]
    # The Burden itself is not changed by reading it.
    assert burden.fazekas == FazekasEstimate(2, 1) and burden.lesion_count == 9


# --- read_summary ---------------------------------------------------------------------------------

def _write(tmp_path: Path, text: str | bytes, name: str = "summary.json") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_read_summary_round_trip(tmp_path: Path) -> None:
    summary = make_summary({"periventricular": 2.0}, {"periventricular": 1})
    path = _write(tmp_path, json.dumps(summary))
    assert read_summary(path) == summary
    assert describe_imaging(read_summary(str(path)), str(path)).pattern == "periventricular-predominant"


@pytest.mark.parametrize(
    ("content", "shows"),
    [
        (None, "no such file"),
        ('{"lesions": ', "not a readable JSON file"),
        (b"\xff\xfe\x00garbage", "not a readable JSON file"),
        ('{"schema_version": "1.0", "fazekas_estimate": {}}', "no 'lesions' object"),
        ('[{"lesions": {}}]', "no 'lesions' object"),
        ('{"schema_version": "2.0", "lesions": {}}', "schema_version '2.0' is not supported"),
        ('{"lesions": {}}', "schema_version None is not supported"),
    ],
    ids=["missing", "not-json", "not-utf8", "no-lesions", "list", "version-2", "no-version"],
)
def test_read_summary_errors_name_the_file(tmp_path: Path, content: str | bytes | None, shows: str) -> None:
    path = tmp_path / "summary.json" if content is None else _write(tmp_path, content)
    with pytest.raises(InputFileError) as err:
        read_summary(path)
    assert err.value.path == str(path)
    assert str(err.value).startswith(f"{path}: ")
    assert shows in str(err.value)


def test_read_summary_of_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "summary.json"
    folder.mkdir()
    with pytest.raises(InputFileError) as err:
        read_summary(folder)
    assert err.value.path == str(folder)


# --- bad figures ----------------------------------------------------------------------------------

def _set(summary: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    bad = copy.deepcopy(summary)
    *parents, last = dotted.split(".")
    node = bad
    for key in parents:
        node = node[key]
    if value is _MISSING:
        del node[last]
    else:
        node[last] = value
    return bad


_MISSING = object()


@pytest.mark.parametrize(
    ("field", "value", "shows"),
    [
        ("lesions.ml_by_class.deep", _MISSING, "is None"),
        ("lesions.ml_by_class.periventricular", -0.5, "is -0.5"),
        ("lesions.count_by_class.juxtacortical", math.nan, "is nan"),
        ("lesions.count_by_class.infratentorial", True, "is True"),
        ("lesions.lesion_ml", math.inf, "is inf"),
        ("lesions.lesion_ml", "3.0", "is '3.0'"),
        ("lesions.lesion_count", _MISSING, "is None"),
        ("lesions.lesion_count", -1, "is -1"),
        ("lesions.ml_by_class", [1.0, 0.0, 0.0, 0.0], "is [1.0"),
        ("lesions.count_by_class", _MISSING, "is None"),
        ("fazekas_estimate.deep", False, "is False"),
        ("fazekas_estimate.periventricular", None, "is None"),
        ("fazekas_estimate", _MISSING, "is None"),
        ("lesions", "many", "is 'many'"),
    ],
)
def test_bad_figure_names_the_dotted_field(field: str, value: Any, shows: str) -> None:
    summary = _set(make_summary({"periventricular": 2.0, "deep": 1.0}, {"periventricular": 1, "deep": 2}), field, value)
    with pytest.raises(FieldError) as err:
        describe_imaging(summary, "runs/a/summary.json")
    assert err.value.field == field
    assert err.value.source == "runs/a/summary.json"
    assert str(err.value).startswith(f"runs/a/summary.json: {field}: {shows}")
    assert "as `b12brain run` writes it" in err.value.expected


def test_nan_in_a_summary_file_is_refused(tmp_path: Path) -> None:
    """json.loads reads NaN; describe_imaging must still refuse it."""
    text = json.dumps(make_summary({"deep": 1.0}, {"deep": 1})).replace('"deep": 1.0', '"deep": NaN')
    path = _write(tmp_path, text)
    with pytest.raises(FieldError) as err:
        describe_imaging(read_summary(path), str(path))
    assert err.value.field == "lesions.ml_by_class.deep"
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("field", "value", "shows"),
    [
        ("fazekas_estimate.periventricular", 7, "is 7; expected a Fazekas grade 0-3"),
        ("fazekas_estimate.deep", 1.5, "is 1.5; expected a whole number >= 0"),
        ("lesions.count_by_class.deep", 2.5, "is 2.5; expected a whole number >= 0"),
        ("lesions.lesion_count", 1e20, "is 1e+20; expected a whole number >= 0"),
        ("lesions.ml_by_class.deep", 50.0, "the classes add up to 52 mL, more than lesions.lesion_ml (3 mL)"),
        ("lesions.count_by_class.juxtacortical", 4, "the classes add up to 7 lesions, not lesions.lesion_count (3)"),
    ],
)
def test_inconsistent_summary_is_refused(field: str, value: Any, shows: str) -> None:
    """A summary.json that `b12brain run` cannot have written is refused, not used."""
    summary = _set(make_summary({"periventricular": 2.0, "deep": 1.0}, {"periventricular": 1, "deep": 2}), field, value)
    with pytest.raises(FieldError) as err:
        describe_imaging(summary, "s.json")
    assert shows in str(err.value), str(err.value)


def test_class_volumes_within_rounding_of_the_total_are_accepted() -> None:
    summary = make_summary({"periventricular": 2.0, "deep": 1.0}, {"periventricular": 1, "deep": 2}, lesion_ml=2.9995)
    assert describe_imaging(summary).lesion_ml == 2.9995


def test_volume_without_lesions_is_refused() -> None:
    summary = make_summary(lesion_count=0, lesion_ml=1.0)
    with pytest.raises(FieldError, match="lesions.lesion_ml: 1 mL with 0 lesions"):
        describe_imaging(summary)


def test_a_huge_value_is_quoted_short(tmp_path: Path) -> None:
    summary = make_summary({"deep": 1.0}, {"deep": 1})
    summary["lesions"]["ml_by_class"]["deep"] = "x" * 200_000
    with pytest.raises(FieldError) as err:
        describe_imaging(summary, "s.json")
    assert len(str(err.value)) < 300
