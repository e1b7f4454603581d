"""The ``subject`` record: identifiers exactly as given, the visit date, and every refusal."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from b12brain.errors import ConfigError, InputFileError
from b12brain.subject import (
    SUBJECT_FIELDS,
    check_patient_id,
    check_same_patient,
    differing_fields,
    parse_visit_date,
    subject_record,
)
from b12brain.types import Volume

DICOM_IDS = {"PatientID": "HOSP-0042", "PatientName": "QUUX^ZELDA", "PatientBirthDate": "19500101",
             "AccessionNumber": "ACC-9"}
STUDY = {"StudyDate": "2024-01-01", "StudyInstanceUID": "1.2.826.0.1.99"}


def _scan(identifiers=None, metadata=None, source="flair"):
    return Volume(np.zeros((2, 2, 2)), np.eye(4), source, metadata=metadata or {}, identifiers=identifiers or {})


def test_dicom_identifiers_are_kept_exactly_as_given():
    record = subject_record(_scan(DICOM_IDS, STUDY))
    assert {k: record[k] for k in SUBJECT_FIELDS} == DICOM_IDS | STUDY
    assert record["visit_date"] == "2024-01-01" and record["sources"]["visit_date"] == "StudyDate"
    assert record["sources"]["PatientID"] == "DICOM" and record["deidentified"] is False


def test_a_nifti_scan_records_only_what_the_user_gave():
    record = subject_record(_scan(), patient_id="PSEUDO-7", visit_date=date(2023, 5, 6))
    assert record["PatientID"] == "PSEUDO-7" and record["sources"]["PatientID"] == "--patient-id"
    assert record["visit_date"] == "2023-05-06" and record["sources"]["visit_date"] == "--date"
    assert all(record[k] is None for k in SUBJECT_FIELDS if k != "PatientID")
    assert subject_record(_scan())["visit_date"] is None  # never invented


def test_patient_id_that_differs_from_dicom_is_refused_unless_deidentified():
    with pytest.raises(ConfigError, match="--patient-id: differs from the PatientID") as refused:
        subject_record(_scan(DICOM_IDS, STUDY), patient_id="PSEUDO-7")
    assert "HOSP-0042" not in str(refused.value) and "PSEUDO-7" not in str(refused.value)
    same = subject_record(_scan(DICOM_IDS, STUDY), patient_id="HOSP-0042")
    assert same["sources"]["PatientID"] == "DICOM and --patient-id"
    pseudonymised = subject_record(_scan(DICOM_IDS, STUDY), patient_id="PSEUDO-7", deidentify=True)
    assert pseudonymised["PatientID"] == "PSEUDO-7" and pseudonymised["deidentified"] is True
    assert pseudonymised["PatientName"] is None and pseudonymised["PatientBirthDate"] is None
    assert pseudonymised["AccessionNumber"] is None and set(pseudonymised["sources"]) >= {"PatientID", "StudyDate"}
    # The study's UID and date are kept, as in every output of a de-identified run.
    assert pseudonymised["StudyInstanceUID"] == STUDY["StudyInstanceUID"] and pseudonymised["visit_date"] == "2024-01-01"


def test_deidentify_withholds_every_patient_field():
    record = subject_record(_scan(DICOM_IDS, STUDY), deidentify=True)
    assert all(record[k] is None for k in DICOM_IDS) and "HOSP" not in str(record) and "QUUX" not in str(record)


def test_a_date_that_differs_from_the_scans_own_is_refused():
    assert subject_record(_scan(metadata=STUDY), visit_date=date(2024, 1, 1))["sources"]["visit_date"] == "--date and StudyDate"
    with pytest.raises(ConfigError, match="--date: 2024-01-02 differs from the FLAIR's StudyDate 2024-01-01"):
        subject_record(_scan(metadata=STUDY), visit_date=date(2024, 1, 2))
    acquired = _scan(metadata={"AcquisitionDateTime": "2024-02-03T10:11:12"})
    assert subject_record(acquired)["visit_date"] == "2024-02-03"
    with pytest.raises(ConfigError, match="AcquisitionDateTime"):
        subject_record(acquired, visit_date=date(2024, 2, 4))


@pytest.mark.parametrize("text", ["2024-13-01", "01/02/2024", "", (date.today() + timedelta(days=1)).isoformat()])
def test_bad_visit_dates_are_refused(text):
    with pytest.raises(ConfigError, match="--date"):
        parse_visit_date(text)


@pytest.mark.parametrize("text", ["", "   ", "x" * 65, "ab\ncd", "a\\b"])
def test_bad_patient_ids_are_refused_without_quoting_them(text):
    with pytest.raises(ConfigError, match="--patient-id") as refused:
        check_patient_id(text)
    assert text.strip() == "" or text not in str(refused.value)


def test_names_compare_without_case_or_separators_ids_exactly():
    assert differing_fields({"PatientName": "DOE^JANE^^"}, {"PatientName": "doe  jane"}) == []
    assert differing_fields({"PatientBirthDate": "19500101"}, {"PatientBirthDate": "1950-01-01"}) == []
    assert differing_fields({"PatientID": "A7"}, {"PatientID": "a7"}) == ["PatientID"]
    assert differing_fields({"PatientID": "A7"}, {"PatientName": "X"}) == []  # nothing in common: nothing to compare


def test_a_t1_of_another_patient_is_refused():
    flair, t1 = _scan(DICOM_IDS), _scan(DICOM_IDS | {"PatientID": "HOSP-0043"}, source="t1_folder")
    with pytest.raises(InputFileError, match="t1_folder: its DICOM PatientID differs from the FLAIR's") as refused:
        check_same_patient(flair, t1)
    assert "HOSP" not in str(refused.value)
    check_same_patient(flair, _scan(DICOM_IDS, source="t1"))
    check_same_patient(flair, _scan(source="t1.nii.gz"))  # a NIfTI T1 gives nothing to compare


def test_read_scans_refuses_a_t1_of_another_patient_before_any_work():
    from b12brain.pipeline import read_scans

    with pytest.raises(InputFileError, match="t1_folder: its DICOM PatientName differs"):
        read_scans(_scan(DICOM_IDS), _scan(DICOM_IDS | {"PatientName": "OTHER^PERSON"}, source="t1_folder"))
