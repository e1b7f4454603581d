"""b12brain: is this brain's white-matter damage linked to low vitamin B12?

Research and decision-support software, not a diagnosis.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("b12brain")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from b12brain.errors import B12BrainError, HeaderError, InputFileError, OutputError
from b12brain.io import load_volume, save_nifti
from b12brain.types import Volume

__all__ = [
    "B12BrainError",
    "HeaderError",
    "InputFileError",
    "OutputError",
    "Volume",
    "__version__",
    "load_volume",
    "save_nifti",
]
