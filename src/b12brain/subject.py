"""Who and when: a run's patient and study identifiers and its visit date (``summary.json`` ``subject``).

:func:`subject_record` joins what the FLAIR's DICOM headers give (``PatientID``, ``PatientName``,
``PatientBirthDate``, ``AccessionNumber``, ``StudyInstanceUID``, ``StudyDate``) with what the user
gives (``run --patient-id``, ``--date``); every value is kept exactly as given, nothing is invented.
``b12brain followup`` and ``b12brain report --prior`` compare the records of the runs they are given
(:func:`differing_fields`). The decisions (docs/dicom.md, "Who and when"):

- ``--patient-id`` names the patient of a NIfTI scan (a pseudonym or hospital number). One that
  differs from the DICOM ``PatientID`` is refused, unless ``--deidentify``: then it is the
  pseudonym that replaces the hospital's identifiers.
- ``--date`` that differs from the scan's own ``StudyDate`` is refused: the header is what the
  scanner recorded, and a disagreement means a typing error or the wrong scan.
- ``--deidentify`` withholds ``PatientID``, ``PatientName``, ``PatientBirthDate`` and
  ``AccessionNumber`` (a ``--patient-id`` pseudonym is kept); the study UID and the dates are kept,
  as in every output of a de-identified run (they match a follow-up scan to its baseline).

No identifier is ever put in a message: refusals name the fields and the folders only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from b12brain.errors import ConfigError, InputFileError
from b12brain.types import Volume

#: The fields of the ``subject`` record, in the order the report shows them.
SUBJECT_FIELDS = ("PatientID", "PatientName", "PatientBirthDate", "AccessionNumber", "StudyInstanceUID", "StudyDate")
#: Fields naming the patient: compared between runs of one patient.
PATIENT_FIELDS = ("PatientID", "PatientName", "PatientBirthDate")
#: Fields left out with ``--deidentify`` (a ``--patient-id`` pseudonym is kept).
WITHHELD_FIELDS = ("PatientID", "PatientName", "PatientBirthDate", "AccessionNumber")
#: Longest ``--patient-id`` (the DICOM PatientID, a "long string", holds at most 64 characters).
MAX_PATIENT_ID_CHARS = 64


def parse_date(text: str, source: str) -> date:
    """A date given as ``YYYY-MM-DD`` or DICOM's ``YYYYMMDD``; :class:`InputFileError` naming ``source`` else.

    Examples
    --------
    >>> parse_date("20240102", "StudyDate"), parse_date("2024-01-02", "--date")
    (datetime.date(2024, 1, 2), datetime.date(2024, 1, 2))
    """
    for pattern in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    raise InputFileError(source, f"{text[:40]!r} is not a date; expected YYYY-MM-DD")


def parse_visit_date(text: str) -> date:
    """``run --date``: a date ``YYYY-MM-DD`` not after today.

    Raises
    ------
    ConfigError
        Not a date, or a date after today.
    """
    try:
        given = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError as err:
        raise ConfigError(f"--date: {text[:40]!r} is not a date; expected YYYY-MM-DD (e.g. 2024-03-31)") from err
    if given > date.today():
        raise ConfigError(f"--date: {given} is after today; give the date the scan was made")
    return given


def check_patient_id(text: str) -> str:
    """``run --patient-id``: printable text of 1 to :data:`MAX_PATIENT_ID_CHARS` characters, as given
    (surrounding spaces dropped). The value is never quoted in the message.

    Raises
    ------
    ConfigError
        Empty, too long, or holding a control character or a backslash (DICOM's value separator).
    """
    value = text.strip()
    if not value or len(value) > MAX_PATIENT_ID_CHARS or not value.isprintable() or "\\" in value:
        raise ConfigError(f"--patient-id: expected 1 to {MAX_PATIENT_ID_CHARS} printable characters without a "
                          "backslash (a pseudonym or hospital number, as DICOM's PatientID holds it)")
    return value


def subject_record(
    flair: Volume,
    *,
    patient_id: str | None = None,
    visit_date: date | None = None,
    deidentify: bool = False,
) -> dict[str, Any]:
    """The ``subject`` record of a run of ``flair``: identifiers as given, the visit date.

    The T1, if any, is checked against the FLAIR when the scans are read
    (:func:`b12brain.pipeline.read_scans`, :func:`check_same_patient`).

    Parameters
    ----------
    flair : Volume
        The FLAIR as read; identifiers come from its :attr:`~Volume.identifiers` (DICOM), the
        study's UID and date from its :attr:`~Volume.metadata`.
    patient_id : str, optional
        ``--patient-id`` (checked by :func:`check_patient_id`).
    visit_date : date, optional
        ``--date``; default: the FLAIR's ``StudyDate`` (else the date of its ``AcquisitionDateTime``).
    deidentify : bool
        Withhold :data:`WITHHELD_FIELDS` (a ``patient_id`` is kept as the pseudonym).

    Returns
    -------
    dict
        Every field of :data:`SUBJECT_FIELDS` (``None`` when not given), ``visit_date``
        (ISO or ``None``), ``sources`` (where each given value came from) and ``deidentified``.

    Raises
    ------
    ConfigError
        ``patient_id`` differs from the DICOM ``PatientID`` without ``deidentify``, or
        ``visit_date`` differs from the FLAIR's own date.

    Examples
    --------
    >>> import numpy as np
    >>> scan = Volume(np.zeros((2, 2, 2)), np.eye(4), metadata={"StudyDate": "2024-01-02"})
    >>> record = subject_record(scan, patient_id="P-17")
    >>> record["PatientID"], record["visit_date"], record["sources"]["visit_date"]
    ('P-17', '2024-01-02', 'StudyDate')
    """
    found = dict(flair.identifiers)
    sources = {key: "DICOM" for key in found}
    if patient_id is not None:
        if "PatientID" in found and found["PatientID"] != patient_id and not deidentify:
            raise ConfigError("--patient-id: differs from the PatientID in the FLAIR's DICOM headers (neither is "
                              "shown); leave --patient-id out to keep the DICOM PatientID, or add --deidentify to "
                              "record the pseudonym in place of the hospital's identifiers")
        sources["PatientID"] = "DICOM and --patient-id" if found.get("PatientID") == patient_id else "--patient-id"
        found["PatientID"] = patient_id
    if deidentify:
        for key in WITHHELD_FIELDS:
            if not (key == "PatientID" and patient_id is not None):
                found.pop(key, None)
                sources.pop(key, None)
    for key in ("StudyInstanceUID", "StudyDate"):
        value = flair.metadata.get(key)
        if isinstance(value, str) and value.strip():
            found[key], sources[key] = value.strip(), "scan metadata"
    scanned, scanned_from = _scan_date(flair.metadata)
    if visit_date is not None and scanned is not None and visit_date != scanned:
        raise ConfigError(f"--date: {visit_date} differs from the FLAIR's {scanned_from} {scanned}; leave --date "
                          "out to take the scan's own date, or check that this is the scan of that visit")
    when = visit_date or scanned
    if when is not None:
        sources["visit_date"] = ("--date" if scanned is None else f"--date and {scanned_from}") if visit_date else scanned_from
    return {key: found.get(key) for key in SUBJECT_FIELDS} | {
        "visit_date": when.isoformat() if when else None, "sources": sources, "deidentified": deidentify,
    }


def check_same_patient(flair: Volume, t1: Volume) -> None:
    """Refuse a T1 whose DICOM patient identifiers differ from the FLAIR's (:func:`differing_fields`).

    Raises
    ------
    InputFileError
        Naming the T1 and the fields that differ (never their values).
    """
    differing = differing_fields(flair.identifiers, t1.identifiers)
    if differing:
        raise InputFileError(t1.source, f"its DICOM {' and '.join(differing)} differ{'s' if len(differing) == 1 else ''} "
                             "from the FLAIR's (values not shown): the scans may be of different patients; give the "
                             "T1 of the FLAIR's session")


def differing_fields(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[str]:
    """The :data:`PATIENT_FIELDS` that both give and that differ (names compared without case,
    spacing or DICOM's ``^`` separators; birth dates as digits; IDs exactly).

    Examples
    --------
    >>> differing_fields({"PatientName": "DOE^JANE", "PatientID": "7"}, {"PatientName": "Doe Jane", "PatientID": "8"})
    ['PatientID']
    """
    return [key for key in PATIENT_FIELDS
            if first.get(key) and second.get(key) and _normal(key, first[key]) != _normal(key, second[key])]


def given_fields(record: Mapping[str, Any]) -> dict[str, str]:
    """The :data:`PATIENT_FIELDS` that a ``subject`` record gives."""
    return {key: str(record[key]) for key in PATIENT_FIELDS if record.get(key) not in (None, "")}


def _normal(key: str, value: Any) -> str:
    text = str(value).strip()
    if key == "PatientName":
        return " ".join(text.replace("^", " ").split()).casefold()
    if key == "PatientBirthDate":
        return "".join(ch for ch in text if ch.isdigit())
    return text


def _scan_date(metadata: Mapping[str, Any]) -> tuple[date | None, str]:
    """The scan's own date: ``StudyDate``, else the date of ``AcquisitionDateTime``; None if neither is a date."""
    for key in ("StudyDate", "AcquisitionDateTime"):
        value = metadata.get(key)
        if isinstance(value, str) and len(value.strip()) >= 8:
            try:
                return parse_date(value.strip()[:10] if "-" in value else value.strip()[:8], key), key
            except InputFileError:
                continue
    return None, ""
