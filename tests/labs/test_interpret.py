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
        ({"b12": "120 pmol/L"}, "deficiency confirmed", True, False),
        ({"b12": "200 pmol/L"}, "indeterminate", False, False),  # no symptom, sign or risk factor
        ({"b12": "200 pmol/L", "age": 70}, "indeterminate", True, False),  # age >= 65 is a risk factor
        ({"b12": "200 pmol/L", "neurological_symptoms": True}, "indeterminate", True, False),
        ({"b12": "300 pmol/L"}, "deficiency unlikely", False, False),
        # two first-line markers: the lower category leads, and the output says they disagree
        ({"b12": "200 pmol/L", "holotc": "80 pmol/L"}, "indeterminate", False, True),
        ({"b12": "200 pmol/L", "holotc": "20 pmol/L"}, "deficiency confirmed", True, True),
        ({"b12": "120 pmol/L", "holotc": "80 pmol/L"}, "deficiency confirmed", True, True),
        ({"b12": "300 pmol/L", "holotc": "80 pmol/L"}, "deficiency unlikely", False, False),
        # MMA acts only on an indeterminate first-line result, against the default limit 0.45
        ({"b12": "200 pmol/L", "mma": "0.46 umol/L"}, "deficiency likely", True, False),
        ({"b12": "200 pmol/L", "mma": "0.45 umol/L"}, "deficiency less likely", False, False),
        ({"b12": "200 pmol/L", "mma": "0.35 umol/L", "mma_upper_limit": "0.28 umol/L"}, "deficiency likely", True, False),
        ({"b12": "300 pmol/L", "mma": "0.5 umol/L"}, "deficiency unlikely", False, False),
        ({"b12": "120 pmol/L", "mma": "0.2 umol/L"}, "deficiency confirmed", True, False),
        ({"mma": "0.8 umol/L"}, "not assessable", False, False),  # NICE starts with total or active B12
        # cB12 is shown beside the status, never moves it
        (ALL_FOUR, "deficiency less likely", False, True),  # holoTC 70 indeterminate leads; MMA 0.2 within the limit
        (LOW_FOUR, "deficiency confirmed", True, False),
        ({"b12": "700 pmol/L", "holotc": "150 pmol/L", "mma": "0.5 umol/L", "homocysteine": "8 umol/L", "age": 40},
         "deficiency unlikely", False, False),
        # nitrous oxide: a normal B12 does not make deficiency unlikely; homocysteine and MMA decide
        ({"b12": "400 pmol/L", "nitrous_oxide": True}, "indeterminate", True, False),
        ({"b12": "400 pmol/L", "homocysteine": "16 umol/L", "nitrous_oxide": True}, "deficiency likely", True, False),
        ({"b12": "400 pmol/L", "homocysteine": "12 umol/L", "mma": "0.2 umol/L", "nitrous_oxide": True},
         "deficiency less likely", True, False),
        ({"b12": "100 pmol/L", "homocysteine": "12 umol/L", "nitrous_oxide": True}, "deficiency confirmed", True, False),
    ],
)
def test_status_rule(fields: dict[str, Any], status: str, suspected: bool, disagree: bool) -> None:
    result = run(**fields)
    assert result.b12_status == status
    assert result.suspected_deficiency is suspected
    assert ("markers_disagree" in codes(result.flags)) is disagree
    if disagree:
        flag = next(f for f in result.flags if f.code == "markers_disagree")
        assert flag.source == "B12BRAIN" and "lower category leads" in flag.message
    context = {f.code: f for f in result.context}
    assert context["b12_status_rule"].message.startswith(f"B12 status '{status}'")
    rule = context["suspected_deficiency_rule"]
    assert rule.message.startswith(f"Suspected deficiency: {'yes' if suspected else 'no'}. 'suspected deficiency' (b12brain's rule)")
    assert rule.source == "B12BRAIN" and rule.level == "U"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"b12": "200 pmol/L", "mma": "0.46 umol/L"}, "is above the default upper reference limit 0.45"),
        ({"b12": "200 pmol/L", "mma": "0.3 umol/L", "mma_upper_limit": "0.28 umol/L"},
         "is above the laboratory's upper reference limit 0.28"),
        ({"b12": "200 pmol/L", "mma": "0.46 umol/L", "egfr": "45 mL/min/1.73m2"}, "reduced kidney function can raise MMA"),
        ({"b12": "400 pmol/L", "nitrous_oxide": True}, "does not make deficiency unlikely"),
        ({"mma": "0.8 umol/L"}, "MMA is a second-line test"),
        ({"b12": "200 pmol/L", "holotc": "20 pmol/L"}, "the lower category leads"),
    ],
)
def test_status_reason_says_why(fields: dict[str, Any], words: str) -> None:
    reason = next(f for f in run(**fields).context if f.code == "b12_status_rule")
    assert words in reason.message
    assert (reason.source, reason.level) == ("NICE_NG239", "S") and "as b12brain combines the markers" in reason.message


