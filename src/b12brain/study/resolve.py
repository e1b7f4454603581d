"""From what the user pointed at (a study, a CD, an archive, a series) to the scans a run reads."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b12brain.errors import ConfigError, PathError
from b12brain.study.index import SeriesInfo, StudyIndex, open_study
from b12brain.study.select import Role, SeriesChoice, choose_series, one_study


@dataclass(frozen=True)
class ResolvedScans:
    """The paths to read (a NIfTI file or a folder holding one DICOM series) and why.

    ``choices`` holds the series taken from a study, CD or archive; ``notes`` what was skipped
    while searching (non-DICOM files, missing files of a DICOMDIR...).
    """

    flair: Path
    t1: Path | None
    choices: tuple[SeriesChoice, ...]
    notes: tuple[str, ...]

    def name(self, role: Role) -> str:
        """How messages name the scan of ``role``: the input and the series taken in it, or the path."""
        for choice in self.choices:
            if choice.role == role:
                return f"{choice.source} ({choice.series.label})"
        return str(self.flair if role == "flair" else self.t1)

    def relabel(self, text: str) -> str:
        """``text`` naming each chosen series by the input and series, not the private folder read."""
        scans: tuple[tuple[Role, Path | None], ...] = (("flair", self.flair), ("t1", self.t1))
        for role, folder in scans:
            if folder is not None and any(c.role == role for c in self.choices):
                text = text.replace(str(folder), self.name(role))
        return text

    def as_dict(self) -> dict[str, Any]:
        """The ``series`` record of ``summary.json``: the series taken, why, and the notes."""
        return {"chosen": [c.as_dict() for c in self.choices], "notes": list(self.notes)}


@contextmanager
def resolve_scans(
    *,
    flair: Path | str | None = None,
    study: Path | str | None = None,
    t1: Path | str | None = None,
    flair_series: str | None = None,
    t1_series: str | None = None,
    no_t1: bool = False,
    study_uid: str | None = None,
) -> Iterator[ResolvedScans]:
    """Find the FLAIR (and T1) series to read; yield their paths for the block's duration.

    Parameters
    ----------
    flair : path-like, optional
        The FLAIR: a NIfTI file (read as it is), or a DICOM file, series or study folder,
        DICOMDIR or zip/tar, in which the FLAIR series is chosen (the only image series if there
        is one). Exactly one of ``flair`` and ``study`` is given.
    study : path-like, optional
        A study (folder, DICOMDIR, archive): the FLAIR and, unless ``no_t1``, a T1 are chosen
        in it (:mod:`b12brain.study.select`); no T1 series found means no T1.
    t1 : path-like, optional
        The T1, as ``flair``; not with ``study``.
    flair_series, t1_series : str, optional
        A series number or SeriesInstanceUID choosing the role's series.
    no_t1 : bool
        With ``study``: take no T1.
    study_uid : str, optional
        The study to take when the path holds several.

    Yields
    ------
    ResolvedScans
        A chosen series is handed over as a private temporary folder of links to its files
        (outside the input and the output), removed when the block ends. Errors raised inside
        the block that name such a folder are raised again naming the input and the series.

    Raises
    ------
    ConfigError
        Options that do not go together.
    InputFileError
        As :func:`~b12brain.study.index.open_study`, :func:`~b12brain.study.select.one_study`
        and :func:`~b12brain.study.select.choose_series`.
    """
    if (flair is None) == (study is None):
        raise ConfigError("give exactly one of --flair PATH and --study PATH")
    if study is not None and t1 is not None:
        raise ConfigError("--t1 goes with --flair; with --study the T1 is chosen in the study (--t1-series, --no-t1)")
    if no_t1 and (t1 is not None or t1_series is not None):
        raise ConfigError("--no-t1 cannot go with --t1 or --t1-series")
    if t1_series is not None and study is None and t1 is None:
        raise ConfigError("--t1-series chooses a series in --study or --t1; give one of them")
    with ExitStack() as stack:
        links: list[Path] = []  # the private folder of links, made when a series needs it
        labels: dict[Path, str] = {}
        choices: list[SeriesChoice] = []
        notes: list[str] = []

        def take(path: Path | str, role: Role, pick: str | None, *, index: StudyIndex | None = None,
                 required: bool = True) -> Path | None:
            path = Path(path)
            if index is None and _is_nifti_file(path):
                if pick is not None:
                    raise ConfigError(f"--{role}-series chooses a series in a study, but {path} is a NIfTI file")
                return path
            if index is None:
                index = stack.enter_context(open_study(path))
                notes.extend(index.notes)
            series = one_study(index, study_uid)
            choice = choose_series(index.path, series, role, pick=pick, take_only=study is None, required=required)
            if choice is None:
                notes.append(f"no T1 series found in {index.path}; the run goes on without a T1")
                return None
            if study is None and _is_the_folder(path, choice.series, series):
                return path  # --flair/--t1 given one series' folder: read in place, as always; nothing chosen
            choices.append(choice)
            if not links:
                links.append(Path(tempfile.mkdtemp(prefix="b12brain-series-")))
                stack.callback(shutil.rmtree, links[0], True)
            folder = _linked(links[0], role, choice.series)
            labels[folder] = f"{index.path} ({choice.series.label})"
            return folder

        if study is not None:
            index = stack.enter_context(open_study(study))
            notes.extend(index.notes)
            flair_path = take(study, "flair", flair_series, index=index)
            t1_path = None if no_t1 else take(study, "t1", t1_series, index=index, required=t1_series is not None)
        else:
            assert flair is not None
            flair_path = take(flair, "flair", flair_series)
            t1_path = None if t1 is None else take(t1, "t1", t1_series)
        assert flair_path is not None
        if t1_path is not None and any(c.role == "t1" for c in choices) and len({c.series.uid for c in choices}) == 1:
            raise ConfigError(f"the same series ({choices[0].series.label}) was chosen as the FLAIR and as the T1; "
                              "choose another with --flair-series or --t1-series")
        try:
            yield ResolvedScans(flair_path, t1_path, tuple(choices), tuple(notes))
        except PathError as err:
            relabelled = _relabelled(err, labels)
            if relabelled is err:
                raise
            raise relabelled from err


def _is_nifti_file(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith((".nii", ".nii.gz"))


def _is_the_folder(path: Path, chosen: SeriesInfo, series: tuple[SeriesInfo, ...]) -> bool:
    """Whether ``path`` is a folder whose DICOM files are exactly the chosen series' files."""
    return path.is_dir() and len(series) == 1 and all(f.parent == path for f in chosen.files)


def _linked(links: Path, role: Role, series: SeriesInfo) -> Path:
    """A folder of links to the series' files, named as the originals (numbered where two clash)."""
    folder = links / f"{role}-series-{series.number if series.number is not None else 'x'}"
    folder.mkdir()
    names = [f.name for f in series.files]
    clash = len(set(names)) < len(names)
    for i, path in enumerate(series.files):
        name = f"{i:05d}_{path.name}" if clash else path.name
        os.symlink(os.path.abspath(path), folder / name)
    return folder


def _relabelled(err: PathError, labels: dict[Path, str]) -> PathError:
    """``err`` naming the input and series instead of a private folder of links."""
    for folder, label in labels.items():
        if Path(err.path) == folder or Path(err.path).is_relative_to(folder):
            inner = Path(err.path).relative_to(folder)
            where = label if inner == Path(".") else f"{label}: {inner}"
            return type(err)(where, err.problem)
    return err
