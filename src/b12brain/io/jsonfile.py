"""Bounded JSON reading for every b12brain input file (lab panel, answers, summary.json).

``json.loads`` alone is not safe on untrusted text: it keeps the last of two equal keys
without a word (silently dropping a value the user gave), recurses once per nested bracket
(100,000 brackets raise ``RecursionError``), turns a 5,000-digit number into a ``ValueError``
that is not a ``JSONDecodeError``, and accepts ``NaN``/``Infinity``. :func:`parse_json` checks
size, nesting depth and number length *before* it parses, and reports every problem as one
:class:`JSONProblem` naming where it is; each reader turns that into its own b12brain error.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

#: Largest JSON input file read (bytes); b12brain's own inputs are a few kB.
MAX_JSON_BYTES = 1 << 20
#: Deepest nesting of arrays and objects accepted (b12brain's inputs use 3 levels).
MAX_JSON_DEPTH = 32
#: Longest number accepted, in characters (a double has 17 significant digits).
MAX_NUMBER_CHARS = 40
#: Characters of a bad value quoted in a message.
SHOWN_CHARS = 80

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


class JSONProblem(ValueError):
    """The JSON text is unusable: ``where`` (a key, or ``line L column C``) and ``problem``."""

    def __init__(self, where: str, problem: str) -> None:
        self.where, self.problem = where, problem
        super().__init__(f"{where}: {problem}")


class DuplicateKeyError(JSONProblem):
    """An object of the JSON text gives ``key`` twice (``first`` and ``second`` are the values)."""

    def __init__(self, key: str, first: Any, second: Any) -> None:
        self.key, self.first, self.second = key, first, second
        super().__init__(shorten(key), f"key {shorten(key)!r} appears twice")


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` cut to ``limit`` characters for a message (``...`` and the full length added).

    >>> shorten("x" * 200)[-30:]
    'xxxxxxxxxx... (200 characters)'
    """
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} characters)"


def read_json_bytes(path: Path, max_bytes: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of a JSON input file, refused unread when larger than ``max_bytes``.

    Raises
    ------
    JSONProblem
        The file is larger than ``max_bytes``.
    OSError
        The file cannot be read (the caller names it).
    """
    size = path.stat().st_size
    if size > max_bytes:
        raise JSONProblem("(file)", f"the file holds {size:,} bytes, more than the {max_bytes:,} this input may have")
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew while being read
        raise JSONProblem("(file)", f"the file holds more than the {max_bytes:,} bytes this input may have")
    return data


def parse_json(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON text with unique keys, bounded depth and number length, and no NaN.

    ``bytes`` are decoded as UTF-8 (a byte-order mark is allowed).

    Raises
    ------
    JSONProblem
        Not UTF-8, not JSON (line and column named), nested deeper than ``max_depth``, a
        number longer than :data:`MAX_NUMBER_CHARS`, ``NaN``/``Infinity``, text with an
        unpaired surrogate escape, or a duplicate key (:class:`DuplicateKeyError`).

    Examples
    --------
    >>> parse_json('{"a": 1, "b": [2.5, "x"]}')
    {'a': 1, 'b': [2.5, 'x']}
    >>> parse_json('{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    b12brain.io.jsonfile.DuplicateKeyError: a: key 'a' appears twice
    >>> parse_json("[" * 100000)
    Traceback (most recent call last):
    ...
    b12brain.io.jsonfile.JSONProblem: (file): arrays and objects nested 100000 deep; at most 32 levels are read
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise JSONProblem("(file)", f"not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8") from None
    text = text.removeprefix("\ufeff")
    depth = _max_depth(text)
    if depth > max_depth:
        raise JSONProblem("(file)", f"arrays and objects nested {depth} deep; at most {max_depth} levels are read")
    try:
        document = json.loads(text, object_pairs_hook=_unique, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as err:
        raise JSONProblem(f"line {err.lineno} column {err.colno}", f"not valid JSON ({err.msg})") from None
    _check("", document)
    return document


def _max_depth(text: str) -> int:
    """Deepest bracket nesting outside strings (an upper bound for malformed text)."""
    codes = np.frombuffer(_STRING.sub('""', text).encode("utf-8", "surrogatepass"), dtype=np.uint8)
    steps = np.zeros(len(codes), dtype=np.int32)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


class _Unusable(str):
    """A number or constant json could parse but b12brain refuses; reported with its key."""

    problem: str


def _unusable(text: str, problem: str) -> _Unusable:
    value = _Unusable(text)
    value.problem = problem
    return value


def _int(text: str) -> int | _Unusable:
    if len(text) > MAX_NUMBER_CHARS:
        return _unusable(text, f"a number of {len(text)} digits ({shorten(text)}); at most {MAX_NUMBER_CHARS} characters")
    return int(text)


def _float(text: str) -> float | _Unusable:
    if len(text) > MAX_NUMBER_CHARS:
        return _unusable(text, f"a number of {len(text)} characters ({shorten(text)}); at most {MAX_NUMBER_CHARS}")
    value = float(text)
    return value if math.isfinite(value) else _unusable(text, f"{shorten(text)} is beyond the range of a double")


def _constant(name: str) -> _Unusable:
    return _unusable(name, f"{name} is not a JSON number")


def _check(where: str, value: Any) -> None:
    """Raise for the first unusable number or text in ``value``, naming its dotted path."""
    if isinstance(value, _Unusable):
        raise JSONProblem(where or "(top level)", value.problem)
    if isinstance(value, str):
        _check_text(where, value)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check(f"{where}[{i}]", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(where, key)
            _check(f"{where}.{shorten(key)}" if where else shorten(key), item)


def _check_text(where: str, text: str) -> None:
    """Refuse a lone surrogate (``"\\ud800"`` is valid JSON but no character): it cannot be
    written to any UTF-8 output or message."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise JSONProblem(where or "(top level)", f"text with an unpaired surrogate escape at character {err.start}; "
                          "give real characters") from None


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key, out[key], value)
        out[key] = value
    return out


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, infinity) replaced by None, in nested dicts,
    lists and tuples: JSON has no NaN, so b12brain writes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
