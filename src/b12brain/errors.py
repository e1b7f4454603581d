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


class FieldError(B12BrainError, ValueError):
    """A named field of a structured input (lab panel, questionnaire answers) is unusable.

    ``str()`` is ``"{source}: {field}: {problem}; expected {expected}"`` so a message names the
    file (and row), the field, the value seen and what is accepted.
    """

    def __init__(self, source: str, field: str, problem: str, expected: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        self.expected = expected
        super().__init__(f"{source}: {field}: {problem}; expected {expected}")


class LabValueError(FieldError):
    """A lab panel value, unit or field is missing, unknown, malformed or implausible."""


class AnswerError(FieldError):
    """A questionnaire answer is missing, unknown or outside the question's choices."""


class ResourceError(B12BrainError, RuntimeError):
    """A file b12brain reads from its installation (the MNI152 atlas templates) is missing or not
    as expected; reinstalling fixes it."""


class ModelError(B12BrainError, RuntimeError):
    """A segmentation model is missing, corrupt (checksum mismatch) or has unexpected inputs."""