def test_seen_total_b12_and_holotc_both_confirmed_with_raised_mma() -> None:
    """Issue 17: cB12 'low B12' (-1.01) once overrode two NICE-confirmed markers."""
    full = run(b12="179 ng/L", holotc="24.9 pmol/L", mma="0.5 umol/L", homocysteine="16 umol/L", age=70)
    assert full.b12_status == "deficiency confirmed" and full.urgency == "soon"
    assert full.cb12 is not None and full.cb12_category == "low B12"
    beside = next(f for f in full.context if f.code == "cb12_beside_status")
    assert beside.message.startswith("B12 status deficiency confirmed by NICE NG239; cB12 -1.01 (low B12")
    fewer = run(b12="179 ng/L", holotc="24.9 pmol/L", age=70)
    assert (fewer.b12_status, fewer.urgency) == (full.b12_status, full.urgency)  # more tests do not lower urgency


def test_cb12_never_moves_the_status_and_disagreement_is_one_sentence() -> None:
    result = run(b12="200 pmol/L", holotc="20 pmol/L", mma="0.1 umol/L", homocysteine="5 umol/L", age=30)
    assert result.b12_status == "deficiency confirmed"
    assert result.cb12_category in ("adequate", "elevated")
    beside = next(f for f in result.context if f.code == "cb12_beside_status")
    assert "does not change the status" in beside.message and beside.source == "NUTRISTASIS"
    agree = next(f for f in run(**ALL_FOUR).context if f.code == "cb12_beside_status")
    assert "does not change" not in agree.message


@pytest.mark.parametrize(
    ("fields", "flag", "source", "level", "words"),
    [
        ({"egfr": "45 mL/min/1.73m2"}, "kidney_function_reduced", "CONFOUNDERS", "V", "about 40%"),
        ({"folate": "5 nmol/L"}, "low_folate", "CONFOUNDERS", "U", "unverified cut-off"),
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
        ({"nitrous_oxide": True}, "test_b12_first", False),  # homocysteine and MMA first
        ({"b12": "200 pmol/L", "neurological_symptoms": True}, "test_mma", True),
        ({"holotc": "40 pmol/L", "neurological_symptoms": True}, "test_mma", True),
        ({"b12": "200 pmol/L", "neurological_symptoms": False}, "test_mma", False),
        ({"b12": "200 pmol/L", "neurological_symptoms": True, "mma": "0.3 umol/L"}, "test_mma", False),
        ({"b12": "100 pmol/L", "neurological_symptoms": True}, "test_mma", False),
        ({"b12": "200 pmol/L", "haemoglobin": "100 g/L", "sex": "female"}, "test_mma", True),  # anaemia is a sign
        ({"nitrous_oxide": True}, "test_hcy_mma_nitrous", True),
        ({"nitrous_oxide": True, "homocysteine": "10 umol/L", "mma": "0.2 umol/L"}, "test_hcy_mma_nitrous", False),
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
        ({"mma": "0.46 umol/L"}, "test_egfr", True),
        ({"mma": "0.3 umol/L", "mma_upper_limit": "0.28 umol/L"}, "test_egfr", True),
        ({"mma": "0.3 umol/L"}, "test_egfr", False),
        ({"homocysteine": "16 umol/L"}, "test_egfr", True),
        ({"mma": "0.5 umol/L", "egfr": "90 mL/min/1.73m2"}, "test_egfr", False),
        # cB12 work-up only where it can add to an indeterminate first-line result
        ({"b12": "200 pmol/L"}, "test_cb12_markers", True),
        ({"b12": "600 pmol/L"}, "test_cb12_markers", False),
        ({"b12": "100 pmol/L"}, "test_cb12_markers", False),
        ({"b12": "250 pmol/L", "holotc": "50 pmol/L", "mma": "0.3 umol/L", "homocysteine": "12 umol/L", "age": 50},
         "test_cb12_markers", False),
    ],
)
def test_next_tests(fields: dict[str, Any], test: str, present: bool) -> None:
    assert (test in codes(run(**fields).next_tests)) is present


