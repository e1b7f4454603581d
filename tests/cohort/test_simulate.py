"""Simulated cohorts: seeded, with the effects asked for, refused options named, and the small
BIDS dataset of phantoms whose lesion load follows the simulated volumes."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from b12brain.cli.main import main
from b12brain.cohort.simulate import TABLE_COLUMNS, SimulationConfig, simulate_cohort
from b12brain.errors import ConfigError


def test_same_seed_same_cohort_and_the_table_contract() -> None:
    first = simulate_cohort(SimulationConfig(n=50, seed=7)).table
    pd.testing.assert_frame_equal(first, simulate_cohort(SimulationConfig(n=50, seed=7)).table)
    assert not first.equals(simulate_cohort(SimulationConfig(n=50, seed=8)).table)
    assert list(first.columns) == list(TABLE_COLUMNS) and first["participant_id"].is_unique
    assert (first[["periventricular_ml", "deep_ml", "total_lesion_ml"]] >= 0).all().all()
    assert set(first["fazekas_periventricular"]) <= {0, 1, 2, 3} and set(first["sex"]) <= {"female", "male"}


def test_effects_move_the_outcomes_the_way_asked() -> None:
    def slope(effect: float) -> float:
        table = simulate_cohort(SimulationConfig(n=3000, seed=1, effects={"deep_ml": effect})).table
        return float(np.polyfit(table["b12"], np.log1p(table["deep_ml"]), 1)[0])

    assert slope(-0.5) < -0.001 < 0.001 < slope(0.5)


def test_missing_share_removes_lab_values() -> None:
    table = simulate_cohort(SimulationConfig(n=2000, seed=1, missing=0.2)).table
    assert 0.15 < table["b12"].isna().mean() < 0.25 and table["age"].notna().all()


@pytest.mark.parametrize(("config", "message"), [
    (SimulationConfig(n=0), "n: 0 is not a whole number"),
    (SimulationConfig(seed=-1), "seed: -1 must be a non-negative integer"),
    (SimulationConfig(missing=1.5), "missing: 1.5 is not a share"),
    (SimulationConfig(effects={"total_ml": 0.1}), "unknown outcome 'total_ml'"),
])
def test_bad_settings_are_refused(config: SimulationConfig, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        simulate_cohort(config)


def test_cli_writes_the_table_and_the_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim"
    assert main(["cohort", "simulate", "--n", "20", "--seed", "3", "--effect", "deep_ml=0.2", "--out", str(out)]) == 0
    table = pd.read_csv(out / "cohort.tsv", sep="\t")
    assert len(table) == 20
    truth = json.loads((out / "simulation.json").read_text())
    assert truth["effects_per_sd_b12"]["deep_ml"] == 0.2 and truth["seed"] == 3
    assert main(["cohort", "simulate", "--n", "20", "--effect", "deep_ml:0.2", "--out", str(tmp_path / "x")]) == 2
    assert "--effect: 'deep_ml:0.2' is not OUTCOME=NUMBER" in capsys.readouterr().err
    assert main(["cohort", "simulate", "--n", "-3", "--out", str(tmp_path / "x")]) == 2
    assert "--n: -3 is not a whole number" in capsys.readouterr().err
    assert main(["cohort", "simulate", "--n", "501", "--images", "--out", str(tmp_path / "x")]) == 2
    assert "--n: 501 phantoms would take hours" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_images_make_a_bids_dataset_whose_lesion_load_follows_the_table(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    # Two subjects with different periventricular loads; 10 mm slices keep it quick.
    assert main(["cohort", "simulate", "--n", "2", "--seed", "4", "--images", "--slice-mm", "10", "--out", str(out)]) == 0
    bids = out / "bids"
    description = json.loads((bids / "dataset_description.json").read_text())
    assert description["DatasetType"] == "raw" and description["BIDSVersion"]
    participants = pd.read_csv(bids / "participants.tsv", sep="\t")
    assert list(participants["participant_id"]) == ["sub-0001", "sub-0002"]
    sidecar = json.loads((bids / "participants.json").read_text(encoding="utf-8"))
    assert sidecar["b12"]["Units"] == "pmol/L" and sidecar["mma"]["Units"] == "µmol/L"
    for sub in participants["participant_id"]:
        image = nib.load(bids / sub / "anat" / f"{sub}_FLAIR.nii.gz")
        assert image.shape[:2] == (256, 256) and image.header.get_zooms()[2] == pytest.approx(10.0)
        assert image.get_data_dtype() == np.int16 and 200 < np.percentile(image.get_fdata(), 99) < 5000
    phantoms = pd.read_csv(out / "phantoms.tsv", sep="\t").set_index("participant_id")
    table = pd.read_csv(out / "cohort.tsv", sep="\t").set_index("participant_id")
    np.testing.assert_allclose(phantoms["drawn_periventricular_ml"], table["periventricular_ml"], atol=1e-3)
    # What is visible follows what was drawn: the subject with more drawn periventricular load shows more.
    order = phantoms["drawn_periventricular_ml"].sort_values().index
    assert phantoms.loc[order[0], "visible_periventricular_ml"] < phantoms.loc[order[1], "visible_periventricular_ml"]
    assert (phantoms["visible_periventricular_ml"] > 0).all()
