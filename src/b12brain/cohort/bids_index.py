"""Which scans a cohort holds: a BIDS dataset (indexed with bids2table) or a CSV manifest, as
one :class:`ScanJob` per subject (and session).

A job records what is wrong with its input instead of raising (no FLAIR, several FLAIRs, an
empty session folder, files that are not BIDS, a duplicate id), so one bad subject never stops
a cohort; only a folder that is not a BIDS dataset at all raises.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from b12brain.errors import InputFileError
from b12brain.labs.tablefile import MAX_TABLE_BYTES

_LABEL = re.compile(r"[A-Za-z0-9]+")
_SUBJECT_DIR = re.compile(r"sub-([A-Za-z0-9]+)")
_SESSION_DIR = re.compile(r"ses-([A-Za-z0-9]+)")
_NIFTI_EXTENSIONS = (".nii.gz", ".nii")
#: Columns of a CSV manifest that are not labs (every other column is read as a lab field).
MANIFEST_COLUMNS = ("subject", "session", "flair", "t1")


@dataclass(frozen=True)
class ScanJob:
    """The scans of one subject (and session) and what is wrong with them.

    ``problem`` is why the job cannot run (no FLAIR, several FLAIRs, a duplicate); ``notes``
    are things the user should know that do not stop it (a non-BIDS file ignored).
    """

    participant_id: str
    session_id: str = ""
    flair: Path | None = None
    t1: Path | None = None
    problem: str = ""
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """``sub-X`` or ``sub-X_ses-Y``: the prefix of the job's file names."""
        return self.participant_id + (f"_ses-{self.session_id}" if self.session_id else "")

    @property
    def runnable(self) -> bool:
        """Whether the job has a FLAIR and nothing that stops it."""
        return not self.problem and self.flair is not None


@dataclass(frozen=True)
class CohortIndex:
    """The jobs of a cohort, where they come from, and notes on the dataset as a whole."""

    source: Path
    jobs: tuple[ScanJob, ...]
    is_bids: bool
    notes: tuple[str, ...] = ()
    participants: pd.DataFrame | None = field(default=None, compare=False)


def index_bids(
    bids_dir: Path | str,
    *,
    participant_labels: Sequence[str] = (),
    session_labels: Sequence[str] = (),
) -> CohortIndex:
    """Find every subject's FLAIR (``sub-*/[ses-*/]anat/*_FLAIR.nii[.gz]``) and optional T1w.

    Parameters
    ----------
    bids_dir : path
        Root of a BIDS dataset.
    participant_labels, session_labels : sequence of str
        Only these subjects / sessions (with or without the ``sub-`` / ``ses-`` prefix); empty
        takes all.

    Returns
    -------
    CohortIndex
        One job per subject and session found (sessions are jobs of their own); a subject
        folder without any scan is a job with a ``problem``.

    Raises
    ------
    InputFileError
        ``bids_dir`` is not a folder, holds no ``sub-*`` folder, or a label is not alphanumeric.
    """
    import bids2table

    root = Path(bids_dir)
    if not root.is_dir():
        raise InputFileError(root, "is not a folder; give the root of a BIDS dataset (or a CSV manifest)")
    wanted_subjects = _labels(participant_labels, "sub-", "--participant-label")
    wanted_sessions = _labels(session_labels, "ses-", "--session-label")
    subject_dirs = sorted(
        entry.name for entry in os.scandir(root) if entry.is_dir() and _SUBJECT_DIR.fullmatch(entry.name)
    )
    if not subject_dirs:
        raise InputFileError(root, "is not a BIDS dataset: it holds no sub-<label> folder; give the dataset's root "
                             "(the folder with dataset_description.json, participants.tsv and sub-* folders)")
    notes = []
    if not (root / "dataset_description.json").is_file():
        notes.append(f"{root}: has no dataset_description.json (BIDS requires one); read as BIDS all the same")
    if wanted_subjects:
        missing = sorted(wanted_subjects - {name[4:] for name in subject_dirs})
        notes += [f"--participant-label {label}: no folder sub-{label} in {root}" for label in missing]
        subject_dirs = [name for name in subject_dirs if name[4:] in wanted_subjects]
    if not subject_dirs:
        return CohortIndex(root, (), is_bids=True, notes=tuple(notes))
    table = bids2table.index_dataset(root, include_subjects=subject_dirs if wanted_subjects else None).select(
        ["sub", "ses", "datatype", "suffix", "ext", "path"]
    ).to_pylist()
    found: dict[tuple[str, str], dict[str, list[Path]]] = {}
    for row in table:
        if row["datatype"] != "anat" or row["ext"] not in _NIFTI_EXTENSIONS or row["suffix"] not in ("FLAIR", "T1w"):
            continue
        session = row["ses"] or ""
        found.setdefault((row["sub"], session), {"FLAIR": [], "T1w": []})[row["suffix"]].append(root / row["path"])
    jobs = []
    for name in subject_dirs:
        label = name[4:]
        sessions = sorted(e.name[4:] for e in os.scandir(root / name) if e.is_dir() and _SESSION_DIR.fullmatch(e.name))
        if wanted_sessions:
            sessions = [s for s in sessions if s in wanted_sessions]
        for session in sessions or ([""] if not wanted_sessions else []):
            jobs.append(_job(root, label, session, found.get((label, session))))
    return CohortIndex(root, tuple(jobs), is_bids=True, notes=tuple(notes))


