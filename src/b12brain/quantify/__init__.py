"""Lesion measurement: per-lesion table, class, caps and lining, burden and estimated Fazekas grades."""

from b12brain.quantify.burden import Burden, FazekasEstimate, summarise_burden
from b12brain.quantify.lesions import LESION_CLASSES, Lesion, measure_lesions
from b12brain.quantify.lining import set_apart_caps_and_lining

__all__ = [
    "LESION_CLASSES",
    "Burden",
    "FazekasEstimate",
    "Lesion",
    "measure_lesions",
    "set_apart_caps_and_lining",
    "summarise_burden",
]
