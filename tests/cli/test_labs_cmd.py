"""``b12brain labs``: one panel (JSON or one-row CSV) as text or JSON, cohort CSVs, and bad input.

The CLI is called in-process (``main([...])``); every bad input must give exit code 2 and one
line on stderr naming the file, the field and the value, and write nothing.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from b12brain.cli.main import main
from b12brain.clinical import DISCLAIMER
from b12brain.errors import LabValueError
from b12brain.labs import interpret_panel, parse_panel, read_panel

SANITY = {"b12": "350 pmol/L", "holotc": "70 pmol/L", "mma": "0.2 umol/L", "homocysteine": "10 umol/L", "age": 50}


def write(folder: Path, name: str, content: str | bytes | dict[str, object]) -> Path:
    path = folder / name
    if isinstance(content, dict):
        path.write_text(json.dumps(content), encoding="utf-8")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def run_json(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["labs", str(path), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


# --- one panel -----------------------------------------------------------------------------------

def test_text_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "panel.json", SANITY)
    assert main(["labs", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    out = captured.out
    assert "cB12: 0.37 (adequate)" in out
    # holoTC 70 pmol/L is indeterminate and leads; MMA 0.2 within the limit makes deficiency less likely.
    assert "B12 status: deficiency less likely" in out
    assert "total B12 350 pmol/L (474.3 ng/L): deficiency unlikely" in out
    first, blank, title = out.splitlines()[:3]
    assert first.startswith("Summary: B12 status deficiency less likely (NICE NG239); urgency routine; next step: ")
    assert blank == "" and str(path) in title
    assert out.rstrip().endswith(DISCLAIMER)


def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "panel.json", {"b12": "200 pg/mL", "mma": {"value": 500, "unit": "nmol/L"}, "age": 70,
                                          "neurological_symptoms": True})
    report = run_json(path, capsys)
    assert {"cb12", "cb12_category", "markers", "flags", "next_tests", "urgency", "sources"} <= set(report)
    assert report["cb12"] is None and report["cb12_category"] is None  # holoTC and homocysteine missing
    markers = report["markers"]
    assert isinstance(markers, dict) and set(markers) == {"b12", "mma"}
    assert markers["b12"]["value"] == 147.6 and markers["b12"]["unit"] == "pmol/L"
    assert markers["b12"]["category"] == "indeterminate"
    assert markers["b12"]["value_seen"] == 200 and markers["b12"]["unit_seen"] == "pg/mL"
    assert markers["mma"]["value"] == 0.5 and markers["mma"]["unit"] == "µmol/L"
    assert markers["mma"]["category"] == "above the upper reference limit"
    for marker in markers.values():
        assert {"value", "unit", "category"} <= set(marker)
    assert report["urgency"] == "urgent"  # neurological symptoms with a suspected deficiency
    assert report["b12_status"] == "deficiency likely"  # B12 200 ng/L indeterminate, MMA above 0.45
    assert [r["code"] for r in report["urgency_reasons"]] == ["urgent_neurological", "soon_deficiency"]
    assert "risk_age" in [f["code"] for f in report["flags"]]
    assert "test_cb12_markers" in [f["code"] for f in report["next_tests"]]
    assert "treat_neurological" in [f["code"] for f in report["advice"]]
    assert report["summary"].startswith("Summary: B12 status deficiency likely (NICE NG239); urgency urgent; next step: "
                                        "with neurological involvement, seek specialist (haematology) advice urgently")
    assert isinstance(report["sources"], list) and report["sources"]
    assert report["disclaimer"] == DISCLAIMER


def test_sanity_panel_of_clinical_md(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Fedosov 2015 sanity values: holoTC 70, B12 350, MMA 0.2, Hcy 10, age 50 -> cB12 0.37."""
    report = run_json(write(tmp_path, "sanity.json", SANITY), capsys)
    assert report["cb12"] == 0.37
    assert report["cb12_category"] == "adequate"
    assert report["b12_status"] == "deficiency less likely"
    assert report["urgency"] == "routine"


