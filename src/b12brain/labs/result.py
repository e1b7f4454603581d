"""Result records of the lab interpretation: per marker, per panel and per cohort."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from b12brain.clinical import DISCLAIMER, SOURCES, URGENCY_ORDER, Finding, Urgency
from b12brain.errors import LabValueError
from b12brain.labs.panel import Panel
from b12brain.labs.units import find_unit

#: Prefix of every suggestion for the clinician (dropped where a summary quotes one).
FOR_THE_CLINICIAN = "For the clinician to decide: "


@dataclass(frozen=True)
class MarkerResult:
    """One measured marker: canonical and as-given value, its category and the rule applied."""

    name: str
    value: float
    unit: str
    value_seen: float
    unit_seen: str
    category: str
    rule: str
    finding: Finding
    censor: str = ""  # "<", "<=", ">" or ">=" when the laboratory gave a bound

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "unit": self.unit,
            "value_seen": self.value_seen,
            "unit_seen": self.unit_seen,
            "censored": self.censor or None,
            "category": self.category,
            "rule": self.rule,
            "source": self.finding.source,
            "level": self.finding.level,
            "citation": self.finding.citation,
        }


@dataclass(frozen=True)
class LabResult:
    """The interpretation of one panel. Decision support, not a diagnosis (see ``DISCLAIMER``).

    ``b12_status`` follows the NICE NG239 sequence (``rules.STATUS_RULE``); ``cb12`` is shown
    beside it and never changes it (None when any of B12, holoTC, MMA, homocysteine or age is
    missing; ``cb12_note`` says which). ``context`` holds the lines that explain the status,
    the 'suspected deficiency' rule, cB12 beside the status and the context-only B12 bands.
    ``advice`` holds the suggestions for the clinician (treatment pathway, follow-up).
    ``symptoms_reported`` / ``neurological_reported`` / ``nitrous_oxide_reported``: what the
    caller (e.g. a questionnaire) reported and the rules read besides the panel.
    """

    panel: Panel
    markers: dict[str, MarkerResult]
    cb12: float | None
    cb12_category: str | None
    cb12_note: str
    b12_status: str
    suspected_deficiency: bool
    flags: tuple[Finding, ...]
    next_tests: tuple[Finding, ...]
    advice: tuple[Finding, ...]
    urgency: Urgency
    urgency_reasons: tuple[Finding, ...]
    sources: tuple[str, ...]
    context: tuple[Finding, ...] = ()
    symptoms_reported: bool = False
    neurological_reported: bool = False
    nitrous_oxide_reported: bool = False

    @property
    def next_step(self) -> str:
        """The one next step a summary names: with an urgent result the first treatment
        suggestion, else the first next test, else the first treatment suggestion (cautions
        such as the folic-acid warning are not steps)."""
        treatments = tuple(f for f in self.advice if f.code.startswith("treat_"))
        urgent = URGENCY_ORDER.index(self.urgency) >= URGENCY_ORDER.index("urgent")
        order = (treatments, self.next_tests) if urgent else (self.next_tests, treatments)
        first = next((group[0] for group in order if group), None)
        if first is None:
            return "no further test or treatment suggested by the blood-test rules"
        return first.message.removeprefix(FOR_THE_CLINICIAN)

    @property
    def summary(self) -> str:
        """One line: status, urgency and the next step."""
        return f"Summary: B12 status {self.b12_status} (NICE NG239); urgency {self.urgency}; next step: {self.next_step}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (cB12 rounded to 2 decimals; None becomes null)."""
        return {
            "id": self.panel.id,
            "source": self.panel.source,
            "summary": self.summary,
            "markers": {name: m.as_dict() for name, m in self.markers.items()},
            "mma_upper_limit": self.panel.mma_upper_limit,
            "b12_status": self.b12_status,
            "cb12": None if self.cb12 is None else round(self.cb12, 2),
            "cb12_category": self.cb12_category,
            "cb12_note": self.cb12_note,
            "suspected_deficiency": self.suspected_deficiency,
            "symptoms_reported": self.symptoms_reported,
            "neurological_symptoms_reported": self.neurological_reported,
            "nitrous_oxide_reported": self.nitrous_oxide_reported,
            "flags": [f.as_dict() for f in self.flags],
            "next_tests": [f.as_dict() for f in self.next_tests],
            "advice": [f.as_dict() for f in self.advice],
            "urgency": self.urgency,
            "urgency_reasons": [f.as_dict() for f in self.urgency_reasons],
            "context": [f.as_dict() for f in self.context],
            "sources": list(self.sources),
            "disclaimer": DISCLAIMER,
        }

    def format_text(self) -> str:
        """A readable report for a terminal: the one-line summary first; every line carries its citation."""
        title = f"B12 blood-test interpretation{f' for {self.panel.id}' if self.panel.id else ''} ({self.panel.source})"
        lines = [self.summary, "", title, "=" * len(title), "Markers:"]
        if not self.markers:
            lines.append("  (no marker measured)")
        for m in self.markers.values():
            same = m.value_seen == m.value and find_unit(m.name, m.unit_seen) == m.unit
            given = "" if same else f" (given as {m.censor}{m.value_seen:g} {m.unit_seen})"
            lines.append(f"  {m.finding.message}{given}  [{m.finding.citation}]")
        if self.cb12 is None:
            lines.append(f"cB12: not computed. {self.cb12_note}")
        else:
            lines.append(f"cB12: {self.cb12:.2f} ({self.cb12_category})  [{SOURCES['NUTRISTASIS']} [V]; {self.cb12_note}]")
        lines.append(f"B12 status: {self.b12_status}; suspected deficiency: {'yes' if self.suspected_deficiency else 'no'}")
        sections = (("Context", self.context), ("Flags", self.flags), ("Next tests", self.next_tests),
                    ("Suggestions for the clinician", self.advice))
        for title_, findings in sections:
            lines.append(f"{title_}:" if findings else f"{title_}: none")
            lines.extend(f"  - {f}" for f in findings)
        lines.append(f"Urgency: {self.urgency}" + ("" if self.urgency_reasons else " (no urgent or soon criterion met on the blood tests alone)"))
        lines.extend(f"  - {f}" for f in self.urgency_reasons)
        lines.append("Sources:")
        lines.extend(f"  - {s}" for s in self.sources)
        lines.append(DISCLAIMER)
        return "\n".join(lines)


@dataclass(frozen=True)
class CohortResult:
    """One output row per good input row, and one error per bad cell (its row left out) or per row
    left out for want of cB12 (``require_cb12``)."""

    table: pd.DataFrame
    errors: tuple[LabValueError, ...]