def read_manifest(path: Path | str) -> CohortIndex:
    """Read a CSV manifest: columns ``subject``, ``session`` (may be empty), ``flair``, ``t1``
    (may be empty; paths relative to the manifest's folder) and lab columns.

    The lab columns are returned as ``participants`` (with ``participant_id`` and
    ``session_id``) for :func:`b12brain.cohort.bids_participants.read_participants`. A row
    naming a subject and session already named is a job with a ``problem`` (both rows).

    Raises
    ------
    InputFileError
        The file cannot be read as CSV or lacks the ``subject`` or ``flair`` column.
    """
    path = Path(path)
    if path.is_file() and (size := path.stat().st_size) > MAX_TABLE_BYTES:
        raise InputFileError(path, f"holds {size:,} bytes, more than the {MAX_TABLE_BYTES:,} a manifest may have; "
                             "split the cohort into several manifests")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep=None, engine="python", encoding="utf-8-sig")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise InputFileError(path, f"cannot be read as a CSV manifest ({err}); expected a header line "
                             "subject,session,flair,t1,<lab columns> and one row per scan") from err
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in ("subject", "flair") if c not in frame.columns]
    if missing:
        raise InputFileError(path, f"manifest has no column {', '.join(missing)}; expected a header line "
                             "subject,session,flair,t1,<lab columns>")
    frame["participant_id"] = [_prefixed(s.strip(), "sub-") for s in frame["subject"]]
    frame["session_id"] = [s.strip().removeprefix("ses-") for s in frame.get("session", pd.Series([""] * len(frame)))]
    keys = list(zip(frame["participant_id"], frame["session_id"], strict=True))
    counts = pd.Series(keys).value_counts()
    jobs = []
    for i, (participant, session) in enumerate(keys):
        flair_text = frame["flair"].iloc[i].strip()
        t1_text = frame["t1"].iloc[i].strip() if "t1" in frame.columns else ""
        problem = ""
        if not _LABEL.fullmatch(participant.removeprefix("sub-")) or (session and not _LABEL.fullmatch(session)):
            problem = (f"{path}, row {i + 1}: subject {participant!r} / session {session!r} is not a BIDS label; "
                       "use letters and digits only")
        elif counts[(participant, session)] > 1:
            problem = f"{path}: subject {participant} session {session or '(none)'} is named in several rows; name each once"
        elif not flair_text:
            problem = f"{path}, row {i + 1}: no FLAIR path given"
        jobs.append(ScanJob(participant, session, _resolve(path.parent, flair_text), _resolve(path.parent, t1_text),
                            problem=problem))
    participants = frame.drop(columns=[c for c in MANIFEST_COLUMNS if c in frame.columns])
    return CohortIndex(path, tuple(jobs), is_bids=False, participants=participants)


def _job(root: Path, label: str, session: str, files: dict[str, list[Path]] | None) -> ScanJob:
    participant = f"sub-{label}"
    anat = root / participant / (f"ses-{session}" if session else "") / "anat"
    flairs = sorted((files or {}).get("FLAIR", []))
    t1s = sorted((files or {}).get("T1w", []))
    notes = []
    if not flairs:
        return ScanJob(participant, session, problem=_why_no_flair(root, anat, session))
    if len(flairs) > 1:
        names = ", ".join(p.name for p in flairs)
        return ScanJob(participant, session, problem=f"{anat}: several FLAIRs ({names}); b12brain does not choose "
                       "between them: keep one in the dataset (list the others in .bidsignore)")
    if len(t1s) > 1:
        notes.append(f"{anat}: several T1w ({', '.join(p.name for p in t1s)}); none used")
    return ScanJob(participant, session, flairs[0], t1s[0] if len(t1s) == 1 else None, notes=tuple(notes))


def _why_no_flair(root: Path, anat: Path, session: str) -> str:
    folder = anat.parent
    if session and not any(not p.name.startswith(".") for p in folder.iterdir()):
        return f"{folder}: empty session folder (no anat/*_FLAIR.nii.gz)"
    if not anat.is_dir():
        return f"{anat}: missing; expected {anat.relative_to(root)}/<sub>[_ses-<label>]_FLAIR.nii.gz"
    others = sorted(p.name for p in anat.iterdir() if not p.name.startswith("."))
    seen = f" (found {', '.join(others[:5])}{', ...' if len(others) > 5 else ''}; not BIDS FLAIR names)" if others else ""
    return f"{anat}: no *_FLAIR.nii.gz{seen}"


def _labels(values: Iterable[str], prefix: str, option: str) -> set[str]:
    labels = {v.removeprefix(prefix) for v in values}
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise InputFileError(option, f"{label!r} is not a BIDS label; use letters and digits only (e.g. 01)")
    return labels


def _prefixed(text: str, prefix: str) -> str:
    return text if text.startswith(prefix) else prefix + text


def _resolve(folder: Path, text: str) -> Path | None:
    if not text:
        return None
    path = Path(text).expanduser()
    return path if path.is_absolute() else folder / path
