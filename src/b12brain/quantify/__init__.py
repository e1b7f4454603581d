"""Lesion measurement: per-lesion table, class, burden and estimated Fazekas grades."""

from b12brain.quantify.burden import Burden, FazekasEstimate, summarise_burden
from b12brain.quantify.lesions import LESION_CLASSES, Lesion, measure_lesions

__all__ = ["LESION_CLASSES", "Burden", "FazekasEstimate", "Lesion", "measure_lesions", "summarise_burden"]
