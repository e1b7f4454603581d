"""A simulated cohort as a small BIDS dataset of phantoms whose lesion load follows the table.

Each subject's FLAIR is a :mod:`b12brain.phantom` subject (clinical axial slices, 5 mm by
default) whose periventricular and deep lesions are drawn to the subject's simulated volumes
(the phantom's ``edit_lesions`` hook redraws them with those targets; anatomy, contrast and noise
come from the subject's seed). What a reader would outline on the acquired slices is a little
less than what was drawn (thin lesions fade on thick slices); ``phantoms.tsv`` gives both.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from b12brain import __version__
from b12brain.io import save_nifti
from b12brain.labs.fields import FIELD
from b12brain.phantom import PhantomConfig
from b12brain.phantom._anatomy import Geometry, Ventricles
from b12brain.phantom._lesions import LOAD_SPECS, Lesions, make_lesions
from b12brain.phantom.generate import LesionLoad, render_phantom

#: participants.tsv columns taken from the table, with their BIDS sidecar description and unit.
PARTICIPANT_COLUMNS: dict[str, tuple[str, str]] = {
    "age": ("age at the scan", FIELD["age"].unit),
    "sex": ("sex (female or male)", ""),
    **{name: (FIELD[name].label, FIELD[name].unit) for name in ("b12", "holotc", "mma", "homocysteine", "folate", "egfr")},
    "hypertension": ("hypertension (1 yes, 0 no)", ""),
    "diabetes": ("diabetes (1 yes, 0 no)", ""),
    "smoking": ("current smoking (1 yes, 0 no)", ""),
}
#: Lesion loads whose pattern (deep lesion sizes, ventricle size) a subject's total volume borrows.
_PATTERN_BY_TOTAL_ML: tuple[tuple[float, LesionLoad], ...] = ((0.0, "none"), (10.0, "mild"), (60.0, "moderate"), (np.inf, "severe"))


def write_bids_dataset(table: pd.DataFrame, folder: Path, *, seed: int, slice_mm: float = 5.0) -> pd.DataFrame:
    """Write ``folder`` as a BIDS raw dataset of the subjects of ``table`` (a simulated cohort).

    ``folder`` must not exist (the caller stages it). Returns the phantoms' lesion volumes:
    participant_id, the simulated (drawn) and the visible periventricular and deep volumes (mL).
    """
    folder.mkdir()
    (folder / "dataset_description.json").write_text(json.dumps({
        "Name": "b12brain simulated cohort", "BIDSVersion": "1.9.0", "DatasetType": "raw",
        "GeneratedBy": [{"Name": "b12brain cohort simulate", "Version": __version__}],
    }, indent=2) + "\n")
    (folder / "README").write_text(
        "Simulated cohort written by `b12brain cohort simulate --images`: synthetic FLAIR phantoms whose lesion\n"
        "load follows the simulated periventricular and deep volumes; ages, sex and labs in participants.tsv.\n"
        "Test data for research software; no real person is described.\n")
    columns = ["participant_id", *PARTICIPANT_COLUMNS]
    table[columns].to_csv(folder / "participants.tsv", sep="\t", index=False, na_rep="n/a")
    sidecar: dict[str, dict[str, Any]] = {name: {"Description": text, **({"Units": unit} if unit else {})}
                                          for name, (text, unit) in PARTICIPANT_COLUMNS.items()}
    sidecar["sex"]["Levels"] = {"female": "female", "male": "male"}
    (folder / "participants.json").write_text(json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    rows: list[dict[str, Any]] = []
    for i, row in enumerate(table.itertuples(index=False)):
        pv, deep = float(row.periventricular_ml), float(row.deep_ml)
        phantom = render_phantom(PhantomConfig(seed=seed * 100_003 + i, lesion_load=_pattern(pv + deep), slice_mm=slice_mm),
                                 edit_lesions=_lesions_of(pv, deep, np.random.default_rng([seed, i, 3])))
        anat = folder / row.participant_id / "anat"
        anat.mkdir(parents=True)
        # Stored as int16, as scanners store FLAIRs: half the size of float32 (the signal is in the hundreds).
        save_nifti(np.round(phantom.flair.data), phantom.flair.affine, anat / f"{row.participant_id}_FLAIR.nii.gz",
                   dtype=np.int16)
        visible = phantom.truth["lesion_ml_by_class"]
        rows.append({"participant_id": row.participant_id, "drawn_periventricular_ml": round(pv, 3),
                     "drawn_deep_ml": round(deep, 3), "visible_periventricular_ml": visible["periventricular"],
                     "visible_deep_ml": visible["deep"], "slice_mm": slice_mm})
    return pd.DataFrame(rows)


def _pattern(total_ml: float) -> LesionLoad:
    return next(name for limit, name in _PATTERN_BY_TOTAL_ML if total_ml <= limit)


def _lesions_of(pv_ml: float, deep_ml: float, rng: np.random.Generator) -> Any:
    """An ``edit_lesions`` hook that redraws the lesions to ``pv_ml`` and ``deep_ml`` (at 1 mm)."""
    total = max(pv_ml, 0.0) + max(deep_ml, 0.0)

    def draw(lesions: Lesions, geo: Geometry, vent: Ventricles) -> Lesions:
        spec = LOAD_SPECS[_pattern(total) if total > 0 else "none"]
        share = max(pv_ml, 0.0) / total if total > 0 else 0.0
        return make_lesions(geo, vent, rng, replace(spec, total_ml=(total, total), pv_share=(share, share)))

    return draw
