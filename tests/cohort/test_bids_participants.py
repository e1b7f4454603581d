"""participants.tsv read as ``b12brain labs`` reads labs: units, aliases, censoring; problems per subject."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from b12brain.labs import compute_cb12
from b12brain.cohort.bids_participants import read_participants, read_participants_tsv


def _write(root: Path, tsv: str, sidecar: str | None = None) -> Path:
    root.mkdir(exist_ok=True)
    (root / "participants.tsv").write_text(tsv, encoding="utf-8")
    if sidecar is not None:
        (root / "participants.json").write_text(sidecar, encoding="utf-8")
    return root


def test_units_come_from_the_sidecar_header_or_cells_and_end_canonical(tmp_path: Path) -> None:
    root = _write(tmp_path, "participant_id\tage\tsex\tb12\tActive B12\tmma\thomocysteine\tfolate (ng/mL)\thypertension\n"
                  "sub-01\t70\tF\t271\t40\t300\t12\t4.0\tyes\n"
                  "02\tn/a\tmale\t150 pmol/L\t50\t0.5 µmol/L\t15\tn/a\tn/a\n",
                  '{"b12": {"Units": "ng/L"}, "mma": {"Units": "nmol/L"}, "Active B12": {"Units": "pmol/L"}, '
                  '"homocysteine": {"Units": "umol/L"}}')
    table = read_participants_tsv(root)
    one, flags = table.lookup("sub-01", "")
    assert one["b12"] == pytest.approx(200.0, rel=1e-3)  # 271 ng/L x 0.738
    assert one["mma"] == pytest.approx(0.3) and one["holotc"] == 40.0 and one["folate"] == pytest.approx(9.064)
    assert one["sex"] == "female" and one["age"] == 70.0 and one["hypertension"] == "yes" and flags == []
    assert one["cb12"] == pytest.approx(compute_cb12([one["b12"]], [40], [0.3], [12], [70])[0])
    assert one["cb12_category"] == "adequate"
    two, flags = table.lookup("sub-02", "")
    assert two["holotc"] == 50.0 and two["age"] is None and two["cb12"] is None and two["hypertension"] == ""
    # the sidecar gives ng/L and nmol/L; cells naming another unit are refused, not guessed
    assert two["b12"] is None and two["mma"] is None
    assert [f.split(":")[0] for f in flags] == ["b12", "mma"] and "pmol/L" in flags[0] and "µmol/L" in flags[1]


def test_bad_and_censored_cells_cost_only_that_value(tmp_path: Path) -> None:
    frame = pd.DataFrame({"participant_id": ["sub-01", "sub-02", "sub-03"], "b12": ["<100 pmol/L", "abc", "300 pmol/L"],
                          "holotc": ["40 pmol/L", "50 pmol/L", "60 pmol/L"], "sex": ["F", "x", "M"],
                          "age": ["70", "200", "60"]})
    table = read_participants(frame, source="participants.tsv")
    one, flags = table.lookup("sub-01", "")
    assert one["b12"] is None and one["holotc"] == 40.0 and flags == ["b12: given as a bound (<100 pmol/L); left empty"]
    two, flags = table.lookup("sub-02", "")
    assert two["b12"] is None and two["holotc"] == 50.0 and two["sex"] is None and two["age"] is None
    assert any(f.startswith("b12: ") for f in flags) and any(f.startswith("sex: 'x'") for f in flags)
    assert any(f.startswith("age: ") for f in flags)
    three, flags = table.lookup("sub-03", "")
    assert three["b12"] == 300.0 and flags == []


def test_duplicate_ids_unknown_units_and_missing_columns_are_reported(tmp_path: Path) -> None:
    frame = pd.DataFrame({"participant_id": ["01", "01", "02"], "b12 (furlongs)": ["1", "2", "3"], "handedness": ["R"] * 3})
    table = read_participants(frame, source="participants.tsv")
    values, flags = table.lookup("sub-01", "")
    assert values["b12"] is None and "given in rows 1 and 2" in flags[0]
    assert any("'b12 (furlongs)' not read" in note and "unknown unit" in note for note in table.notes)
    assert any("'handedness' is not used" in note for note in table.notes)
    _, flags = table.lookup("sub-09", "")
    assert flags == ["not in the participants table: no age, sex or labs"]
    no_ids = read_participants(pd.DataFrame({"id": ["01"]}), source="participants.tsv")
    assert "no participant_id column" in no_ids.notes[0]


def test_missing_or_malformed_participants_tsv_is_a_note(tmp_path: Path) -> None:
    assert "missing" in read_participants_tsv(tmp_path).notes[0]
    root = _write(tmp_path / "bad", "participant_id\tage\nsub-01\t70\t1\t2\nsub-02\t60\n")
    table = read_participants_tsv(root)
    assert table.notes[0].endswith("row 1 has 4 cells where the header has 2; row not used")
    assert table.lookup("sub-02", "")[0]["age"] == 60.0 and "not in the participants" in table.lookup("sub-01", "")[1][0]


def test_a_participants_table_over_the_size_limit_is_a_note_not_read(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("b12brain.cohort.bids_participants.MAX_TABLE_BYTES", 20)
    participants = read_participants_tsv(_write(tmp_path / "ds", "participant_id\tage\nsub-01\t70\nsub-02\t71\n"))
    assert not participants.values and "more than the 20 read" in participants.notes[0]
