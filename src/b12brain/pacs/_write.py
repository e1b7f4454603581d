"""Which DICOM objects a run writes, and why none are written when they are not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from b12brain.errors import InputFileError
from b12brain.io.atomic import atomic_path
from b12brain.pacs._source import place_frames, read_source_series
from b12brain.pipeline import PipelineResult

SEG_NAME = "lesion_seg.dcm"
PDF_NAME = "report_pdf.dcm"
REPORT_PDF = "report.pdf"
NOT_DICOM_REASON = "not written: the FLAIR was not read from DICOM, so there is no source series to reference"
DEIDENTIFIED_REASON = ("not written: the run was de-identified (--deidentify) and DICOM objects for the hospital's "
                       "archive must carry the patient's identifiers; run without --deidentify to have them")


def write_dicom_outputs(result: PipelineResult, folder: Path, *, deidentify: bool = False) -> dict[str, Any]:
    """Write ``lesion_seg.dcm`` (and ``report_pdf.dcm`` when ``folder`` holds ``report.pdf``)
    into ``folder`` when the FLAIR was read from DICOM; return the ``dicom_outputs`` record of
    ``summary.json``: ``written`` (file names) and ``not_written`` (file name -> why).

    Nothing DICOM is written for a NIfTI FLAIR (no source series to reference) or with
    ``deidentify`` (these objects go back to the hospital with the source's patient module,
    which a de-identified run must not hold).

    A Segmentation that cannot be made (the source lacks what the IOD needs, or its frames are
    not on the FLAIR's grid) is recorded under ``not_written`` with the cause; the run stands.

    Raises
    ------
    InputFileError
        The source series holds no image any more.
    """
    flair = result.flair
    series_uid = flair.metadata.get("SeriesInstanceUID")
    reason = None
    if series_uid is None or not Path(flair.source).is_dir():
        reason = NOT_DICOM_REASON
    elif deidentify:
        reason = DEIDENTIFIED_REASON
    if reason is not None:
        return {"written": [], "not_written": {SEG_NAME: reason, PDF_NAME: reason}}
    # highdicom is imported only here: a NIfTI run writes no DICOM and saves its import (about 0.4 s).
    from b12brain.pacs._pdf import build_encapsulated_pdf
    from b12brain.pacs._seg import build_segmentation

    datasets = read_source_series(flair.source, str(series_uid))
    written, not_written = [], {}
    seg = None
    if "FrameOfReferenceUID" not in datasets[0]:
        not_written[SEG_NAME] = ("not written: the source series has no FrameOfReferenceUID, which a Segmentation "
                                 "needs to be placed on it")
    else:
        try:
            frames = place_frames(datasets, flair.affine, flair.shape)
            seg = build_segmentation(frames, result.class_map(), result.caps_lining_mask,
                                     provenance=result.segmenter_provenance)
        except (InputFileError, ValueError, AttributeError) as err:  # highdicom names what it found wanting
            # The cause without the source's path: a series chosen in a study lies in a private folder.
            not_written[SEG_NAME] = f"not written: {err.problem if isinstance(err, InputFileError) else err}"
        else:
            if seg is None:
                not_written[SEG_NAME] = ("not written: no lesion and no caps/lining was found (a Segmentation "
                                         "needs at least one segment)")
    if seg is not None:
        with atomic_path(folder / SEG_NAME) as tmp:
            seg.save_as(tmp, enforce_file_format=True)
        written.append(SEG_NAME)
    if (folder / REPORT_PDF).is_file():
        with atomic_path(folder / PDF_NAME) as tmp:
            build_encapsulated_pdf(folder / REPORT_PDF, datasets[0]).save_as(tmp, enforce_file_format=True)
        written.append(PDF_NAME)
    else:
        not_written[PDF_NAME] = f"not written: the run folder has no {REPORT_PDF}"
    return {"written": written, "not_written": not_written}
