"""``b12brain assess`` on files, and ``b12brain run --labs --symptoms`` (assessment.json).

Everything but one test uses small files written to tmp_path; the end-to-end test runs the
pipeline once on a 6 mm phantom.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from b12brain.cli.main import main
from b12brain.clinical import DISCLAIMER

CLASSES = ("periventricular", "deep", "juxtacortical", "infratentorial")
LOW_PANEL = {"b12": "120 pmol/L", "holotc": "20 pmol/L", "mma": "0.8 umol/L", "homocysteine": "25 umol/L", "age": 50}
NORMAL_PANEL = {"b12": "350 pmol/L", "holotc": "90 pmol/L", "mma": "0.2 umol/L", "homocysteine": "10 umol/L", "age": 50}


def answers_document(**answers: str) -> dict[str, Any]:
    return {"questionnaire": "b12brain-symptoms", "version": "1.0", "answers": answers}


def summary_document(ml: dict[str, float], count: dict[str, int], pv_grade: int = 1, deep_grade: int = 0) -> dict[str, Any]:
    ml_by_class = {c: 0.0 for c in CLASSES} | ml
    count_by_class = {c: 0 for c in CLASSES} | count
    return {
        "schema_version": "1.0",
        "lesions": {"lesion_count": sum(count_by_class.values()), "lesion_ml": sum(ml_by_class.values()),
                    "ml_by_class": ml_by_class, "count_by_class": count_by_class},
        "fazekas_estimate": {"periventricular": pv_grade, "deep": deep_grade},
    }


def write_json(path: Path, content: object) -> Path:
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> SimpleNamespace:
    """Low markers, tingling feet, mainly periventricular lesions: urgent (NICE CKS)."""
    folder = tmp_path / "in"
    folder.mkdir()
    return SimpleNamespace(
        folder=folder,
        labs=write_json(folder / "panel.json", LOW_PANEL),
        symptoms=write_json(folder / "answers.json", answers_document(tingling_numbness="yes", onset="months")),
        summary=write_json(folder / "summary.json", summary_document({"periventricular": 4.0, "deep": 1.0},
                                                                   {"periventricular": 2, "deep": 2}, pv_grade=2)),
    )


def evidence(ns: SimpleNamespace) -> list[str]:
    return ["--labs", str(ns.labs), "--symptoms", str(ns.symptoms), "--summary", str(ns.summary)]


def test_text_report(inputs: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", *evidence(inputs)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    out = captured.out
    assert out.splitlines()[0].startswith("Summary: urgency urgent; B12 status deficiency confirmed (NICE NG239); next step: "
                                          "with neurological involvement, seek specialist (haematology) advice urgently")
    assert "Urgency: URGENT" in out
    assert "Neurological symptoms with a suspected B12 deficiency" in out
    assert "B12 status deficiency confirmed by NICE NG239; cB12 -1.64 (possible deficiency on the cB12 scale)" in out
    # Issue 17: the assessment text once dropped the next tests and the confounders.
    assert "Next tests:\n  - Test anti-intrinsic-factor antibodies" in out
    assert "Confounders and risk factors:" in out and "Suggestions for the clinician:" in out
    assert "Imaging: periventricular-predominant; 4 lesions, 5.00 mL" in out
    assert DISCLAIMER in out


def test_out_writes_json(inputs: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a.json"
    assert main(["assess", *evidence(inputs), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"wrote {out}" in captured.err
    assert "Urgency: URGENT" in captured.out  # text is still shown with the default --format text
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["schema_version"] == "1.1"
    assert written["urgency"] == "urgent"
    codes = [(r["urgency"], r["code"]) for r in written["reasons"]]
    assert codes[0] == ("urgent", "neurological_symptoms_with_suspected_deficiency")
    assert ("soon", "b12_pattern_with_suspected_deficiency") in codes
    assert written["imaging"]["summary"] == str(inputs.summary)
    assert written["b12_status"]["cb12"] == -1.64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "in"]


def test_json_format(inputs: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", "--labs", str(inputs.labs), "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["urgency"] == "soon" and printed["imaging"] is None and printed["symptoms"] is None
    out = tmp_path / "b.json"
    assert main(["assess", "--labs", str(inputs.labs), "--format", "json", "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text(encoding="utf-8"))["urgency"] == "soon"


@pytest.mark.parametrize(
    ("which", "urgency"),
    [("labs", "soon"), ("symptoms", "soon"), ("summary", "routine")],
)
def test_each_input_alone(which: str, urgency: str, inputs: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", f"--{which}", str(getattr(inputs, which)), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["urgency"] == urgency


def test_healthy_inputs_are_routine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labs = write_json(tmp_path / "p.json", NORMAL_PANEL)
    answers = write_json(tmp_path / "a.json", answers_document(tingling_numbness="no", fatigue="no"))
    summary = write_json(tmp_path / "s.json", summary_document({}, {}, pv_grade=0))
    assert main(["assess", "--labs", str(labs), "--symptoms", str(answers), "--summary", str(summary)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Summary: urgency routine; B12 status deficiency unlikely (NICE NG239)")
    assert "[urgent]" not in out and "[soon]" not in out


def test_no_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    assert main(["assess", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == "b12brain assess: error: give at least one of --labs, --symptoms and --summary\n"
    assert not out.exists()


def test_existing_out_untouched(inputs: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a.json"
    out.write_text("previous", encoding="utf-8")
    assert main(["assess", *evidence(inputs), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--overwrite" in err
    assert out.read_text(encoding="utf-8") == "previous"
    assert main(["assess", *evidence(inputs), "--out", str(out), "--overwrite"]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["urgency"] == "urgent"


BAD_FILES = [
    ("labs", "panel.json", '{"age": "fifty"}', ": age: 'fifty'"),
    ("labs", "panel.json", '{"b12": 150}', ": b12: 150 has no unit"),
    ("labs", "missing.json", None, ": (file): file not found"),
    ("symptoms", "answers.json", json.dumps(answers_document(tingling="yes")), ": tingling: unknown question id 'tingling'"),
    ("symptoms", "answers.json", '{"questionnaire": ', "not valid JSON"),
    ("symptoms", "missing.json", None, ": does not exist"),
    ("summary", "summary.json", '{"lesions": {}, "schema_version": "2.0"}', "schema_version '2.0' is not supported"),
    ("summary", "summary.json", "not json", "not a readable JSON file"),
    ("summary", "missing.json", None, ": no such file"),
    ("summary", "summary.json",
     json.dumps(summary_document({"deep": 1.0}, {"deep": 1})).replace('"deep": 1.0', '"deep": NaN'),
     ": lesions.ml_by_class.deep: NaN is not a JSON number"),
]


@pytest.mark.parametrize(("which", "name", "content", "shows"), BAD_FILES,
                         ids=[f"{w}-{s.strip(': ')[:24]}" for w, _, _, s in BAD_FILES])
def test_bad_file_exits_2_and_writes_nothing(
    which: str, name: str, content: str | None, shows: str, inputs: SimpleNamespace, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "bad" / name
    bad.parent.mkdir()
    if content is not None:
        bad.write_text(content, encoding="utf-8")
    setattr(inputs, which, bad)
    out = tmp_path / "result" / "assessment.json"
    assert main(["assess", *evidence(inputs), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"b12brain assess: error: {bad}"), err
    assert shows in err, err
    assert not out.parent.exists()


# --- b12brain run --labs --symptoms ---------------------------------------------------------------

def _write_volume(volume: Any, path: Path) -> Path:
    img = nib.Nifti1Image(volume.data.astype(np.float32), volume.affine)
    img.set_sform(volume.affine, code=1)
    img.set_qform(volume.affine, code=1)
    nib.save(img, str(path))
    return path


@pytest.mark.slow
def test_run_writes_assessment_beside_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from b12brain.phantom import PhantomConfig, make_phantom

    phantom = make_phantom(PhantomConfig(seed=11, lesion_load="moderate", slice_mm=6.0))
    flair = _write_volume(phantom.flair, tmp_path / "flair.nii.gz")
    labs = write_json(tmp_path / "panel.json", LOW_PANEL)
    answers = write_json(tmp_path / "answers.json", answers_document(tingling_numbness="yes"))
    out = tmp_path / "result"

    rc = main(["run", "--flair", str(flair), "--out", str(out), "--labs", str(labs), "--symptoms", str(answers), "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert captured.err == ""
    assert (out / "summary.json").is_file() and (out / "assessment.json").is_file()
    assert "assessment: urgency urgent; B12 status deficiency confirmed; neurological involvement yes" in captured.out

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assessment = json.loads((out / "assessment.json").read_text(encoding="utf-8"))
    assert summary["lesions"]["lesion_count"] > 0
    assert assessment["imaging"]["lesion_count"] == summary["lesions"]["lesion_count"]
    assert assessment["imaging"]["lesion_ml"] == summary["lesions"]["lesion_ml"]
    assert assessment["imaging"]["ml_by_class"] == summary["lesions"]["ml_by_class"]
    assert assessment["imaging"]["fazekas_estimate"] == {k: summary["fazekas_estimate"][k] for k in ("periventricular", "deep")}
    assert assessment["imaging"]["summary"] == str(out / "summary.json")
    # Low markers + a neurological symptom: urgent, whatever the imaging shows.
    assert assessment["urgency"] == "urgent"
    assert assessment["reasons"][0]["code"] == "neurological_symptoms_with_suspected_deficiency"
    assert assessment["b12_status"]["status"] == "deficiency confirmed"
    assert assessment["labs"]["source"] == str(labs)

    # `assess` on the written summary.json agrees with what `run` wrote.
    again = tmp_path / "again.json"
    assert main(["assess", "--labs", str(labs), "--symptoms", str(answers), "--summary", str(out / "summary.json"),
                 "--out", str(again), "--format", "json"]) == 0
    capsys.readouterr()
    second = json.loads(again.read_text(encoding="utf-8"))
    for key in ("urgency", "reasons", "b12_status", "neurological_involvement", "imaging", "sources"):
        assert second[key] == assessment[key], key


def test_run_help_documents_labs_and_symptoms(capsys: pytest.CaptureFixture[str]) -> None:
    """``run --help`` documents --labs and --symptoms."""
    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--labs" in text and "--symptoms" in text and "assessment.json" in text


@pytest.mark.parametrize("which", ["labs", "symptoms"])
def test_run_with_bad_evidence_fails_before_any_pipeline_work(
    which: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, write_nifti: Any,
    blob: Any,
) -> None:
    calls: list[str] = []

    def must_not_run(name: str) -> Any:
        def fail(*args: object, **kwargs: object) -> None:
            calls.append(name)
            raise AssertionError(f"{name} ran before the {which} file was checked")
        return fail

    monkeypatch.setattr("b12brain.pipeline.read_scans", must_not_run("read_scans"))
    monkeypatch.setattr("b12brain.pipeline.run_pipeline", must_not_run("run_pipeline"))
    flair = write_nifti(tmp_path, blob)
    good_labs = write_json(tmp_path / "panel.json", LOW_PANEL)
    good_answers = write_json(tmp_path / "answers.json", answers_document(tingling_numbness="yes"))
    bad = tmp_path / f"bad-{which}.json"
    bad.write_text('{"age": -3}' if which == "labs" else json.dumps(answers_document(onset="sometimes")), encoding="utf-8")
    files = {"labs": good_labs, "symptoms": good_answers, which: bad}
    out = tmp_path / "result"

    start = time.perf_counter()
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main(["run", "--flair", str(flair), "--out", str(out), "--labs", str(files["labs"]),
                   "--symptoms", str(files["symptoms"])])
    elapsed = time.perf_counter() - start

    assert rc == 2, stderr.getvalue()
    assert calls == []
    assert elapsed < 1.0, elapsed
    err = stderr.getvalue()
    assert err.startswith(f"b12brain run: error: {bad}: "), err
    assert ("age: -3" in err) if which == "labs" else ("onset: answer \"sometimes\"" in err), err
    assert len(err.splitlines()) == 1  # no progress line before the error
    assert stdout.getvalue() == ""
    assert not out.exists()
