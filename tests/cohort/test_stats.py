"""Cohort statistics: effects recovered from simulated cohorts, the effect table's fields,
missing data counted per variable and per subject, refusals, figures and the HTML summary."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from b12brain.cli.main import main
from b12brain.cohort.simulate import SimulationConfig, b12_population_moments, simulate_cohort
from b12brain.cohort.stats import EFFECT_COLUMNS, cohort_statistics, run_cohort_stats
from b12brain.cohort.stats_report import FILE_NAMES
from b12brain.cohort.stats_table import prepare_cohort, read_cohort_table
from b12brain.errors import ConfigError, InputFileError

_B12_ONLY = ["participant_id", "session_id", "age", "sex", "b12", "periventricular_ml", "deep_ml",
             "fazekas_periventricular", "fazekas_deep", "hypertension", "diabetes", "smoking"]
_RUNG2 = "2: + vascular risk factors"


@pytest.fixture(scope="module")
def large_cohort() -> pd.DataFrame:
    return simulate_cohort(SimulationConfig(n=4000, seed=11)).table[_B12_ONLY]


def _per_sd(effects: pd.DataFrame, outcome: str, rung: str = _RUNG2) -> pd.Series:
    rows = effects[(effects.exposure == "b12") & (effects.outcome == outcome) & (effects.contrast == "per SD")
                   & (effects.adjustment == rung)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_known_effects_are_recovered(large_cohort: pd.DataFrame) -> None:
    effects = cohort_statistics(prepare_cohort(large_cohort)).effects
    _, sd_population = b12_population_moments()
    for outcome, truth, log_scale in (("periventricular_ml", -0.15, False), ("fazekas_periventricular", -0.35, True)):
        row = _per_sd(effects, outcome)
        true_per_sd = truth * row.exposure_sd / sd_population
        est, lo, hi = (math.log(v) if log_scale else v for v in (row.estimate, row.ci_low, row.ci_high))
        assert lo < true_per_sd < hi, (outcome, est, lo, hi, true_per_sd)
        assert hi < 0.0 and row.p_value < 1e-6  # a clear effect is found
    for outcome in ("deep_ml", "fazekas_deep"):  # no effect simulated: none claimed
        row = _per_sd(effects, outcome)
        assert row.p_value > 0.01
    # Dose-response: the lowest-B12 quintile (Q1) has the most periventricular burden.
    q = effects[(effects.exposure == "b12") & (effects.outcome == "periventricular_ml") & (effects.adjustment == _RUNG2)]
    estimates = q.set_index("contrast")["estimate"]
    assert estimates["Q1 (reference)"] == 0.0 and estimates["Q5 vs Q1"] < estimates["Q2 vs Q1"] < 0.0
    assert q.set_index("contrast")["p_value"]["trend per quintile"] < 1e-6


def test_effect_table_fields(large_cohort: pd.DataFrame) -> None:
    effects = cohort_statistics(prepare_cohort(large_cohort.head(600))).effects
    assert list(effects.columns) == list(EFFECT_COLUMNS)
    fitted = effects[effects.contrast != "Q1 (reference)"]
    assert fitted["estimate"].notna().all()
    assert ((fitted.ci_low < fitted.estimate) & (fitted.estimate < fitted.ci_high)).all()
    assert fitted.p_value.between(0.0, 1.0).all()
    assert ((effects.n_used + effects.n_excluded) == 600).all()
    ordinal = effects[effects.outcome.str.startswith("fazekas")]
    assert (ordinal.model == "proportional odds (logit)").all() and (ordinal.scale == "odds ratio").all()
    assert (ordinal[ordinal.contrast == "Q1 (reference)"].estimate == 1.0).all() and (fitted.estimate > 0).any()
    assert set(effects.contrast) == {"per SD", "Q1 (reference)", "Q2 vs Q1", "Q3 vs Q1", "Q4 vs Q1", "Q5 vs Q1",
                                     "trend per quintile"}
    # Without homocysteine or folate in the table there is no rung 3; age + sex and the risk factors are rungs 1, 2.
    assert set(effects.adjustment) == {"1: age + sex", _RUNG2}
    assert set(effects[effects.adjustment == _RUNG2].covariates) == {"age, sex, hypertension, diabetes, smoking"}


def _messy_table() -> pd.DataFrame:
    table = simulate_cohort(SimulationConfig(n=60, seed=4)).table.astype(str)
    table.loc[0, "b12"] = "<50"  # censored
    table.loc[1, "b12"] = "haemolysed"  # not a number
    table.loc[2, "b12"] = "150 nmol/L"  # a unit B12 is never given in
    table.loc[3, "b12"] = "200 pg/mL"  # converted: 147.6 pmol/L
    table.loc[4, "mma"] = "90000"  # outside the plausible range
    table.loc[5, "fazekas_deep"] = "4"
    table.loc[6, "age"] = ""
    table.loc[7, "sex"] = "unknown"
    table.loc[8, "hypertension"] = "maybe"
    table = pd.concat([table, table.iloc[[10]]], ignore_index=True)  # sub-0011 twice
    later = table.iloc[[12]].assign(session_id="2")  # a second session of sub-0013
    return pd.concat([table.assign(session_id=table.session_id.replace("", "1")), later], ignore_index=True)


def test_missing_and_unusable_values_are_counted_per_variable_and_listed_per_subject() -> None:
    data = prepare_cohort(_messy_table().assign(apoe4="1"), source="messy.tsv")
    assert data.unused_columns == ("apoe4",)
    assert data.counts == {"rows": 62, "rows_without_id": 0, "rows_duplicate": 2, "rows_later_session": 1,
                           "participants": 59}
    quality = {q.name: q for q in data.quality}
    assert (quality["b12"].censored, quality["b12"].not_a_number, quality["b12"].unknown_unit) == (1, 1, 1)
    assert quality["b12"].usable == 56 and quality["mma"].implausible == 1
    assert quality["fazekas_deep"].invalid == 1 and quality["sex"].invalid == 1 and quality["hypertension"].invalid == 1
    assert quality["age"].empty == 1 and not quality["holotc"].present is False
    assert data.frame.loc["sub-0004", "b12"] == pytest.approx(147.6)
    problems = {(r.participant_id, r.variable): r.problem for r in data.issues.itertuples()}
    assert "censored bound" in problems[("sub-0001", "b12")]
    assert "not a number" in problems[("sub-0002", "b12")]
    assert "unit not accepted" in problems[("sub-0003", "b12")]
    assert "appears more than once" in problems[("sub-0011", "(row)")]
    assert "later session" in problems[("sub-0013", "(row)")]
    # Each model counts the participants it leaves out and why.
    effects = cohort_statistics(data).effects
    row = effects[(effects.exposure == "b12") & (effects.outcome == "periventricular_ml")
                  & (effects.contrast == "per SD") & (effects.adjustment == "1: age + sex")].iloc[0]
    assert (row.n_used, row.n_excluded) == (59 - 3 - 1 - 1, 5)  # 3 unusable B12, 1 missing age, 1 unknown sex
    assert row.excluded_missing == "b12 3; age 1; sex 1"


def test_cb12_is_computed_where_the_table_has_none() -> None:
    table = simulate_cohort(SimulationConfig(n=30, seed=2)).table
    expected = table["cb12"].to_numpy()
    data = prepare_cohort(table.drop(columns="cb12"))
    np.testing.assert_allclose(data.frame["cb12"].to_numpy(), expected, atol=1e-3)
    assert {q.name: q for q in data.quality}["cb12"].computed == 30


def test_a_table_without_the_needed_columns_is_refused_naming_them(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputFileError, match=r"an exposure \(b12, holotc, mma, homocysteine, cb12\); an outcome"):
        prepare_cohort(pd.DataFrame({"participant_id": ["a"], "age": [70]}), source="t.csv")
    path = tmp_path / "t.csv"
    pd.DataFrame({"subject": ["a"], "b12": [300]}).to_csv(path, index=False)
    assert main(["cohort", "stats", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "t.csv: has none of the columns the statistics need: participant_id (participant_id); an outcome" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_a_covariate_that_is_not_a_column_is_refused() -> None:
    table = simulate_cohort(SimulationConfig(n=30, seed=2)).table
    with pytest.raises(ConfigError, match="--covariates: 'apoe' is not a column"):
        prepare_cohort(table, covariates=("apoe",))
    with pytest.raises(ConfigError, match="already used by the models"):
        prepare_cohort(table, covariates=("age",))


def test_outputs_figures_and_html_summary(tmp_path: Path) -> None:
    table = simulate_cohort(SimulationConfig(n=300, seed=8, missing=0.05)).table
    path = tmp_path / "cohort.parquet"
    table.to_parquet(path)
    assert main(["cohort", "stats", str(path), "--out", str(tmp_path / "stats"), "--covariates", "egfr"]) == 0
    out = tmp_path / "stats"
    assert {p.name for p in out.iterdir()} == {*FILE_NAMES, "b12brain-manifest.json"}
    for name in ("forest.png", "dose_response.png"):
        image = matplotlib.image.imread(out / name)
        assert image.shape[0] > 300 and image[..., :3].std() > 0.05  # drawn, not blank
    effects = json.loads((out / "effects.json").read_text())
    assert effects["counts"]["participants"] == 300 and len(effects["effects"]) == len(pd.read_csv(out / "effects.tsv",
                                                                                                  sep="\t"))
    assert all("egfr" in e["covariates"] for e in effects["effects"])
    first = effects["effects"][0]
    assert {"exposure", "outcome", "model", "adjustment", "n_used", "n_excluded", "estimate", "ci_low", "ci_high",
            "p_value"} <= set(first)
    missing = pd.read_csv(out / "missing.tsv", sep="\t").set_index("variable")
    assert missing.loc["b12", "missing"] == table["b12"].isna().sum() > 0
    html = (out / "summary.html").read_text(encoding="utf-8")
    for section in ("design", "models", "counting", "missing", "effects", "trend", "forest", "dose-response",
                    "excluded", "problems"):
        assert f'id="{section}"' in html
    assert "de Lau et al. 2009, J Neurol Neurosurg Psychiatry 80:149" in html and "not a diagnosis" in html and "CLINICAL.md" not in html
    assert html.count('src="data:image/png;base64,') == 2 and "http" not in html  # self-contained


def test_group_table_status_and_qc_flags(tmp_path: Path) -> None:
    table = simulate_cohort(SimulationConfig(n=40, seed=3)).table[["participant_id", "age", "sex", "b12",
                                                                     "periventricular_ml", "qc_flags"]]
    table["status"] = ["failed"] + ["ok"] * 39
    table.loc[1, "qc_flags"] = "motion"
    stats = run_cohort_stats(table, tmp_path / "out", exclude_flagged=True)
    assert stats.data.counts["rows_not_ok"] == 1 and stats.data.counts["rows_qc_flagged"] == 1
    assert stats.data.counts["participants"] == 38
    assert not any("columns not used" in note for note in stats.notes)
    assert set(stats.effects.n_used) == {38} and (tmp_path / "out" / "summary.html").is_file()


def test_a_covariate_with_one_value_is_left_out_and_said() -> None:
    table = simulate_cohort(SimulationConfig(n=200, seed=6)).table[_B12_ONLY].assign(sex="male")
    effects = cohort_statistics(prepare_cohort(table)).effects
    per_sd = effects[effects.contrast == "per SD"]
    assert per_sd["estimate"].notna().all() and np.isfinite(per_sd["ci_high"]).all()
    assert (per_sd["covariates"].str.startswith("age, hypertension") | (per_sd["covariates"] == "age")).all()
    assert per_sd["note"].str.contains("not adjusted for sex").all()


def test_models_that_cannot_be_fitted_say_why_and_the_outputs_are_still_written(tmp_path: Path) -> None:
    tiny = simulate_cohort(SimulationConfig(n=12, seed=1)).table
    stats = run_cohort_stats(tiny, tmp_path / "tiny")
    assert stats.effects["estimate"].isna().all()
    assert stats.effects["note"].str.contains("12 participants have every variable; at least 20 are needed").all()
    assert matplotlib.image.imread(tmp_path / "tiny" / "forest.png")[..., :3].std() > 0.01  # says why, not blank
    flat = simulate_cohort(SimulationConfig(n=60, seed=1)).table.assign(fazekas_deep=0)
    effects = cohort_statistics(prepare_cohort(flat)).effects
    rows = effects[effects.outcome == "fazekas_deep"]
    assert rows["estimate"].isna().all() and (rows["note"] == "fazekas_deep has the same value in every participant "
                                                              "used").all()


def test_a_text_covariate_enters_as_indicators_against_its_most_frequent_value() -> None:
    table = simulate_cohort(SimulationConfig(n=300, seed=9)).table[_B12_ONLY]
    table["site"] = np.where(np.arange(300) % 3 == 0, "Leiden", np.where(np.arange(300) % 3 == 1, "Oslo", "Oslo"))
    table.loc[0, "site"] = ""
    data = prepare_cohort(table, covariates=("site",))
    assert data.covariates == ("site=Leiden",)
    assert {q.name: q for q in data.quality}["site"].note == "categorical, 2 levels; reference 'Oslo'"
    effects = cohort_statistics(data).effects
    per_sd = effects[effects.contrast == "per SD"]
    assert per_sd["covariates"].str.endswith("site=Leiden").all() and (per_sd["n_used"] == 299).all()


def test_bids_style_tsv_with_n_a_reads_missing_values(tmp_path: Path) -> None:
    table = simulate_cohort(SimulationConfig(n=30, seed=2)).table
    table.loc[:4, "b12"] = np.nan
    path = tmp_path / "group.tsv"
    table.to_csv(path, sep="\t", index=False, na_rep="n/a")
    data = prepare_cohort(read_cohort_table(path))
    b12 = {q.name: q for q in data.quality}["b12"]
    assert (b12.empty, b12.not_a_number, b12.usable) == (5, 0, 25)
