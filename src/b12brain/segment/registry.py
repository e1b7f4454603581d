"""Segmenters by name, built on demand (a segmenter's module, and onnxruntime, load only when
it is chosen)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from b12brain.errors import ConfigError
from b12brain.segment.base import Segmenter


def _classical(model: Path | str | None = None) -> Segmenter:
    from b12brain.segment.classical import ClassicalSegmenter

    if model is not None:
        raise ConfigError(f"{model}: the classical segmenter takes no model file; use --segmenter learned")
    return ClassicalSegmenter()


def _learned(model: Path | str | None = None) -> Segmenter:
    from b12brain.segment.learned import LearnedSegmenter

    return LearnedSegmenter.from_file(model)


#: Segmenters by name; ``b12brain run --segmenter NAME``. Each factory takes an optional model
#: file (None: the segmenter's default).
SEGMENTERS: dict[str, Callable[[Path | str | None], Segmenter]] = {"classical": _classical, "learned": _learned}


def get_segmenter(name: str, *, model: Path | str | None = None) -> Segmenter:
    """Build the segmenter called ``name``, with the weights in ``model`` if given.

    Raises
    ------
    ConfigError
        No segmenter has that name, or it takes no model file.
    ModelError
        The learned segmenter's weights are missing, corrupt or of the wrong shape.
    """
    try:
        factory = SEGMENTERS[name]
    except KeyError:
        raise ConfigError(f"segmenter {name!r} is unknown; choose one of {', '.join(sorted(SEGMENTERS))}") from None
    return factory(model)
