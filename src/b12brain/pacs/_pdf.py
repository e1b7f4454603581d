"""The run's report as an Encapsulated PDF instance in the source study (pydicom, per the IOD)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import highdicom as hd
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import EncapsulatedPDFStorage, ExplicitVRLittleEndian

from b12brain import __version__

#: Patient and General Study module attributes copied from the source series (PS3.3 C.7.1.1, C.7.2.1).
PATIENT_STUDY_KEYWORDS = (
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber",
    "StudyDescription",
)
_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
          "ReferringPhysicianName", "StudyID", "AccessionNumber")
_SERIES_NUMBER = 9302


def build_encapsulated_pdf(pdf: Path, source: Dataset, *, title: str = "b12brain report (not a diagnosis)") -> Dataset:
    """An Encapsulated PDF Storage instance holding ``pdf``, in the study of ``source`` (its patient
    and study identifiers copied), in a new series."""
    document = pdf.read_bytes()
    now = datetime.now()
    ds = Dataset()
    ds.SpecificCharacterSet = source.get("SpecificCharacterSet", "ISO_IR 192")
    for keyword in _TYPE2:
        setattr(ds, keyword, "")
    for keyword in PATIENT_STUDY_KEYWORDS:
        if keyword in source:
            setattr(ds, keyword, source.data_element(keyword).value)  # type: ignore[union-attr]
    ds.SOPClassUID = EncapsulatedPDFStorage
    ds.SOPInstanceUID = hd.UID()
    ds.SeriesInstanceUID = hd.UID()
    ds.Modality = "DOC"
    ds.SeriesNumber = _SERIES_NUMBER
    ds.SeriesDescription = title
    ds.InstanceNumber = 1
    ds.Manufacturer = "b12brain"
    ds.SoftwareVersions = __version__
    ds.ConversionType = "WSD"  # workstation: made by software, not scanned
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.ContentDate, ds.ContentTime
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.BurnedInAnnotation = "YES"  # the report names the patient and the study as given
    ds.DocumentTitle = title
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    # The value is padded to even length; the length attribute keeps the document's own size.
    ds.EncapsulatedDocument = document + (b"\0" if len(document) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(document)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds
