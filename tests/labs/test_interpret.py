"""interpret_panel: status rule, confounder flags, next tests, urgency, as_dict and the text report."""

from __future__ import annotations

import json
from typing import Any

import pytest

from b12brain.clinical import DISCLAIMER, SOURCES
from b12brain.labs import LabResult, interpret_panel, parse_panel


def run(**fields: Any) -> LabResult:
    return interpret_panel(parse_panel(fields, "test-panel"))


def codes(findings: tuple[Any, ...]) -> set[str]:
    return {f.code for f in findings}


ALL_FOUR = {"b12": "350 pmol/L", "holotc": "70 pmol/L", "mma": "0.2 umol/L", "homocysteine": "10 umol/L", "age": 50}
LOW_FOUR = {"b12": "120 pmol/L", "holotc": "20 pmol/L", "mma": "0.8 umol/L", "homocysteine": "25 umol/L", "age": 50}


@pytest.mark.parametrize(
    ("fields", "status", "suspected", "disagree"),
    [
        ({}, "not assessable", False, False),
        ({"b12": "120 pmol/L"}, "deficiency likely", True, False),
        ({"b12": "200 pmol/L"}, "indeterminate", True, False),
        ({"b12": "300 pmol/L"}, "deficiency unlikely", False, False),
        ({"b12": "200 pmol/L", "holotc": "80 pmol/L"}, "deficiency unlikely", False, False),  # normal holoTC settles it
        ({"b12": "200 pmol/L", "holotc": "20 pmol/L"}, "deficiency likely", True, False),
        ({"b12": "120 pmol/L", "holotc": "80 pmol/L"}, "indeterminate", True, True),  # disagree
        ({"b12": "200 pmol/L", "mma": "0.35 umol/L"}, "indeterminate", True, False),
        ({"b12": "200 pmol/L", "mma": "0.2 umol/L"}, "deficiency unlikely", False, False),
        ({"mma": "0.8 umol/L"}, "deficiency likely", True, False),
        ({"b12": "300 pmol/L", "mma": "0.5 umol/L"}, "indeterminate", True, True),
        (ALL_FOUR, "deficiency unlikely", False, False),  # cB12 0.37 adequate decides
        (LOW_FOUR, "deficiency likely", True, False),  # cB12 -1.64 possible deficiency
        # cB12 adequate (0.67) but MMA raised: status follows cB12, suspicion stays (MMA raised), markers disagree
        ({"b12": "700 pmol/L", "holotc": "150 pmol/L", "mma": "0.5 umol/L", "homocysteine": "8 umol/L", "age": 40},
         "deficiency unlikely", True, True),
    ],
)
def test_status_rule(fields: dict[str, Any], status: str, suspected: bool, disagree: bool) -> None:
    result = run(**fields)
    assert result.b12_status == status
    assert result.suspected_deficiency is suspected
    assert ("markers_disagree" in codes(result.flags)) is disagree
    if disagree:
        flag = next(f for f in result.flags if f.code == "markers_disagree")
        assert flag.source == "BSH_2014" and flag.level == "V" and "do not delay treatment" in flag.message
    assert next(f for f in result.context if f.code == "b12_status_rule").message.startswith(f"B12 status '{status}'")


def test_cb12_decides_when_present() -> None:
    result = run(**ALL_FOUR)
    assert result.cb12 is not None and round(result.cb12, 2) == 0.37
    assert "follows cB12 'adequate'" in result.context[0].message


@pytest.mark.parametrize(
    ("fields", "flag", "source", "level", "words"),
    [
        ({"egfr": "45 mL/min/1.73m2"}, "kidney_function_reduced", "CONFOUNDERS", "V", "about 40%"),
        ({"folate": "5 nmol/L"}, "low_folate", "CONFOUNDERS", "U", "not in CLINICAL.md"),
        ({"pregnant": True, "sex": "female"}, "pregnancy_low_b12", "CONFOUNDERS", "V", "spuriously low"),
        ({"combined_oral_contraceptive": True}, "contraceptive_low_b12", "CONFOUNDERS", "V", "spuriously low"),
        ({"conditions": ["myeloma"]}, "myeloma_low_b12", "CONFOUNDERS", "V", "spuriously low"),
        ({"conditions": ["hiv"]}, "hiv_low_b12", "CONFOUNDERS", "V", "spuriously low"),
        ({"anti_if_antibody": "positive"}, "anti_if_positive", "BSH_2014", "V", "falsely normal B12"),
        ({"anti_if_antibody": "negative"}, "anti_if_negative", "BSH_2014", "V", "40-60%"),
        ({"age": 65}, "risk_age", "NICE_NG239", "S", "Age 65"),
        ({"diet": "vegan"}, "risk_diet", "NICE_NG239", "S", "vegan"),
        ({"diet": "low animal food"}, "risk_diet", "NICE_NG239", "S", "low animal food"),
        ({"conditions": ["pernicious anaemia"]}, "risk_pernicious_anaemia", "NICE_NG239", "S", "Pernicious anaemia"),
        ({"conditions": ["autoimmune gastritis"]}, "risk_autoimmune_gastritis", "NICE_NG239", "S", "Autoimmune gastritis"),
        ({"conditions": ["coeliac disease"]}, "risk_coeliac_disease", "NICE_NG239", "S", "Coeliac disease"),
        ({"conditions": ["type 1 diabetes"]}, "risk_type_1_diabetes", "NICE_NG239", "S", "Type 1 diabetes"),
        ({"conditions": ["sjogren"]}, "risk_sjogren", "NICE_NG239", "S", "Sjögren"),
        ({"gastric_surgery": "bariatric"}, "risk_gastric_surgery", "NICE_NG239", "S", "bariatric"),
        ({"metformin_years": 4}, "risk_metformin", "NICE_NG239", "S", "1.13 per year"),
        ({"ppi_years": 2}, "risk_ppi", "NICE_NG239", "S", "1.65"),
        ({"h2_blocker_years": 1}, "risk_h2_blocker", "NICE_NG239", "S", "1.25"),
        ({"colchicine": True}, "risk_colchicine", "NICE_NG239", "S", "Colchicine"),
        ({"topiramate": True}, "risk_topiramate", "NICE_NG239", "S", "Topiramate"),
        ({"pregabalin": True}, "risk_pregabalin", "NICE_NG239", "S", "Pregabalin"),
        ({"phenobarbital": True}, "risk_phenobarbital", "NICE_NG239", "S", "Phenobarbital"),
        ({"primidone": True}, "risk_primidone", "NICE_NG239", "S", "Primidone"),
        ({"nitrous_oxide": True}, "risk_nitrous_oxide", "NICE_NG239", "S", "nitrous oxide"),
        ({"mcv": "90 fL", "haemoglobin": "140 g/L", "sex": "male"}, "normal_mcv_or_hb", "CONFOUNDERS", "S", "about 25%"),
    ],
)
def test_flags(fields: dict[str, Any], flag: str, source: str, level: str, words: str) -> None:
    result = run(**fields)
    found = {f.code: f for f in result.flags}
    assert flag in found
    assert (found[flag].source, found[flag].level) == (source, level)
    assert words in found[flag].message


@pytest.mark.parametrize(
    ("fields", "absent"),
    [
        ({"egfr": "60 mL/min/1.73m2"}, "kidney_function_reduced"),
        ({"folate": "7 nmol/L"}, "low_folate"),
        ({"age": 64}, "risk_age"),
        ({"diet": "vegetarian"}, "risk_diet"),
        ({"gastric_surgery": "none"}, "risk_gastric_surgery"),
        ({"metformin_years": 0}, "risk_metformin"),
        ({"ppi_years": 1.9}, "risk_ppi"),
        ({"anti_if_antibody": "not tested"}, "anti_if_positive"),
        ({"mcv": "105 fL"}, "normal_mcv_or_hb"),
        ({"mcv": "90 fL", "haemoglobin": "110 g/L", "sex": "female"}, "normal_mcv_or_hb"),
        ({"colchicine": False}, "risk_colchicine"),
        ({}, "normal_mcv_or_hb"),
    ],
)
def test_flags_absent(fields: dict[str, Any], absent: str) -> None:
    assert absent not in codes(run(**fields).flags)


