"""b12brain: is this brain's white-matter damage linked to low vitamin B12?

Research and decision-support software, not a diagnosis.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("b12brain")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

import importlib
from typing import TYPE_CHECKING, Any

from b12brain.errors import B12BrainError, HeaderError, InputFileError, OutputError
from b12brain.types import Volume

# The other names load on first use, so that `import b12brain` (and `b12brain --help`) stays
# fast: nibabel, SimpleITK, scipy and matplotlib are only imported when work is done. Type
# checkers read the imports below instead, so a misspelt name fails type checking.
if TYPE_CHECKING:
    from b12brain.evaluate import evaluate_dataset, evaluate_pair, score_masks
    from b12brain.io import load_volume, save_nifti
    from b12brain.outputs import write_outputs
    from b12brain.phantom import PhantomConfig, make_phantom, write_phantom
    from b12brain.pipeline import PipelineConfig, PipelineResult, run_pipeline
    from b12brain.quantify import measure_lesions
    from b12brain.segment import get_segmenter

_LAZY = {
    "load_volume": "b12brain.io",
    "save_nifti": "b12brain.io",
    "PipelineConfig": "b12brain.pipeline",
    "PipelineResult": "b12brain.pipeline",
    "run_pipeline": "b12brain.pipeline",
    "write_outputs": "b12brain.outputs",
    "get_segmenter": "b12brain.segment",
    "measure_lesions": "b12brain.quantify",
    "PhantomConfig": "b12brain.phantom",
    "make_phantom": "b12brain.phantom",
    "write_phantom": "b12brain.phantom",
    "score_masks": "b12brain.evaluate",
    "evaluate_pair": "b12brain.evaluate",
    "evaluate_dataset": "b12brain.evaluate",
    "assess_run": "b12brain.assess",
}


if not TYPE_CHECKING:  # hidden from type checkers, which would accept any name through it

    def __getattr__(name: str) -> Any:
        if name in _LAZY:
            return getattr(importlib.import_module(_LAZY[name]), name)
        raise AttributeError(f"module 'b12brain' has no attribute {name!r}")


__all__ = [
    "B12BrainError",
    "HeaderError",
    "InputFileError",
    "OutputError",
    "Volume",
    "__version__",
    *_LAZY,
]
