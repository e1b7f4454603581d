"""Suggestions for the clinician: treatment pathway by neurological involvement and cause,
folic acid, nitrous oxide and follow-up, each with its source."""

from __future__ import annotations

from typing import Any

import pytest

from b12brain.labs import LabResult, interpret_panel, parse_panel
from b12brain.labs.advice import ADVICE_RULES


def run(**fields: Any) -> LabResult:
    return interpret_panel(parse_panel(fields, "p"))


def advice(result: LabResult) -> dict[str, str]:
    return {f.code: f.message for f in result.advice}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"b12": "600 pmol/L"}, set()),
        ({}, set()),
        ({"b12": "250 pmol/L"}, {"no_folic_acid_alone"}),  # indeterminate: deficiency possible, nothing to treat yet
        ({"b12": "100 pmol/L"}, {"treat_intramuscular", "no_folic_acid_alone", "follow_up"}),
        ({"b12": "100 pmol/L", "neurological_symptoms": True}, {"treat_neurological", "no_folic_acid_alone", "follow_up"}),
        ({"b12": "100 pmol/L", "diet": "vegan"}, {"treat_oral_dietary", "no_folic_acid_alone", "follow_up"}),
        ({"b12": "100 pmol/L", "diet": "vegan", "conditions": ["pernicious anaemia"]},
         {"treat_intramuscular", "no_folic_acid_alone", "follow_up"}),
        ({"b12": "400 pmol/L", "nitrous_oxide": True}, {"treat_nitrous_oxide", "no_folic_acid_alone", "follow_up"}),
        ({"b12": "250 pmol/L", "mma": "0.6 umol/L"}, {"treat_intramuscular", "no_folic_acid_alone", "follow_up"}),
        ({"b12": "250 pmol/L", "mma": "0.2 umol/L"}, {"no_folic_acid_alone"}),  # less likely, still possible
    ],
)
def test_which_suggestions_apply(fields: dict[str, Any], expected: set[str]) -> None:
    assert set(advice(run(**fields))) == expected


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"conditions": ["autoimmune gastritis"]}, "irreversible cause recorded: hydroxocobalamin 1 mg IM three times a week for 2 weeks, then every 2-3 months, lifelong."),
        ({"gastric_surgery": "bariatric"}, "a cause that is not dietary: hydroxocobalamin 1 mg IM"),
        ({}, "cause not recorded (find it, e.g. anti-intrinsic-factor antibodies): if it is not dietary"),
    ],
)
def test_intramuscular_pathway_names_the_cause(fields: dict[str, Any], words: str) -> None:
    message = advice(run(b12="100 pmol/L", **fields))["treat_intramuscular"]
    assert words in message


def test_every_suggestion_is_for_the_clinician_and_cites_its_source() -> None:
    result = run(b12="100 pmol/L", neurological_symptoms=True, nitrous_oxide=True)
    found = {f.code: f for f in result.advice}
    assert set(found) == {"treat_neurological", "treat_nitrous_oxide", "no_folic_acid_alone", "follow_up"}
    for finding in found.values():
        assert finding.message.startswith("For the clinician to decide: ")
        assert finding.level == "S"
    neuro = found["treat_neurological"]
    assert neuro.source == "NICE_CKS_BNF" and "alternate days until there is no further improvement" in neuro.message
    assert found["treat_nitrous_oxide"].source == "NICE_NG239" and "whatever the total B12 result" in found["treat_nitrous_oxide"].message
    assert "subacute combined degeneration" in found["no_folic_acid_alone"].message
    assert "retesting is not needed while on injections" in found["follow_up"].message
    assert {r.source for r in ADVICE_RULES} <= {"NICE_CKS_BNF", "NICE_TREATMENT", "NICE_NG239"}