@pytest.mark.parametrize(
    ("fields", "test", "present"),
    [
        ({}, "test_b12_first", True),
        ({"holotc": "50 pmol/L"}, "test_b12_first", False),
        ({"b12": "200 pmol/L", "neurological_symptoms": True}, "test_mma", True),
        ({"holotc": "40 pmol/L", "neurological_symptoms": True}, "test_mma", True),
        ({"b12": "200 pmol/L", "neurological_symptoms": False}, "test_mma", False),
        ({"b12": "200 pmol/L", "neurological_symptoms": True, "mma": "0.3 umol/L"}, "test_mma", False),
        ({"b12": "100 pmol/L", "neurological_symptoms": True}, "test_mma", False),
        ({"nitrous_oxide": True}, "test_hcy_mma_nitrous", True),
        ({"pregnant": True}, "test_holotc_pregnancy", True),
        ({"pregnant": True, "holotc": "60 pmol/L"}, "test_holotc_pregnancy", False),
        ({"b12": "100 pmol/L"}, "test_anti_if", True),
        ({"b12": "100 pmol/L", "anti_if_antibody": "negative"}, "test_anti_if", False),
        ({"b12": "100 pmol/L", "anti_if_antibody": "not tested"}, "test_anti_if", True),
        ({"b12": "300 pmol/L", "conditions": "autoimmune gastritis"}, "test_anti_if", True),
        ({"b12": "300 pmol/L"}, "test_anti_if", False),
        ({"homocysteine": "16 umol/L"}, "test_folate", True),
        ({"homocysteine": "16 umol/L", "folate": "20 nmol/L"}, "test_folate", False),
        ({"homocysteine": "15 umol/L"}, "test_folate", False),
        ({"mma": "0.3 umol/L"}, "test_egfr", True),
        ({"homocysteine": "16 umol/L"}, "test_egfr", True),
        ({"mma": "0.3 umol/L", "egfr": "90 mL/min/1.73m2"}, "test_egfr", False),
        ({"mma": "0.2 umol/L"}, "test_egfr", False),
        ({"b12": "300 pmol/L"}, "test_cb12_markers", True),
        (ALL_FOUR, "test_cb12_markers", False),
    ],
)
def test_next_tests(fields: dict[str, Any], test: str, present: bool) -> None:
    assert (test in codes(run(**fields).next_tests)) is present


def test_next_test_messages_and_sources() -> None:
    result = run(b12="100 pmol/L", nitrous_oxide=True, neurological_symptoms=True)
    found = {f.code: f for f in result.next_tests}
    assert "parietal cell antibodies are not recommended" in found["test_anti_if"].message
    assert (found["test_anti_if"].source, found["test_anti_if"].level) == ("BSH_2014", "V")
    assert "20-50%" in found["test_hcy_mma_nitrous"].message and "80-90%" in found["test_hcy_mma_nitrous"].message
    mma = {f.code: f for f in run(b12="200 pmol/L", neurological_symptoms=True).next_tests}["test_mma"]
    assert (mma.source, mma.level) == ("BMJ_2024", "V")


@pytest.mark.parametrize(
    ("fields", "urgency", "reasons"),
    [
        ({"b12": "300 pmol/L"}, "routine", set()),
        ({"b12": "300 pmol/L", "neurological_symptoms": True}, "routine", set()),
        ({"b12": "120 pmol/L"}, "soon", {"soon_deficiency_likely"}),
        ({"b12": "200 pmol/L", "neurological_symptoms": True}, "urgent", {"urgent_neurological"}),
        ({"b12": "120 pmol/L", "neurological_symptoms": True}, "urgent", {"urgent_neurological", "soon_deficiency_likely"}),
        ({"b12": "300 pmol/L", "nitrous_oxide": True}, "urgent", {"urgent_nitrous_oxide"}),
        ({"mma": "0.5 umol/L", "neurological_symptoms": True}, "urgent", {"urgent_neurological", "soon_deficiency_likely"}),
    ],
)
def test_urgency(fields: dict[str, Any], urgency: str, reasons: set[str]) -> None:
    result = run(**fields)
    assert result.urgency == urgency
    assert codes(result.urgency_reasons) == reasons


