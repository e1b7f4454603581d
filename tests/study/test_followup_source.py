"""A later follow-up finds the FLAIR a run chose in a study again, by its series UID."""

import dataclasses
from datetime import date

import numpy as np
import pytest

from b12brain.errors import InputFileError
from b12brain.followup.register import load_checked_flair
from b12brain.followup.visits import Visit
from b12brain.io import load_volume
from b12brain.outputs import file_sha256
from b12brain.study import resolve_scans


def test_the_flair_chosen_in_a_study_is_found_again_and_checked(patient_cd, tmp_path):
    with resolve_scans(study=patient_cd) as resolved:
        flair = next(c for c in resolved.choices if c.role == "flair")
        recorded = file_sha256(resolved.flair)
        expected = load_volume(resolved.flair)
    visit = Visit(
        run_dir=tmp_path, date=date(2026, 1, 5), date_source="--dates", flair_path=patient_cd,
        flair_sha256=recorded, flair_series_uid=flair.series.uid, voxel_mm=(1.0, 1.0, 1.0), slice_mm=1.0,
        field_t=None, model={}, lesion_ml={}, lesion_class={}, caps_lining_ml=0.0,
    )
    np.testing.assert_array_equal(load_checked_flair(visit).data, expected.data)
    with pytest.raises(InputFileError, match="SHA-256 differs"):
        load_checked_flair(dataclasses.replace(visit, flair_sha256="0" * 64))
