"""Totals per class, lesion load relative to brain volume, and estimated Fazekas grades."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from b12brain.quantify.lesions import LESION_CLASSES, Lesion

FAZEKAS_RULE = (
    "Estimated from the mask, not read by a radiologist [U: thresholds of this tool; the visual "
    "scale is Fazekas et al. 1987, AJR 149:351]. Periventricular: 0 no periventricular lesion; 1 'caps or pencil-thin "
    "lining' = lesions reach <= 5 mm from the ventricle surface; 2 'smooth halo' = <= 10 mm; "
    "3 'irregular, extending into deep white matter' = > 10 mm. Deep (deep + juxtacortical lesions): "
    "0 none; 1 'punctate foci' = longest lesion < 10 mm; 2 'beginning confluence' = 10-20 mm; "
    "3 'large confluent areas' = >= 20 mm. Caps and pencil-thin lining set apart from the lesions "
    "(quantify.lining) count for periventricular grade 1."
)
#: Farthest reach (mm) from the ventricle surface of periventricular grade 1 ("caps or lining").
PV_GRADE1_REACH_MM = 5.0
#: Lesions smaller than this (mL) do not raise a Fazekas grade above 0 on their own.
_FAZEKAS_MIN_ML = 0.01


@dataclass(frozen=True)
class FazekasEstimate:
    periventricular: int
    deep: int
    rule: str = field(default=FAZEKAS_RULE, repr=False)


@dataclass(frozen=True)
class Burden:
    """Whole-brain lesion figures."""

    lesion_count: int
    lesion_ml: float
    count_by_class: dict[str, int]
    ml_by_class: dict[str, float]
    brain_ml: float
    intracranial_ml: float
    ventricle_ml: float
    lesion_percent_of_brain: float
    caps_lining_count: int
    caps_lining_ml: float
    fazekas: FazekasEstimate

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise_burden(
    lesions: Sequence[Lesion],
    *,
    brain_ml: float,
    intracranial_ml: float,
    ventricle_ml: float,
    caps_lining: Sequence[Lesion] = (),
) -> Burden:
    """Aggregate a lesion table into whole-brain figures.

    ``brain_ml`` is brain parenchyma (lesions included, CSF excluded); the lesion fraction is
    relative to it. ``caps_lining`` (:mod:`b12brain.quantify.lining`) are counted apart from
    the lesions and raise the periventricular Fazekas estimate to 1.
    """
    count = {c: 0 for c in LESION_CLASSES}
    volume = {c: 0.0 for c in LESION_CLASSES}
    for lesion in lesions:
        count[lesion.lesion_class] += 1
        volume[lesion.lesion_class] += lesion.volume_ml
    total = sum(volume.values())
    return Burden(
        lesion_count=len(lesions),
        lesion_ml=round(total, 4),
        count_by_class=count,
        ml_by_class={k: round(v, 4) for k, v in volume.items()},
        brain_ml=round(brain_ml, 2),
        intracranial_ml=round(intracranial_ml, 2),
        ventricle_ml=round(ventricle_ml, 2),
        lesion_percent_of_brain=round(100.0 * total / brain_ml, 4) if brain_ml > 0 else float("nan"),
        caps_lining_count=len(caps_lining),
        caps_lining_ml=round(sum(x.volume_ml for x in caps_lining), 4),
        fazekas=estimate_fazekas(lesions, caps_lining),
    )


def estimate_fazekas(lesions: Sequence[Lesion], caps_lining: Sequence[Lesion] = ()) -> FazekasEstimate:
    """Fazekas periventricular and deep grades from lesion geometry (rule: :data:`FAZEKAS_RULE`).

    Examples
    --------
    >>> from b12brain.quantify.lesions import Lesion
    >>> cap = Lesion(1, 0.3, 300, 0, 0, 0, 1.0, 4.0, 9.0, "periventricular")
    >>> estimate_fazekas([cap])
    FazekasEstimate(periventricular=1, deep=0)
    """
    pv = [
        x.reach_from_ventricles_mm
        for x in [*lesions, *caps_lining]
        if x.lesion_class == "periventricular" and x.volume_ml >= _FAZEKAS_MIN_ML
    ]
    deep = [x.length_mm for x in lesions if x.lesion_class in ("deep", "juxtacortical") and x.volume_ml >= _FAZEKAS_MIN_ML]
    pv_grade = 0 if not pv else 1 if max(pv) <= PV_GRADE1_REACH_MM else 2 if max(pv) <= 10 else 3
    deep_grade = 0 if not deep else 1 if max(deep) < 10 else 2 if max(deep) < 20 else 3
    return FazekasEstimate(pv_grade, deep_grade)
