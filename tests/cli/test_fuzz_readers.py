"""Fuzzing every reader of user files through the CLI: no input may end in exit 1.

2,000 seeded random inputs per reader (lab panels as JSON and as CSV exports, questionnaire
answers, MRI summaries), built from valid documents by changing values, keys, encodings and
bytes, run in-process through ``main([...])``. Exit 0 (read) and exit 2 (refused with a
message) are both fine; exit 1 is an unexpected error, a crash.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from b12brain.cli.main import main
from b12brain.labs.fields import KNOWN_FIELDS
from b12brain.labs.headers import HEADER_ALIASES
from b12brain.symptoms import QUESTIONS

N_INPUTS = 2000

_WEIRD_TEXT = ["²", "⑤", "٣", "\x00", "\ufeff", "é", "µmol/L", "μmol/l", "<", ">=", "≤", "1e400", "-0", "NaN", "inf",
               "1,476", "1.476,5", "0,3", " ", "", "true", "yes", "null", "{}", "[]", '"', "\\", "\u202e", "\ud800",
               "9" * 5000, "x" * 3000, "150 pg/mL", "<150 pmol/L", ">1476 pg/mL", "0,3 µmol/L", "12 umol/L", "70"]


def _scalar(rng: random.Random) -> object:
    pick = rng.randrange(9)
    if pick == 0:
        return rng.choice([True, False, None])
    if pick == 1:
        return rng.randint(-(10**30), 10**30)
    if pick == 2:
        return rng.choice([0, 1, -1, 3, 7, 2**53 + 1, 10**20, 1e20, 0.5, -0.0, 1e308, 5e-324])
    if pick == 3:
        return rng.uniform(-1e3, 1e4)
    if pick == 4:
        return rng.choice(_WEIRD_TEXT)
    if pick == 5:
        return "".join(chr(rng.randrange(32, 0x3000)) for _ in range(rng.randrange(12)))
    if pick == 6:
        return f"{rng.choice(['', '<', '>', '<=', '≥'])}{rng.uniform(0, 2000):.{rng.randrange(4)}f}".replace(
            ".", rng.choice([".", ","])) + rng.choice(["", " pmol/L", " pg/mL", " ng/L", " µmol/L", " nmol/L", " g/dL", " fL", " x"])
    if pick == 7:
        return [_scalar(rng) for _ in range(rng.randrange(3))]
    return {rng.choice(["value", "unit", "x"]): _scalar(rng) for _ in range(rng.randrange(3))}


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """Truncate, flip, insert or nest, sometimes."""
    pick = rng.randrange(10)
    if pick == 0 and data:
        return data[: rng.randrange(len(data))]
    if pick == 1 and data:
        i = rng.randrange(len(data))
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
    if pick == 2:
        i = rng.randrange(len(data) + 1)
        return data[:i] + rng.choice([b"[", b"{", b'"', b",", b";", b"\n", b"\xff", b"\x81", b"\xef\xbb\xbf"]) * rng.randrange(1, 4) + data[i:]
    if pick == 3:
        depth = rng.choice([40, 1000, 100_000])
        return b"[" * depth + data + b"]" * depth
    return data


def _encode(rng: random.Random, text: str) -> bytes:
    encoding = rng.choice(["utf-8", "utf-8", "utf-8-sig", "cp1252", "utf-16"])
    return text.encode(encoding, errors="replace" if encoding == "cp1252" else "surrogatepass")


def _panel_json(rng: random.Random) -> bytes:
    keys = list(KNOWN_FIELDS) + [a for aliases in HEADER_ALIASES.values() for a in aliases] + ["Vitamin B12 (ng/L)", "x"]
    doc = {rng.choice(keys): _scalar(rng) for _ in range(rng.randrange(1, 8))}
    return _mutate_bytes(rng, _encode(rng, json.dumps(doc, ensure_ascii=rng.random() < 0.5)))


def _panel_csv(rng: random.Random) -> bytes:
    names = list(KNOWN_FIELDS) + ["Vitamin B12 (pg/mL)", "Active B12 [pmol/l]", "tHcy", "MMA (µmol/L)", "Age", "", "x"]
    delimiter = rng.choice([",", ";", "\t", "|"])
    header = [rng.choice(names) for _ in range(rng.randrange(1, 6))]
    rows = [[str(_scalar(rng)) if rng.random() < 0.8 else "" for _ in range(len(header) + rng.choice([0, 0, 0, 1, -1]))]
            for _ in range(rng.randrange(1, 4))]
    text = "\n".join(delimiter.join(line) for line in [header, *rows]) + rng.choice(["\n", "\r\n", ""])
    return _mutate_bytes(rng, _encode(rng, text))


def _answers(rng: random.Random) -> bytes:
    ids = [q.id for q in QUESTIONS] + ["x", "tingling"]
    answers = {rng.choice(ids): rng.choice(["yes", "no", "months", "²", True, None, 3, [], {}, "not sure"]) for _ in range(rng.randrange(6))}
    doc: object = {"questionnaire": rng.choice(["b12brain-symptoms", "x"]), "version": rng.choice(["1.0", "2.0", 1.0]),
                   "answers": answers if rng.random() < 0.9 else _scalar(rng)}
    if rng.random() < 0.2:
        doc = _scalar(rng)
    return _mutate_bytes(rng, _encode(rng, json.dumps(doc)))


def _summary(rng: random.Random) -> bytes:
    classes = ("periventricular", "deep", "juxtacortical", "infratentorial")
    ml = {c: rng.choice([0.0, 0.5, 2.0]) for c in classes}
    count = {c: int(ml[c] > 0) for c in classes}
    doc: dict[str, object] = {
        "schema_version": rng.choice(["1.0", "1.1", "1.2"]),
        "lesions": {"lesion_count": sum(count.values()), "lesion_ml": sum(ml.values()), "ml_by_class": ml, "count_by_class": count},
        "fazekas_estimate": {"periventricular": rng.randrange(4), "deep": rng.randrange(4)},
        "caps_lining": {"count": 1, "ml": 0.2},
    }
    for _ in range(rng.randrange(4)):  # break some figures
        node: dict[str, object] = doc
        path = rng.choice([("lesions", "lesion_count"), ("lesions", "lesion_ml"), ("lesions", "ml_by_class", rng.choice(classes)),
                           ("lesions", "count_by_class", rng.choice(classes)), ("fazekas_estimate", "deep"), ("caps_lining", "count"),
                           ("lesions",), ("schema_version",)])
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                break
            node = child
        else:
            if rng.random() < 0.2:
                node.pop(path[-1], None)
            else:
                node[path[-1]] = _scalar(rng)
    return _mutate_bytes(rng, _encode(rng, json.dumps(doc)))


READERS: dict[str, tuple[Callable[[random.Random], bytes], str, Callable[[Path], list[str]]]] = {
    "panel-json": (_panel_json, "p.json", lambda p: ["labs", str(p)]),
    "panel-csv": (_panel_csv, "p.csv", lambda p: ["labs", str(p)]),
    "answers": (_answers, "a.json", lambda p: ["assess", "--symptoms", str(p)]),
    "summary": (_summary, "summary.json", lambda p: ["assess", "--summary", str(p)]),
}


@pytest.mark.parametrize("reader", READERS)
def test_no_random_input_ends_in_exit_1(reader: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, name, argv = READERS[reader]
    rng = random.Random(f"b12brain-fuzz-{reader}")
    path = tmp_path / name
    exits = {0: 0, 2: 0}
    for i in range(N_INPUTS):
        data = make(rng)
        path.write_bytes(data)
        code = main(argv(path))
        err = capsys.readouterr().err
        assert code in (0, 2), f"input {i} ({data[:300]!r}...): exit {code}: {err}"
        assert "Traceback" not in err
        assert len(err) < 8000 or code == 0, f"input {i}: a {len(err)}-character message"
        exits[code] += 1
    # Both outcomes occur: the generator makes readable and unreadable inputs.
    assert exits[0] > 0 and exits[2] > 0, exits
