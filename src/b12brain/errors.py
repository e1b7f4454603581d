"""The one exception hierarchy of b12brain.

Every error a user can fix derives from :class:`B12BrainError`; the CLI maps those to exit
code 2 and prints only the message. Messages follow ``"{path}: {problem}; {what to do}"``.
"""

from __future__ import annotations

from pathlib import Path


class B12BrainError(Exception):
    """Base class of every error b12brain raises on purpose."""


class PathError(B12BrainError, ValueError):
    """A problem with a named file or folder; ``str()`` is ``"{path}: {problem}"``."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class InputFileError(PathError):
    """An input file or folder is missing, unreadable, unsupported or has unusable content."""


class HeaderError(InputFileError):
    """The image header is unusable: affine, voxel sizes, dimensions."""


class OutputError(PathError):
    """The output location cannot be used (exists with other content, not writable)."""


class RegistrationError(B12BrainError, RuntimeError):
    """Two images could not be aligned (for example a T1 that does not overlap the FLAIR)."""


class ConfigError(B12BrainError, ValueError):
    """An option has a value outside what it accepts."""
