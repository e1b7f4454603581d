"""What to do next, as suggestions for the clinician: treatment pathway, folic acid, follow-up.

Each suggestion is a :class:`~b12brain.labs.rules.Rule` (vectorised condition, sentence, source)
from NICE NG239 (2024), NICE CKS "Anaemia - B12 and folate deficiency" and the BNF
hydroxocobalamin monograph [S]. They are suggestions "for the clinician to decide", never
orders; the cause of a deficiency is read from the panel (diet, conditions, gastric surgery).
"""

from __future__ import annotations

import numpy as np

from b12brain.labs.result import FOR_THE_CLINICIAN
from b12brain.labs.rules import (
    CONFIRMED,
    INDETERMINATE,
    LESS_LIKELY,
    LIKELY,
    Basis,
    BoolArray,
    Rule,
    fixed,
)



def _treat(b: Basis) -> BoolArray:
    """A deficiency to treat: confirmed or likely on the markers, or nitrous oxide use."""
    return b.status_in(CONFIRMED, LIKELY) | b.nitrous


def _dietary_only(b: Basis) -> BoolArray:
    """A vegan or low animal-food diet and no malabsorptive cause recorded."""
    c = b.cols
    malabsorption = (c.conditions["pernicious anaemia"] | c.conditions["autoimmune gastritis"]
                     | c.conditions["coeliac disease"]
                     | c.is_choice("gastric_surgery", "gastrectomy", "bariatric", "ileal resection"))
    return c.is_choice("diet", "vegan", "low animal food") & ~malabsorption


def _irreversible(b: Basis) -> BoolArray:
    c = b.cols
    return (c.conditions["pernicious anaemia"] | c.conditions["autoimmune gastritis"]
            | c.is_choice("gastric_surgery", "gastrectomy", "ileal resection"))


_IM_COURSE = "hydroxocobalamin 1 mg IM three times a week for 2 weeks, then every 2-3 months"


def _intramuscular(b: Basis) -> str:
    """The no-neurological-involvement pathway for the first panel, by what the panel says of the cause."""
    if _irreversible(b)[0]:
        return f"no neurological involvement and an irreversible cause recorded: {_IM_COURSE}, lifelong."
    if b.cols.conditions["coeliac disease"][0] or b.cols.is_choice("gastric_surgery", "bariatric")[0]:
        return (f"no neurological involvement and a cause that is not dietary: {_IM_COURSE} "
                "(lifelong where the cause is irreversible).")
    return (f"no neurological involvement, cause not recorded (find it, e.g. anti-intrinsic-factor antibodies): if "
            f"it is not dietary, {_IM_COURSE} (lifelong where the cause is irreversible, e.g. autoimmune gastritis); "
            "if it is dietary, oral cyanocobalamin and dietary advice.")


ADVICE_RULES: tuple[Rule, ...] = (
    Rule("treat_neurological", "NICE_CKS_BNF", "S", lambda b: b.neurological & b.suspected,
         fixed(FOR_THE_CLINICIAN + "with neurological involvement, seek specialist (haematology) advice urgently; if it "
               "is not available at once, hydroxocobalamin 1 mg IM on alternate days until there is no further "
               "improvement, then 1 mg every 2 months.")),
    Rule("treat_intramuscular", "NICE_CKS_BNF", "S",
         lambda b: b.status_in(CONFIRMED, LIKELY) & ~b.neurological & ~_dietary_only(b) & ~b.nitrous,
         lambda p, b: FOR_THE_CLINICIAN + _intramuscular(b)),
    Rule("treat_oral_dietary", "NICE_TREATMENT", "S",
         lambda b: b.status_in(CONFIRMED, LIKELY) & ~b.neurological & _dietary_only(b) & ~b.nitrous,
         lambda p, b: FOR_THE_CLINICIAN + f"a dietary cause ({p.diet} diet, no malabsorptive cause recorded): oral "
                                          "cyanocobalamin and dietary advice."),
    Rule("treat_nitrous_oxide", "NICE_NG239", "S", lambda b: b.nitrous,
         fixed(FOR_THE_CLINICIAN + "nitrous oxide use: stop the exposure, and offer IM or oral B12 replacement whatever "
               "the total B12 result.")),
    Rule("no_folic_acid_alone", "NICE_TREATMENT", "S",
         lambda b: b.status_in(CONFIRMED, LIKELY, INDETERMINATE, LESS_LIKELY) | b.nitrous,
         fixed(FOR_THE_CLINICIAN + "do not give folic acid alone while B12 deficiency is possible: treat B12 first "
               "(folic acid alone can precipitate or worsen neurological damage, subacute combined degeneration).")),
    Rule("follow_up", "NICE_TREATMENT", "S", lambda b: _treat(b) | (b.neurological & b.suspected),
         fixed(FOR_THE_CLINICIAN + "once treatment starts, review the symptoms (e.g. at about 3 months); routine B12 "
               "retesting is not needed while on injections, as levels rise with treatment and do not reflect "
               "the response.")),
)


def advise(b: Basis) -> dict[str, BoolArray]:
    """Which suggestion applies to which panel (code -> one boolean per panel)."""
    return {r.code: np.asarray(r.applies(b), dtype=bool) for r in ADVICE_RULES}
