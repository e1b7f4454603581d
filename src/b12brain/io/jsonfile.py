"""JSON text that may not give the same key twice in one object.

``json.loads`` keeps the last of two equal keys without a word; for a lab panel or a set of
answers that silently drops a value the user gave, so b12brain's readers refuse it.
"""

from __future__ import annotations

import json
from typing import Any


class DuplicateKeyError(ValueError):
    """An object of the JSON text gives ``key`` twice (``first`` and ``second`` are the values)."""

    def __init__(self, key: str, first: Any, second: Any) -> None:
        self.key, self.first, self.second = key, first, second
        super().__init__(f"key {key!r} appears twice")


def loads_unique_keys(text: str) -> Any:
    """``json.loads`` that raises :class:`DuplicateKeyError` on a key given twice.

    Raises
    ------
    DuplicateKeyError
        An object holds the same key twice.
    json.JSONDecodeError
        ``text`` is not JSON.

    Examples
    --------
    >>> loads_unique_keys('{"a": 1, "b": 2}')
    {'a': 1, 'b': 2}
    >>> loads_unique_keys('{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    b12brain.io.jsonfile.DuplicateKeyError: key 'a' appears twice
    """
    return json.loads(text, object_pairs_hook=_unique)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key, out[key], value)
        out[key] = value
    return out
