"""Shared vocabulary of the clinical parts: sources, findings, urgency and the disclaimer.

Every rule that labs, symptoms and the assessment apply is reported as a :class:`Finding`
that carries a sentence for the reader and the source it rests on, with its evidence level:
``V`` read in the source, ``S`` secondary source (a summary of the guideline), ``U``
unverified (used only where the output says so). A rule of b12brain's own cites
``"B12BRAIN"`` and prints its definition where it acts. Every rule, with its primary source,
is listed in the project's ``docs/clinical-reference.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

DISCLAIMER = (
    "b12brain is research and decision-support software. Its figures are automated estimates "
    "that a qualified clinician must review; they are not a diagnosis."
)

Urgency = Literal["routine", "soon", "urgent", "same-day"]
#: Urgency tiers, least urgent first. "same-day": suspected spinal-cord or optic-nerve
#: involvement with a suspected deficiency (NHS Lothian pathway [V]).
URGENCY_ORDER: tuple[Urgency, ...] = ("routine", "soon", "urgent", "same-day")
EvidenceLevel = Literal["V", "S", "U"]

SOURCES: dict[str, str] = {
    "NICE_NG239": "NICE NG239 (2024), Vitamin B12 deficiency in over 16s",
    "BMJ_2024": "BMJ 2024;385:q1019 (summary of NICE NG239)",
    "NICE_CKS": "NICE CKS, Anaemia - B12 and folate deficiency",
    "NHS_LOTHIAN": "NHS Lothian vitamin B12 pathway",
    "BSH_2014": "BSH 2014, Devalia et al., Br J Haematol 166:496",
    "FEDOSOV_2015": "Fedosov et al., Clin Chem Lab Med 2015 (combined indicator cB12)",
    "NUTRISTASIS": "Synnovis/Viapath Nutristasis Unit, cB12 interpretation categories",
    "MMA_REFERENCE": "MMA reference limits in use (0.28-0.45 umol/L by laboratory; > 0.75 highly suggestive)",
    "HCY_REFERENCE": "Homocysteine reference limits in use (~15 umol/L; > 20 suggests B12 deficiency with normal folate)",
    "WHO_B12_BANDS": "WHO-type serum B12 bands (< 148 deficient, 148-221 low, > 221 pmol/L adequate)",
    "CONFOUNDERS": "Confounders of the B12 markers (kidney function, folate, pregnancy, assay interference); references in b12brain's docs/clinical-reference.md",
    "NICE_TREATMENT": "NICE NG239 (2024) and NICE CKS, Anaemia - B12 and folate deficiency: treatment and follow-up",
    "NICE_CKS_BNF": "NICE CKS, Anaemia - B12 and folate deficiency, and BNF hydroxocobalamin monograph (doses)",
    "B12BRAIN": "b12brain's own rule, defined where it acts (docs/clinical-reference.md)",
    "PHENX_MNSI": "Michigan Neuropathy Screening Instrument questionnaire, PhenX protocol 140401",
    "SEED_ARTICLE": "b12brain seed article: demyelination symptoms of B12 deficiency and its case report",
    "DE_LAU_2009": "de Lau et al. 2009, J Neurol Neurosurg Psychiatry 80:149 (Rotterdam Scan Study)",
    "B12_LEUKOENCEPHALOPATHY": "case series of cobalamin-deficiency leukoencephalopathy (confluent periventricular FLAIR hyperintensity)",
    "LST_AI_RULE": "LST-AI lesion location rule (3x3x3 dilation touching the ventricles = periventricular)",
    "FAZEKAS_1987": "Fazekas et al. 1987, AJR 149:351 (white-matter hyperintensity grades)",
    "MCDONALD_2017": "Thompson et al. 2018, Lancet Neurol 17:162 (McDonald 2017 MS criteria)",
}


@dataclass(frozen=True)
class Finding:
    """One statement of a result: a stable ``code``, a sentence, and what it rests on.

    ``source`` is a key of :data:`SOURCES`; ``level`` is the evidence level (V, S or U).
    """

    code: str
    message: str
    source: str
    level: EvidenceLevel

    def __post_init__(self) -> None:
        assert self.source in SOURCES, f"unknown source key {self.source!r}"

    @property
    def citation(self) -> str:
        """The full reference, with the evidence level, e.g. ``"NICE NG239 (2024), ... [S]"``."""
        return f"{SOURCES[self.source]} [{self.level}]"

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form: code, message, source key, level and the full citation."""
        return {**asdict(self), "citation": self.citation}

    def __str__(self) -> str:
        return f"{self.message} ({self.citation})"


def most_urgent(levels: list[Urgency] | tuple[Urgency, ...]) -> Urgency:
    """The highest of several urgency levels (``"routine"`` for none).

    >>> most_urgent(["routine", "urgent", "soon"])
    'urgent'
    """
    return max(levels, key=URGENCY_ORDER.index, default="routine")