def test_low_sanity_panel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    low = {"b12": "120 pmol/L", "holotc": "20 pmol/L", "mma": "0.8 umol/L", "homocysteine": "25 umol/L", "age": 50}
    report = run_json(write(tmp_path, "low.json", low), capsys)
    assert report["cb12"] == -1.64 and report["cb12_category"] == "possible deficiency"
    assert report["urgency"] == "soon"


def test_missing_age_gives_no_cb12(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    no_age = {k: v for k, v in SANITY.items() if k != "age"}
    report = run_json(write(tmp_path, "no-age.json", no_age), capsys)
    assert report["cb12"] is None
    assert report["cb12_category"] is None
    assert "missing: age" in str(report["cb12_note"])
    assert main(["labs", str(tmp_path / "no-age.json")]) == 0
    assert "cB12: not computed" in capsys.readouterr().out


def test_require_cb12_refuses_a_panel_without_age(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "p.json", SANITY)
    assert main(["labs", str(path), "--require-cb12"]) == 0
    capsys.readouterr()
    no_age_path = write(tmp_path, "no-age.json", {k: v for k, v in SANITY.items() if k != "age"})
    assert main(["labs", str(no_age_path), "--require-cb12"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{no_age_path}: age: missing age when cB12 is asked" in err
    no_age = parse_panel({k: v for k, v in SANITY.items() if k != "age"}, "p.json")
    with pytest.raises(LabValueError) as err:
        interpret_panel(no_age, require_cb12=True)
    assert err.value.field == "age"
    assert str(err.value).startswith("p.json: age: missing age when cB12 is asked (missing: age)")
    only_b12 = parse_panel({"b12": "300 pmol/L", "age": 60}, "q.json")
    with pytest.raises(LabValueError) as err:
        interpret_panel(only_b12, require_cb12=True)
    assert err.value.field == "holotc" and "missing: holoTC, MMA, homocysteine" in str(err.value)
    assert interpret_panel(parse_panel(SANITY), require_cb12=True).cb12 == pytest.approx(0.37, abs=0.005)


def test_one_row_csv_is_the_same_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from_json = run_json(write(tmp_path, "p.json", SANITY), capsys)
    header = ",".join(SANITY)
    row = ",".join(str(v) for v in SANITY.values())
    from_csv = run_json(write(tmp_path, "p.csv", f"{header}\n{row}\n"), capsys)
    for report in (from_json, from_csv):
        report.pop("source")
    assert from_csv == from_json
    assert from_csv["cb12"] == 0.37


def test_out_file_for_one_panel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "p.json", SANITY)
    out = tmp_path / "report.json"
    assert main(["labs", str(path), "--format", "json", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"wrote {out}" in captured.err
    assert json.loads(out.read_text(encoding="utf-8"))["cb12"] == 0.37
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json", "report.json"]


# --- cohorts -------------------------------------------------------------------------------------

COHORT = (
    "id,b12,age,sex\n"
    "A,300 pmol/L,50,female\n"
    "B,-3 pmol/L,60,male\n"
    "C,120 pmol/L,70,male\n"
    "D,200 pmol/L,fifty,female\n"
)


def test_cohort_keeps_good_rows_and_reports_bad_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "cohort.csv", COHORT)
    out = tmp_path / "results.csv"
    assert main(["labs", str(path), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == ["A", "C"]
    assert [r["row"] for r in rows] == ["1", "3"]
    assert [r["b12_status"] for r in rows] == ["deficiency unlikely", "deficiency confirmed"]
    assert [r["urgency"] for r in rows] == ["routine", "soon"]
    rejected = [line for line in captured.err.splitlines() if line.startswith("b12brain labs: rejected: ")]
    assert len(rejected) == 2
    assert f"{path}, row 2 " in rejected[0] and ": b12: " in rejected[0] and "-3 pmol/L" in rejected[0]
    assert f"{path}, row 4 " in rejected[1] and ": age: " in rejected[1] and "'fifty'" in rejected[1]
    assert "interpreted 2 panels; 2 problems reported" in captured.err
    assert "Traceback" not in captured.err


def test_cohort_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "cohort.csv", COHORT)
    assert main(["labs", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("row,id,b12_pmol_l,")
    assert len(lines) == 3


def test_cohort_with_only_bad_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "bad.csv", "b12,age\n-3 pmol/L,50\n150 pmol/L,5\n")
    out = tmp_path / "results.csv"
    assert main(["labs", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{path}, row 1 " in err and f"{path}, row 2 " in err
    assert "no row could be interpreted" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_existing_out_is_refused_and_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, content in (("p.json", json.dumps(SANITY)), ("cohort.csv", COHORT)):
        path = write(tmp_path, name, content)
        out = tmp_path / "existing.txt"
        out.write_text("keep me", encoding="utf-8")
        assert main(["labs", str(path), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert str(out) in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
        assert out.read_text(encoding="utf-8") == "keep me"
        assert main(["labs", str(path), "--out", str(out), "--overwrite"]) == 0
        assert out.read_text(encoding="utf-8") != "keep me"
        capsys.readouterr()


# --- bad input -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bad:
    """One bad panel file: ``content`` None means the file does not exist, "<folder>" a folder."""

    id: str
    name: str
    content: str | bytes | None
    field: str | None  # the field the message names (None: a problem of the whole file)
    shows: str  # the offending value (or the problem) as the message shows it


BAD = [
    Bad("negative", "p.json", '{"b12": "-5 pmol/L"}', "b12", "-5 pmol/L"),
    Bad("zero", "p.json", '{"mma": {"value": 0, "unit": "umol/L"}}', "mma", "0 umol/L"),
    Bad("string-value", "p.json", '{"b12": "low"}', "b12", "'low'"),
    Bad("unknown-unit", "p.json", '{"b12": "150 mg/dL"}', "b12", "'mg/dL'"),
    Bad("unit-of-another-marker", "p.json", '{"holotc": {"value": 40, "unit": "pg/mL"}}', "holotc", "'pg/mL'"),
    Bad("b12-implausible", "p.json", '{"b12": "0.4 pmol/L"}', "b12", "0.4 pmol/L"),
    Bad("mma-nmol-as-umol", "p.json", '{"mma": "400 umol/L"}', "mma", "400 umol/L"),
    Bad("hb-g-per-l-for-g-per-dl", "p.json", '{"haemoglobin": "13 g/L"}', "haemoglobin", "13 g/L"),
    Bad("bare-number", "p.json", '{"b12": 150}', "b12", "150 has no unit"),
    Bad("thousands-separator-or-decimal", "p.json", '{"b12": "1,476 pg/mL"}', "b12", "'1,476 pg/mL'"),
    Bad("unknown-field", "p.json", '{"b12": "150 pmol/L", "holotcc": "40 pmol/L"}', "holotcc", "'holotcc'"),
    Bad("duplicate-json-key", "p.json", '{"b12": "150 pmol/L", "b12": "160 pmol/L"}', "b12", "given twice"),
    Bad("duplicate-csv-column", "p.csv", "b12,b12\n150 pmol/L,160 pmol/L\n", "b12", "given twice"),
    Bad("malformed-json", "p.json", '{"b12": "150 pmol/L",}', "line 1 column 22", "not valid JSON"),
    Bad("truncated-json", "p.json", '{"b12": "150 pm', "line 1 column 9", "not valid JSON (Unterminated string"),
    Bad("json-array", "p.json", '[{"b12": "150 pmol/L"}]', "(top level)", "a JSON array"),
    Bad("json-string", "p.json", '"b12 150 pmol/L"', "(top level)", "a JSON string"),
    Bad("empty-file", "p.json", "", None, "the file is empty"),
    Bad("whitespace-only", "p.csv", "  \n\n", None, "the file is empty"),
    Bad("binary-garbage", "p.json", b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00garbage", None, "not UTF-8"),
    Bad("ragged-csv-row", "p.csv", "b12,age\n150 pmol/L,70,extra\n", "(row)", "3 cells where the header has 2"),
    Bad("csv-unterminated-quote", "p.csv", 'b12,age\n"150 pmol/L,70\n', None, "malformed CSV"),
    Bad("csv-header-only", "p.csv", "b12,age\n", "(rows)", "no data row"),
    Bad("boolean-maybe", "p.json", '{"pregnant": "maybe"}', "pregnant", "'maybe'"),
    Bad("csv-boolean-maybe", "p.csv", "b12,nitrous_oxide\n150 pmol/L,maybe\n", "nitrous_oxide", "'maybe'"),
    Bad("boolean-as-number", "p.json", '{"nitrous_oxide": 1}', "nitrous_oxide", "1"),
    Bad("sex-choice", "p.json", '{"sex": "unknown"}', "sex", "'unknown'"),
    Bad("pregnant-male", "p.json", '{"sex": "male", "pregnant": true}', "pregnant", "'male'"),
    Bad("age-5", "p.json", '{"age": 5}', "age", "5 is outside 16-120 years"),
    Bad("age-fifty", "p.json", '{"age": "fifty"}', "age", "'fifty'"),
    Bad("age-boolean", "p.json", '{"age": true}', "age", "True"),
    Bad("nan-marker", "p.json", '{"b12": {"value": NaN, "unit": "pmol/L"}}', "b12.value", "NaN"),
    Bad("nan-age", "p.json", '{"age": NaN}', "age", "NaN"),
    Bad("infinity", "p.json", '{"homocysteine": {"value": Infinity, "unit": "umol/L"}}', "homocysteine.value", "Infinity"),
    Bad("medicine-years-negative", "p.json", '{"ppi_years": -1}', "ppi_years", "-1"),
    Bad("anti-if-choice", "p.json", '{"anti_if_antibody": "weakly positive"}', "anti_if_antibody", "'weakly positive'"),
    Bad("diet-choice", "p.json", '{"diet": "carnivore"}', "diet", "'carnivore'"),
    Bad("unknown-condition", "p.json", '{"conditions": ["hiv", "gout"]}', "conditions", "'gout'"),
    Bad("missing-file", "p.json", None, None, "file not found"),
    Bad("folder", "p.json", "<folder>", None, "not a file"),
    Bad("txt-extension", "p.txt", '{"b12": "150 pmol/L"}', None, "unsupported file type '.txt'"),
]


def test_there_are_at_least_25_distinct_bad_inputs() -> None:
    assert len({b.id for b in BAD}) == len(BAD) >= 25
    assert len({(b.name, b.content) for b in BAD}) == len(BAD)


@pytest.mark.parametrize("bad", BAD, ids=[b.id for b in BAD])
def test_bad_input_exits_2_with_one_line(bad: Bad, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / bad.name
    if bad.content == "<folder>":
        path.mkdir()
    elif bad.content is not None:
        write(tmp_path, bad.name, bad.content)
    out = tmp_path / "out" / "report.json"
    before = sorted(p.name for p in tmp_path.iterdir())

    assert main(["labs", str(path), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.endswith("\n"), err
    assert err.startswith(f"b12brain labs: error: {path}"), err
    if bad.field is not None:
        assert f": {bad.field}: " in err, err
    else:
        assert ": (file): " in err, err
    assert bad.shows in err, err
    assert "; expected " in err, err
    assert not out.exists() and not out.parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("bad", [b for b in BAD if b.field not in (None, "(rows)", "(row)", "(top level)")][:5],
                         ids=lambda b: b.id)
def test_bad_input_without_out_prints_no_report(bad: Bad, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, bad.name, bad.content)  # type: ignore[arg-type]
    assert main(["labs", str(path), "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1


def test_read_panel_agrees_with_the_cli(tmp_path: Path) -> None:
    """The CLI message is the library's LabValueError, prefixed by the command."""
    path = write(tmp_path, "p.json", '{"age": "fifty"}')
    with pytest.raises(LabValueError) as err:
        read_panel(path)
    assert err.value.field == "age" and err.value.source == str(path)


def test_require_cb12_in_a_cohort_rejects_rows_without_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cohort.csv"
    path.write_text("id,b12,holotc,mma,homocysteine,age\n"
                    "A,350 pmol/L,70 pmol/L,0.2 umol/L,10 umol/L,50\n"
                    "B,350 pmol/L,70 pmol/L,0.2 umol/L,10 umol/L,\n")
    out = tmp_path / "results.csv"
    assert main(["labs", str(path), "--require-cb12", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["id"] for r in rows] == ["A"] and float(rows[0]["cb12"]) == pytest.approx(0.37, abs=0.005)
    assert f"{path}, row 2: cb12: cannot be computed" in capsys.readouterr().err