def test_adequate_b12_without_symptoms_gets_no_work_up() -> None:
    """Issue 17: B12 600 pmol/L once advised holoTC, MMA and homocysteine "to compute cB12"."""
    result = run(b12="600 pmol/L")
    assert result.next_tests == () and result.advice == () and result.urgency == "routine"
    assert result.summary.endswith("next step: no further test or treatment suggested by the blood-test rules")


def test_symptoms_from_elsewhere_reach_the_rules() -> None:
    """Issue 17: symptoms given with --symptoms once did not trigger "consider MMA"."""
    panel = parse_panel({"b12": "250 pmol/L"}, "p")
    assert "test_mma" not in codes(interpret_panel(panel).next_tests)
    told = interpret_panel(panel, symptoms=True)
    assert "test_mma" in codes(told.next_tests) and told.symptoms_reported and told.as_dict()["symptoms_reported"]
    neuro = interpret_panel(panel, symptoms=True, neurological=True)
    assert neuro.suspected_deficiency and neuro.urgency == "urgent"
    assert "urgent_neurological" in codes(neuro.urgency_reasons)


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
        ({"b12": "120 pmol/L"}, "soon", {"soon_deficiency"}),
        ({"b12": "200 pmol/L", "mma": "0.5 umol/L"}, "soon", {"soon_deficiency"}),
        ({"b12": "200 pmol/L"}, "routine", set()),
        ({"b12": "200 pmol/L", "neurological_symptoms": True}, "urgent", {"urgent_neurological"}),
        ({"b12": "120 pmol/L", "neurological_symptoms": True}, "urgent", {"urgent_neurological", "soon_deficiency"}),
        ({"b12": "300 pmol/L", "nitrous_oxide": True}, "urgent", {"urgent_nitrous_oxide"}),
        ({"mma": "0.5 umol/L", "neurological_symptoms": True}, "routine", set()),  # B12 not measured: test it first
    ],
)
def test_urgency(fields: dict[str, Any], urgency: str, reasons: set[str]) -> None:
    result = run(**fields)
    assert result.urgency == urgency
    assert codes(result.urgency_reasons) == reasons


def test_urgency_reasons_cite_their_sources() -> None:
    reason = run(b12="200 pmol/L", neurological_symptoms=True).urgency_reasons[0]
    assert (reason.source, reason.level) == ("NICE_CKS", "S") and "urgent specialist" in reason.message
    assert "'suspected deficiency' (b12brain's rule)" in reason.message  # the named rule, with its definition
    red_flag = run(nitrous_oxide=True).urgency_reasons[0]
    assert (red_flag.source, red_flag.level) == ("B12BRAIN", "U") and "b12brain's red-flag list" in red_flag.message
    soon = run(b12="100 pmol/L").urgency_reasons[0]
    assert (soon.source, soon.level) == ("B12BRAIN", "U") and "b12brain's rule" in soon.message


