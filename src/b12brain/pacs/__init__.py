"""Results back into the hospital's archive: the lesion mask as a DICOM Segmentation and the
report as an Encapsulated PDF in the source study (:func:`write_dicom_outputs`), and sending
them to a PACS (:func:`send_dicomweb`, :func:`send_cstore`)."""

from b12brain.pacs._send import SendTarget, run_dicom_files, send_cstore, send_dicomweb
from b12brain.pacs._write import NOT_DICOM_REASON, PDF_NAME, SEG_NAME, write_dicom_outputs

__all__ = ["NOT_DICOM_REASON", "PDF_NAME", "SEG_NAME", "SendTarget", "run_dicom_files", "send_cstore", "send_dicomweb",
           "write_dicom_outputs"]