def test_urgency_reasons_cite_their_sources() -> None:
    reason = run(b12="200 pmol/L", neurological_symptoms=True).urgency_reasons[0]
    assert (reason.source, reason.level) == ("NICE_CKS", "S") and "urgent specialist" in reason.message
    red_flag = run(nitrous_oxide=True).urgency_reasons[0]
    assert (red_flag.source, red_flag.level) == ("RED_FLAGS", "U") and "CLINICAL.md §6" in red_flag.message
    soon = run(b12="100 pmol/L").urgency_reasons[0]
    assert soon.level == "U" and "unverified" in soon.message


def test_pregnancy_prefers_active_b12() -> None:
    test = {f.code: f for f in run(pregnant=True, b12="120 pmol/L").next_tests}["test_holotc_pregnancy"]
    assert (test.source, test.level) == ("NICE_NG239", "S") and "active B12 (holoTC) is the preferred test" in test.message


def test_as_dict_is_json_ready_with_the_agreed_keys() -> None:
    result = run(id="S-7", b12="200 pg/mL", **{k: v for k, v in LOW_FOUR.items() if k != "b12"}, egfr="50 mL/min/1.73m2")
    d = json.loads(json.dumps(result.as_dict()))
    assert {"cb12", "cb12_category", "cb12_note", "markers", "b12_status", "suspected_deficiency", "flags", "next_tests",
            "urgency", "urgency_reasons", "sources", "disclaimer"} <= set(d)
    assert d["disclaimer"] == DISCLAIMER and d["id"] == "S-7"
    assert result.cb12 is not None and d["cb12"] == round(result.cb12, 2) == -1.55  # B12 147.6 instead of 120
    b12 = d["markers"]["b12"]
    assert (b12["value"], b12["unit"], b12["value_seen"], b12["unit_seen"]) == (147.6, "pmol/L", 200.0, "pg/mL")
    assert {"category", "rule", "source"} <= set(b12) and b12["source"] == "NICE_NG239"
    assert all({"code", "message", "source", "level", "citation"} <= set(f) for f in d["flags"] + d["next_tests"] + d["urgency_reasons"])
    assert "kidney_function_reduced" in {f["code"] for f in d["flags"]}


def test_sources_are_the_distinct_full_citations_used() -> None:
    result = run(**LOW_FOUR, egfr="50 mL/min/1.73m2")
    assert len(result.sources) == len(set(result.sources))
    used = {f.source for f in (*result.flags, *result.next_tests, *result.urgency_reasons, *result.context)}
    used |= {m.finding.source for m in result.markers.values()} | {"FEDOSOV_2015", "NUTRISTASIS"}
    assert set(result.sources) == {SOURCES[k] for k in used}


def test_format_text_lists_every_line_with_its_citation() -> None:
    result = run(id="S-1", **LOW_FOUR, neurological_symptoms=True)
    text = result.format_text()
    assert "S-1" in text and "cB12: -1.64 (possible deficiency)" in text
    assert "B12 status: deficiency likely" in text and "Urgency: urgent" in text
    for finding in (*result.flags, *result.next_tests, *result.urgency_reasons):
        assert f"{finding.message} ({finding.citation})" in text
    for marker in result.markers.values():
        assert marker.finding.citation in text
    assert text.rstrip().endswith(DISCLAIMER)


def test_format_text_without_cb12_says_why() -> None:
    text = run(b12="300 pmol/L").format_text()
    assert "cB12: not computed. cB12 needs B12, holoTC, MMA, homocysteine and age; missing: holoTC, MMA, homocysteine, age." in text
