"""Result records of the lab interpretation: per marker, per panel and per cohort."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from b12brain.clinical import DISCLAIMER, SOURCES, Finding, Urgency
from b12brain.errors import LabValueError
from b12brain.labs.panel import Panel
from b12brain.labs.units import find_unit


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

    ``cb12`` is None when any of B12, holoTC, MMA, homocysteine or age is missing, and
    ``cb12_note`` says which. ``context`` holds lines shown beside the rules but not used as
    rules (how the status was combined, the BSH 148 pmol/L cut-off, the WHO-type B12 bands).
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
    urgency: Urgency
    urgency_reasons: tuple[Finding, ...]
    sources: tuple[str, ...]
    context: tuple[Finding, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (cB12 rounded to 2 decimals; None becomes null)."""
        return {
            "id": self.panel.id,
            "source": self.panel.source,
            "markers": {name: m.as_dict() for name, m in self.markers.items()},
            "cb12": None if self.cb12 is None else round(self.cb12, 2),
            "cb12_category": self.cb12_category,
            "cb12_note": self.cb12_note,
            "b12_status": self.b12_status,
            "suspected_deficiency": self.suspected_deficiency,
            "flags": [f.as_dict() for f in self.flags],
            "next_tests": [f.as_dict() for f in self.next_tests],
            "urgency": self.urgency,
            "urgency_reasons": [f.as_dict() for f in self.urgency_reasons],
            "context": [f.as_dict() for f in self.context],
            "sources": list(self.sources),
            "disclaimer": DISCLAIMER,
        }

    def format_text(self) -> str:
        """A readable report for a terminal; every line carries its citation."""
        title = f"B12 blood-test interpretation{f' for {self.panel.id}' if self.panel.id else ''} ({self.panel.source})"
        lines = [title, "=" * len(title), "Markers:"]
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
        for title_, findings in (("Context", self.context), ("Flags", self.flags), ("Next tests", self.next_tests)):
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
    """One output row per good input row, and one error per bad cell (its row left out)."""

    table: pd.DataFrame
    errors: tuple[LabValueError, ...]
