"""``b12brain.assess_run``: the joined assessment from files or results, as the CLI makes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import b12brain
from b12brain.assess import assess, assess_run, describe_imaging, read_evidence, read_summary
from b12brain.errors import ConfigError, LabValueError
from b12brain.quantify import Burden, FazekasEstimate

EXAMPLES = Path(__file__).parents[2] / "examples"
SUMMARY = {"schema_version": "1.2", "lesions": {
    "lesion_count": 2, "lesion_ml": 3.0, "ml_by_class": {"periventricular": 2.5, "deep": 0.5, "juxtacortical": 0.0, "infratentorial": 0.0},
    "count_by_class": {"periventricular": 1, "deep": 1, "juxtacortical": 0, "infratentorial": 0}},
    "fazekas_estimate": {"periventricular": 2, "deep": 1}}


def test_files_give_what_the_parts_give(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps(SUMMARY), encoding="utf-8")
    joined = assess_run(summary, labs=EXAMPLES / "panel.json", symptoms=EXAMPLES / "answers.json")
    labs, symptoms = read_evidence(EXAMPLES / "panel.json", EXAMPLES / "answers.json")
    parts = assess(labs, symptoms, describe_imaging(read_summary(summary), str(summary)))
    assert joined.as_dict() | {"created_utc": None} == parts.as_dict() | {"created_utc": None}
    assert joined.imaging is not None and joined.imaging.source == str(summary)
    assert b12brain.assess_run is assess_run


def test_a_burden_is_named_by_source() -> None:
    burden = Burden(lesion_count=1, lesion_ml=2.0,
                    count_by_class={"periventricular": 1, "deep": 0, "juxtacortical": 0, "infratentorial": 0},
                    ml_by_class={"periventricular": 2.0, "deep": 0.0, "juxtacortical": 0.0, "infratentorial": 0.0},
                    brain_ml=1000.0, intracranial_ml=1400.0, ventricle_ml=20.0, lesion_percent_of_brain=0.2,
                    caps_lining_count=0, caps_lining_ml=0.0, fazekas=FazekasEstimate(periventricular=1, deep=0))
    result = assess_run(burden, source="out/summary.json")
    assert result.imaging is not None
    assert (result.imaging.pattern, result.imaging.source) == ("periventricular-predominant", "out/summary.json")


def test_no_evidence_and_bad_files_raise(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        assess_run()
    bad = tmp_path / "p.json"
    bad.write_text('{"b12": 150}', encoding="utf-8")
    with pytest.raises(LabValueError, match="p.json: b12: 150 has no unit"):
        assess_run(labs=bad)