def test_no_output_cites_a_file_users_do_not_have() -> None:
    result = run(**LOW_FOUR, egfr="50 mL/min/1.73m2", folate="5 nmol/L", nitrous_oxide=True, neurological_symptoms=True,
                 mcv="90 fL", haemoglobin="100 g/L", sex="male")
    text = json.dumps(result.as_dict(), ensure_ascii=False) + result.format_text()
    assert "CLINICAL.md" not in text and "docs/clinical-reference.md" in text


def test_pregnancy_prefers_active_b12() -> None:
    test = {f.code: f for f in run(pregnant=True, b12="120 pmol/L").next_tests}["test_holotc_pregnancy"]
    assert (test.source, test.level) == ("NICE_NG239", "S") and "active B12 (holoTC) is the preferred test" in test.message


def test_as_dict_is_json_ready_with_the_agreed_keys() -> None:
    result = run(id="S-7", b12="200 pg/mL", **{k: v for k, v in LOW_FOUR.items() if k != "b12"}, egfr="50 mL/min/1.73m2")
    d = json.loads(json.dumps(result.as_dict()))
    assert {"summary", "cb12", "cb12_category", "cb12_note", "markers", "b12_status", "suspected_deficiency", "flags",
            "next_tests", "advice", "urgency", "urgency_reasons", "sources", "disclaimer", "mma_upper_limit"} <= set(d)
    assert d["disclaimer"] == DISCLAIMER and d["id"] == "S-7"
    assert result.cb12 is not None and d["cb12"] == round(result.cb12, 2) == -1.55  # B12 147.6 instead of 120
    b12 = d["markers"]["b12"]
    assert (b12["value"], b12["unit"], b12["value_seen"], b12["unit_seen"]) == (147.6, "pmol/L", 200.0, "pg/mL")
    assert {"category", "rule", "source"} <= set(b12) and b12["source"] == "NICE_NG239"
    assert all({"code", "message", "source", "level", "citation"} <= set(f)
               for f in d["flags"] + d["next_tests"] + d["advice"] + d["urgency_reasons"])
    assert "kidney_function_reduced" in {f["code"] for f in d["flags"]}


def test_sources_are_the_distinct_full_citations_used() -> None:
    result = run(**LOW_FOUR, egfr="50 mL/min/1.73m2")
    assert len(result.sources) == len(set(result.sources))
    used = {f.source for f in (*result.flags, *result.next_tests, *result.advice, *result.urgency_reasons, *result.context)}
    used |= {m.finding.source for m in result.markers.values()} | {"FEDOSOV_2015", "NUTRISTASIS"}
    assert set(result.sources) == {SOURCES[k] for k in used}


def test_format_text_lists_every_line_with_its_citation() -> None:
    result = run(id="S-1", **LOW_FOUR, neurological_symptoms=True)
    text = result.format_text()
    assert text.splitlines()[0] == result.summary
    assert result.summary.startswith("Summary: B12 status deficiency confirmed (NICE NG239); urgency urgent; next step: "
                                     "with neurological involvement, seek specialist (haematology) advice urgently")
    assert "S-1" in text and "cB12: -1.64 (possible deficiency)" in text
    assert "B12 status: deficiency confirmed" in text and "Urgency: urgent" in text
    for finding in (*result.flags, *result.next_tests, *result.advice, *result.urgency_reasons):
        assert f"{finding.message} ({finding.citation})" in text
    for marker in result.markers.values():
        assert marker.finding.citation in text
    assert text.rstrip().endswith(DISCLAIMER)


def test_format_text_without_cb12_says_why() -> None:
    text = run(b12="300 pmol/L").format_text()
    assert "cB12: not computed. cB12 needs B12, holoTC, MMA, homocysteine and age; missing: holoTC, MMA, homocysteine, age." in text
