"""Properties of the status and urgency rules over random panels (hypothesis).

- Adding a marker result never lowers the urgency (the rules are monotone: MMA only refines an
  indeterminate first-line result, two first-line markers take the lower category, cB12 never
  moves the status).
- The status never contradicts two concordant NICE first-line categories.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b12brain.clinical import URGENCY_ORDER
from b12brain.labs import LabResult, interpret_panel, parse_panel

ADDABLE = ("b12", "holotc", "mma", "homocysteine")
_UNITS = {"b12": "pmol/L", "holotc": "pmol/L", "mma": "umol/L", "homocysteine": "umol/L"}
# Values spread around every boundary: B12 (pmol/L) 132.83/132.84 and 258.3/258.31, holoTC 25 and 70,
# MMA 0.28 and 0.45 (limits) and 0.75, homocysteine 15.
_VALUES = {
    "b12": st.sampled_from([60.0, 132.83, 132.84, 200.0, 258.3, 258.31, 400.0, 900.0]),
    "holotc": st.sampled_from([10.0, 24.9, 25.0, 50.0, 70.0, 70.1, 120.0]),
    "mma": st.sampled_from([0.1, 0.28, 0.3, 0.45, 0.46, 0.75, 0.8, 2.0]),
    "homocysteine": st.sampled_from([6.0, 15.0, 15.1, 25.0]),
}


@st.composite
def panels(draw: st.DrawFn) -> dict[str, Any]:
    panel: dict[str, Any] = {}
    for marker in ADDABLE:
        if draw(st.booleans()):
            panel[marker] = f"{draw(_VALUES[marker])} {_UNITS[marker]}"
    if draw(st.booleans()):
        panel["mma_upper_limit"] = draw(st.sampled_from(["0.28 umol/L", "450 nmol/L", "0.6 umol/L"]))
    if draw(st.booleans()):
        panel["age"] = draw(st.sampled_from([30, 64, 65, 80]))
    for field in ("neurological_symptoms", "nitrous_oxide"):
        value = draw(st.sampled_from([None, False, True]))
        if value is not None:
            panel[field] = value
    if draw(st.booleans()):
        panel["egfr"] = draw(st.sampled_from(["45 mL/min/1.73m2", "90 mL/min/1.73m2"]))
    if draw(st.booleans()):
        panel["diet"] = draw(st.sampled_from(["omnivore", "vegan"]))
    return panel


def run(fields: dict[str, Any], symptoms: bool) -> LabResult:
    return interpret_panel(parse_panel(fields, "p"), symptoms=symptoms)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(panels(), st.sampled_from(ADDABLE), st.data(), st.booleans())
def test_adding_a_marker_never_lowers_urgency(panel: dict[str, Any], marker: str, data: st.DataObject,
                                              symptoms: bool) -> None:
    without = {k: v for k, v in panel.items() if k != marker}
    with_marker = without | {marker: f"{data.draw(_VALUES[marker])} {_UNITS[marker]}"}
    before, after = run(without, symptoms), run(with_marker, symptoms)
    assert URGENCY_ORDER.index(after.urgency) >= URGENCY_ORDER.index(before.urgency), (without, with_marker)
    assert after.suspected_deficiency >= before.suspected_deficiency


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(panels(), st.sampled_from(["deficiency confirmed", "indeterminate", "deficiency unlikely"]))
def test_status_never_contradicts_two_concordant_first_line_markers(panel: dict[str, Any], category: str) -> None:
    b12 = {"deficiency confirmed": "150 pg/mL", "indeterminate": "250 pg/mL", "deficiency unlikely": "400 pg/mL"}[category]
    holotc = {"deficiency confirmed": "20 pmol/L", "indeterminate": "40 pmol/L", "deficiency unlikely": "90 pmol/L"}[category]
    result = run(panel | {"b12": b12, "holotc": holotc}, symptoms=False)
    assert result.markers["b12"].category == result.markers["holotc"].category == category
    if category == "deficiency confirmed":
        assert result.b12_status == "deficiency confirmed"
    elif category == "indeterminate":
        assert result.b12_status in ("deficiency likely", "indeterminate", "deficiency less likely")
    elif panel.get("nitrous_oxide"):
        # Nitrous oxide: a normal B12 does not make deficiency unlikely; homocysteine and MMA decide, and the
        # status reason says so.
        reason = next(f for f in result.context if f.code == "b12_status_rule")
        assert result.b12_status != "deficiency confirmed" and "nitrous oxide use" in reason.message
    else:
        assert result.b12_status == "deficiency unlikely"
