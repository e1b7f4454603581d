"""Join the three kinds of evidence (blood markers, symptoms, MRI) into one assessment.

When both a lab panel and questionnaire answers are given, the panel is interpreted again with
the reported symptoms, so that every lab rule (suspected deficiency, "consider MMA", the
treatment pathway) sees them. Urgency rules, each reported as a reason with its source:

- **same-day**: a suspected deficiency with answers b12brain reads as possible spinal-cord
  (unsteady walking or falls, bladder symptoms, partial paralysis) or optic-nerve (new loss of
  vision) involvement [U] (NHS Lothian [V]: same-day assessment).
- **urgent**: a questionnaire red flag (b12brain's red-flag list [U]); any neurological symptom
  with a suspected deficiency (NICE CKS [S]); whatever makes the lab interpretation urgent.
- **soon**: the lab interpretation says so (deficiency confirmed or likely); lesions in a
  pattern the B12 literature describes with a suspected deficiency, or imaging features that
  point to other causes such as MS (both b12brain's rules [U]); neurological involvement while
  the markers say deficiency is unlikely (BSH 2014 [V]: the clinical picture is paramount,
  do not delay treatment when results disagree with strong clinical features) or while B12
  status is not measured (NICE NG239: test total or active B12).
- **routine** otherwise.

Suggestions for the clinician: those of the lab interpretation, spinal MRI when cord signs are
reported, and like-for-like follow-up imaging when a treated patient has lesions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from b12brain import __version__
from b12brain.assess.imaging import ImagingPattern
from b12brain.clinical import DISCLAIMER, URGENCY_ORDER, Finding, Urgency, most_urgent
from b12brain.errors import ConfigError
from b12brain.io.outdir import write_text_file
from b12brain.labs import LabResult, interpret_panel
from b12brain.labs.result import FOR_THE_CLINICIAN
from b12brain.symptoms import CORD_RED_FLAGS, OPTIC_NERVE_RED_FLAGS, SymptomResult

ASSESSMENT_SCHEMA_VERSION = "1.1"
#: Questionnaire red flags that make the assessment urgent on their own (b12brain's list).
URGENT_RED_FLAGS = frozenset({
    "gait_ataxia_or_falls", "bladder_symptoms", "visual_loss", "seizures", "partial_paralysis",
    "rapid_progression", "nitrous_oxide",
})
#: Lab urgency reasons that say what a reason found here already says (same rule, other input).
_SAME_AS = {"urgent_neurological": "neurological_symptoms_with_suspected_deficiency", "urgent_nitrous_oxide": "nitrous_oxide"}


@dataclass(frozen=True)
class Assessment:
    """B12 status, neurological involvement, imaging pattern and urgency, with their reasons."""

    b12_status: str
    suspected_deficiency: bool | None
    neurological_involvement: str
    imaging: ImagingPattern | None
    urgency: Urgency
    reasons: tuple[tuple[Urgency, Finding], ...]
    labs: LabResult | None = None
    symptoms: SymptomResult | None = None
    suggestions: tuple[Finding, ...] = ()

    @property
    def next_tests(self) -> tuple[Finding, ...]:
        """The next tests of the lab interpretation (which has read the reported symptoms)."""
        return () if self.labs is None else self.labs.next_tests

    @property
    def next_step(self) -> str:
        """The one next step the summary names: a same-day reason, the neurological treatment
        pathway, an urgent reason, a next test, a treatment or spinal MRI, a 'soon' reason."""
        first_reason = {level: f for level, f in reversed(self.reasons)}
        steps = [f for f in self.suggestions if f.code.startswith("treat_") or f.code == "spinal_mri"]
        order = [first_reason.get("same-day"),
                 next((f for f in steps if f.code == "treat_neurological"), None),
                 first_reason.get("urgent"),
                 *self.next_tests[:1], *steps[:1], first_reason.get("soon")]
        step = next((f for f in order if f is not None), None)
        return "none suggested" if step is None else step.message.removeprefix(FOR_THE_CLINICIAN)

    @property
    def summary(self) -> str:
        """One line: urgency, B12 status and the next step."""
        status = self.b12_status + (" (NICE NG239)" if self.labs is not None else "")
        return f"Summary: urgency {self.urgency}; B12 status {status}; next step: {self.next_step}"

    @property
    def sources(self) -> tuple[str, ...]:
        """Every full citation this assessment rests on, sorted."""
        findings = [f for _, f in self.reasons] + list(self.suggestions)
        if self.imaging is not None:
            findings += self.imaging.findings
        cited = {f.citation for f in findings}
        if self.labs is not None:
            cited.update(self.labs.sources)
        if self.symptoms is not None:
            cited.update(f.citation for f in self.symptoms.red_flags)
        return tuple(sorted(cited))

    def as_dict(self) -> dict[str, Any]:
        """Content of ``assessment.json`` (schema :data:`ASSESSMENT_SCHEMA_VERSION`)."""
        labs = None if self.labs is None else self.labs.as_dict()
        return {
            "schema_version": ASSESSMENT_SCHEMA_VERSION,
            "software": {"name": "b12brain", "version": __version__},
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "disclaimer": DISCLAIMER,
            "summary": self.summary,
            "urgency": self.urgency,
            "reasons": [{"urgency": level, **finding.as_dict()} for level, finding in self.reasons],
            "b12_status": {
                "status": self.b12_status,
                "suspected_deficiency": self.suspected_deficiency,
                "cb12": None if labs is None else labs["cb12"],
                "cb12_category": None if labs is None else labs["cb12_category"],
            },
            "next_tests": [f.as_dict() for f in self.next_tests],
            "flags": [] if self.labs is None else [f.as_dict() for f in self.labs.flags],
            "suggestions": [f.as_dict() for f in self.suggestions],
            "neurological_involvement": {
                "status": self.neurological_involvement,
                "symptoms": [] if self.symptoms is None else list(self.symptoms.neurological_symptoms),
                "red_flags": [] if self.symptoms is None else [f.as_dict() for f in self.symptoms.red_flags],
            },
            "imaging": None if self.imaging is None else self.imaging.as_dict(),
            "labs": labs,
            "symptoms": None if self.symptoms is None else self.symptoms.as_dict(),
            "sources": list(self.sources),
        }

    def format_text(self) -> str:
        """A readable report for a terminal: the one-line summary first, every line with its citation."""
        lines = [
            self.summary,
            "",
            f"Urgency: {self.urgency.upper()}",
            *(f"  [{level}] {finding}" for level, finding in self.reasons),
            f"B12 status: {self.b12_status}; suspected deficiency: "
            + {True: "yes", False: "no", None: "not assessed"}[self.suspected_deficiency],
        ]
        if self.labs is not None:
            lines += [f"  - {f}" for f in self.labs.context if not f.code.startswith(("b12_bsh", "b12_who"))]
        lines.append(f"Neurological involvement: {self.neurological_involvement}")
        if self.symptoms is not None:
            lines += [f"  - {text}" for text in self.symptoms.neurological_symptoms]
            lines.append(f"  {self.symptoms.mnsi_note}")
        if self.imaging is None:
            lines.append("Imaging: not given")
        else:
            im = self.imaging
            lines.append(f"Imaging: {im.pattern}; {im.lesion_count} lesions, {im.lesion_ml:.2f} mL "
                         f"(Fazekas estimate PV {im.fazekas_periventricular}, deep {im.fazekas_deep})")
            lines += [f"  - {finding}" for finding in im.findings]
        sections = (("Confounders and risk factors", () if self.labs is None else self.labs.flags),
                    ("Next tests", self.next_tests), ("Suggestions for the clinician", self.suggestions))
        for title, findings in sections:
            lines.append(f"{title}:" if findings else f"{title}: none")
            lines += [f"  - {f}" for f in findings]
        lines += ["", DISCLAIMER]
        return "\n".join(lines)


def assess(
    labs: LabResult | None = None,
    symptoms: SymptomResult | None = None,
    imaging: ImagingPattern | None = None,
) -> Assessment:
    """Join whichever evidence is given (at least one kind) into an :class:`Assessment`.

    Raises
    ------
    ConfigError
        No evidence was given.
    """
    if labs is None and symptoms is None and imaging is None:
        raise ConfigError("assessment: give at least one of lab results, symptom answers or an MRI summary")
    if labs is not None and symptoms is not None:
        labs = interpret_panel(labs.panel, symptoms=labs.symptoms_reported or symptoms.any_symptom,
                               neurological=labs.neurological_reported or symptoms.neurological_involvement,
                               nitrous_oxide=labs.nitrous_oxide_reported or symptoms.answers.is_yes("nitrous_oxide"))
    suspected = None if labs is None else labs.suspected_deficiency
    involvement = _neurological_involvement(labs, symptoms)
    flags = () if symptoms is None else symptoms.red_flags
    reasons: list[tuple[Urgency, Finding]] = []

    if suspected:
        reasons += _same_day(flags)
    reasons += [("urgent", flag) for flag in flags if flag.code in URGENT_RED_FLAGS]
    if involvement == "yes" and suspected:
        reasons.append(("urgent", Finding(
            "neurological_symptoms_with_suspected_deficiency",
            "Neurological symptoms with a suspected B12 deficiency: seek urgent specialist (haematology) advice "
            "and treat promptly.",
            "NICE_CKS", "S")))
    if labs is not None:
        found = {finding.code for _, finding in reasons}
        reasons += [(_lab_level(r), r) for r in labs.urgency_reasons if _SAME_AS.get(r.code) not in found]
    if imaging is not None and imaging.consistent_with_b12 and suspected:
        reasons.append(("soon", Finding(
            "b12_pattern_with_suspected_deficiency",
            f"White-matter lesions in a pattern the B12 literature describes ({imaging.pattern}) with a suspected "
            "deficiency: clinical review soon (b12brain's rule).",
            "B12BRAIN", "U")))
    if imaging is not None and imaging.points_to_other_causes:
        reasons.append(("soon", Finding(
            "other_cause_imaging_features",
            "Imaging features that point to other causes such as multiple sclerosis (lesions in two or more "
            "dissemination-in-space regions, or nine or more discrete lesions): ask for a neurological review of "
            "the differential (b12brain's rule).",
            "B12BRAIN", "U")))
    measured = labs is not None and labs.b12_status != "not assessable"
    if involvement == "yes" and measured and not suspected:
        reasons.append(("soon", Finding(
            "symptoms_despite_normal_markers",
            "Neurological symptoms while the markers say deficiency is unlikely: the clinical picture is paramount; "
            "when results disagree with strong clinical features, do not delay treatment.",
            "BSH_2014", "V")))
    if involvement == "yes" and not measured:
        reasons.append(("soon", Finding(
            "b12_not_measured",
            "Neurological symptoms and B12 status not measured: test total or active B12 first.",
            "NICE_NG239", "S")))

    reasons = _unique(reasons)
    return Assessment(
        b12_status="not assessed" if labs is None else labs.b12_status,
        suspected_deficiency=suspected,
        neurological_involvement=involvement,
        imaging=imaging,
        urgency=most_urgent([level for level, _ in reasons]),
        reasons=tuple(sorted(reasons, key=lambda r: URGENCY_ORDER.index(r[0]), reverse=True)),
        labs=labs,
        symptoms=symptoms,
        suggestions=_suggestions(labs, flags, imaging),
    )


def _same_day(flags: tuple[Finding, ...]) -> list[tuple[Urgency, Finding]]:
    """Same-day reasons: a suspected deficiency with possible cord or optic-nerve involvement."""
    reasons: list[tuple[Urgency, Finding]] = []
    for code, group, what in (("same_day_spinal_cord", CORD_RED_FLAGS, "spinal-cord"),
                              ("same_day_optic_nerve", OPTIC_NERVE_RED_FLAGS, "optic-nerve")):
        seen = [f.message.split(":")[0].split(" reported")[0] for f in flags if f.code in group]
        if seen:
            reasons.append(("same-day", Finding(
                code,
                f"Suspected B12 deficiency with possible {what} involvement ({'; '.join(seen)}; b12brain reads these "
                f"answers as {what} signs): same-day assessment.", "NHS_LOTHIAN", "V")))
    return reasons


def _suggestions(labs: LabResult | None, flags: tuple[Finding, ...], imaging: ImagingPattern | None) -> tuple[Finding, ...]:
    """The lab interpretation's suggestions, spinal MRI for cord signs, like-for-like follow-up imaging."""
    found = list(() if labs is None else labs.advice)
    if any(f.code in CORD_RED_FLAGS for f in flags):
        found.append(Finding(
            "spinal_mri",
            FOR_THE_CLINICIAN + "answers that may be cord signs are reported (unsteady walking or falls, bladder "
            "symptoms or partial paralysis; b12brain's reading): MRI of the cervical and thoracic spine for "
            "dorsal-column T2 hyperintensity (subacute combined degeneration).", "NICE_TREATMENT", "S"))
    treated = labs is not None and any(f.code.startswith("treat_") for f in labs.advice)
    if imaging is not None and imaging.lesion_count > 0 and treated:
        found.append(Finding(
            "follow_up_imaging",
            FOR_THE_CLINICIAN + "to follow the white-matter lesions after treatment, rescan with the same scanner "
            "protocol and the same b12brain model version where possible (b12brain's rule).", "B12BRAIN", "U"))
    return tuple(found)


def write_assessment(assessment: Assessment, path: Path | str, *, overwrite: bool = True) -> Path:
    """Write ``assessment.json`` atomically (missing folders created); return its path.

    Raises
    ------
    OutputError
        ``path`` is a folder, exists while ``overwrite`` is False, or cannot be written.
    """
    return write_text_file(assessment_json(assessment), path, overwrite=overwrite)


def assessment_json(assessment: Assessment) -> str:
    """The text of ``assessment.json``."""
    return json.dumps(assessment.as_dict(), indent=2, ensure_ascii=False) + "\n"


def _lab_level(reason: Finding) -> Urgency:
    """The level of a lab urgency reason: its code starts with it (``urgent_...``, ``soon_...``)."""
    return next((level for level in URGENCY_ORDER if reason.code.startswith(level)), "routine")


def _neurological_involvement(labs: LabResult | None, symptoms: SymptomResult | None) -> str:
    said = [x for x in (None if symptoms is None else symptoms.neurological_involvement,
                        None if labs is None else labs.panel.neurological_symptoms) if x is not None]
    return "not assessed" if not said else "yes" if any(said) else "no"


def _unique(reasons: list[tuple[Urgency, Finding]]) -> list[tuple[Urgency, Finding]]:
    """Keep the most urgent entry per finding code, in first-seen order."""
    best: dict[str, tuple[Urgency, Finding]] = {}
    for level, finding in reasons:
        kept = best.get(finding.code)
        if kept is None or most_urgent([kept[0], level]) != kept[0]:
            best[finding.code] = (level, finding)
    return list(best.values())
