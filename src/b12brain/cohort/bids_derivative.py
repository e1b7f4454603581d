"""The cohort's results as a BIDS derivative dataset.

Per subject (and session), in ``sub-X[/ses-Y]/`` (the job's folder, published whole by
:func:`b12brain.io.outdir.staged_output_dir` with its ``b12brain-manifest.json``)::

    anat/sub-X[_ses-Y]_space-orig_desc-lesion_mask.nii.gz     lesions 0/1 (uint8)
    anat/sub-X[_ses-Y]_space-orig_desc-lesion_mask.json       Type, Sources and the run's summary
    anat/sub-X[_ses-Y]_space-orig_desc-lesionclass_dseg.nii.gz  0 none, 1-4 lesion class
    anat/sub-X[_ses-Y]_space-orig_desc-lesionclass_dseg.tsv   its label table (index, name)
    anat/sub-X[_ses-Y]_space-orig_desc-lesions_dseg.nii.gz    one label per lesion (uint16)
    anat/sub-X[_ses-Y]_space-orig_desc-lesions_dseg.tsv       the lesion table (index, name, volume...)
    anat/sub-X[_ses-Y]_space-orig_desc-*_dseg.json            Description, Sources, SpatialReference
    figures/sub-X[_ses-Y]_desc-lesions_qc.png                 the QC image

``space-orig`` says every image is on the input FLAIR's own grid and affine. The lesion table is
the label table of the lesion-label image (BIDS ``dseg.tsv``: ``index`` and ``name`` first, then
b12brain's lesion columns). ``figures/``, ``group/``, ``logs/`` and the manifests are listed in
``.bidsignore`` (BIDS has no rule for them).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from b12brain import __version__
from b12brain.cohort.bids_index import ScanJob
from b12brain.errors import OutputError
from b12brain.io import save_nifti
from b12brain.io.jsonfile import json_safe
from b12brain.io.manifest import MANIFEST_NAME
from b12brain.io.outdir import staged_output_dir, write_text_file
from b12brain.outputs import LESION_COLUMNS, estimate_output_bytes, summarise
from b12brain.pipeline import PipelineResult
from b12brain.quantify.lesions import LESION_CLASSES
from b12brain.report.qc import write_qc_image

#: BIDS version the derivative names follow.
BIDS_VERSION = "1.10.0"
#: What the BIDS validator is to skip: the QC figures, the group level, the logs and the
#: manifests (folder names without a trailing slash: the schema validator matches those).
BIDSIGNORE = "figures\ngroup\nlogs\nb12brain-manifest.json\n"


def scan_folder(out_dir: Path, job: ScanJob) -> Path:
    """The job's folder in the derivative dataset: ``sub-X`` or ``sub-X/ses-Y``."""
    folder = out_dir / job.participant_id
    return folder / f"ses-{job.session_id}" if job.session_id else folder


def derivative_names(job: ScanJob) -> dict[str, str]:
    """The job's output files, relative to :func:`scan_folder`, by role."""
    stem = f"anat/{job.key}_space-orig"
    return {
        "mask": f"{stem}_desc-lesion_mask.nii.gz",
        "summary": f"{stem}_desc-lesion_mask.json",
        "classes": f"{stem}_desc-lesionclass_dseg.nii.gz",
        "classes_table": f"{stem}_desc-lesionclass_dseg.tsv",
        "lesions": f"{stem}_desc-lesions_dseg.nii.gz",
        "lesion_table": f"{stem}_desc-lesions_dseg.tsv",
        "classes_sidecar": f"{stem}_desc-lesionclass_dseg.json",
        "lesions_sidecar": f"{stem}_desc-lesions_dseg.json",
        "qc_image": f"figures/{job.key}_desc-lesions_qc.png",
    }


def dataset_description(source: Path, *, is_bids: bool, segmenter: str, model_sha256: str | None) -> dict[str, Any]:
    """``dataset_description.json`` of the derivative dataset made from ``source`` with the
    named segmenter (and its weights' SHA-256)."""
    generated = {"Name": "b12brain", "Version": __version__,
                 "Description": f"white-matter lesions found by the {segmenter} segmenter, localised and measured; "
                 "research software, not a diagnosis"}
    if model_sha256:
        generated["ModelSHA256"] = model_sha256
    document: dict[str, Any] = {
        "Name": "b12brain white-matter lesions",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [generated],
        "SourceDatasets": [{"URL": source.absolute().as_uri()}],
    }
    if is_bids:
        document["DatasetLinks"] = {"raw": source.absolute().as_uri()}
    return document


def prepare_derivative(out_dir: Path, description: dict[str, Any]) -> None:
    """Make ``out_dir`` a b12brain derivative dataset, or check that it is one already.

    Raises
    ------
    OutputError
        ``out_dir`` holds files but no ``dataset_description.json`` of b12brain (it is not
        b12brain's derivative: b12brain writes into nothing else), another dataset's one, or
        one of b12brain with another version, segmenter, model or source.
    """
    path = out_dir / "dataset_description.json"
    if path.is_file():
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
            names = [g.get("Name") for g in found.get("GeneratedBy", [])]
        except (OSError, ValueError, AttributeError, TypeError) as err:
            raise OutputError(path, "is not a readable dataset description; choose another output folder") from err
        if "b12brain" not in names:
            raise OutputError(out_dir, "is another derivative dataset (its dataset_description.json does not name "
                              "b12brain as GeneratedBy); choose another output folder")
        if found != description:
            # Results of another version, segmenter, model or source must not be mixed with these.
            raise OutputError(path, "describes results of another b12brain version, segmenter, model or source "
                              "dataset than this run's; choose another output folder (or rerun with the same)")
    else:
        if out_dir.is_dir() and any(p for p in out_dir.iterdir() if not p.name.startswith(".")):
            raise OutputError(out_dir, "exists and holds files but no dataset_description.json; b12brain writes only "
                              "into an empty folder or its own derivative dataset: choose another output folder")
        write_text_file(_json_text(description), path)
    if not (out_dir / ".bidsignore").is_file():
        write_text_file(BIDSIGNORE, out_dir / ".bidsignore")


def write_scan_outputs(result: PipelineResult, job: ScanJob, out_dir: Path, *, sources: list[str],
                       command: str | None = None) -> Path:
    """Publish the job's folder (all of it or nothing); return it.

    ``sources`` are the inputs as BIDS URIs or paths (the sidecar's ``Sources``).

    Raises
    ------
    OutputError
        The job's folder exists and is not an unchanged b12brain result, or writing fails.
    """
    folder = scan_folder(out_dir, job)
    names = derivative_names(job)
    affine, geometry = result.flair.affine, result.flair.nifti_geometry
    inputs = [p for p in (job.flair, job.t1) if p is not None]
    with staged_output_dir(folder, overwrite=True, inputs=inputs, need_bytes=estimate_output_bytes(result.flair.shape),
                           command=command) as stage:
        (stage / "anat").mkdir()
        (stage / "figures").mkdir()
        class_map = result.class_map()
        save_nifti(result.lesion_mask.astype(np.uint8), affine, stage / names["mask"], dtype=np.uint8, geometry=geometry)
        save_nifti(class_map, affine, stage / names["classes"], dtype=np.uint8, geometry=geometry)
        save_nifti(result.lesion_labels, affine, stage / names["lesions"], dtype=np.uint16, geometry=geometry)
        # space-orig: the FLAIR's own grid, which BIDS asks to name as the SpatialReference.
        reference = {"Sources": sources, **({"SpatialReference": sources[0]} if sources else {})}
        summary = {"Type": "Lesion", "Description": "white-matter lesions (caps and lining of the ventricles apart)",
                   **reference, "b12brain": summarise(result)}
        (stage / names["summary"]).write_text(_json_text(summary), encoding="utf-8")
        for key, text in (("classes_sidecar", "lesion class of each lesion voxel (labels in the .tsv)"),
                          ("lesions_sidecar", "one label per lesion (the .tsv is the lesion table)")):
            (stage / names[key]).write_text(_json_text({"Description": text, **reference}), encoding="utf-8")
        _write_tsv(stage / names["classes_table"], ["index", "name"],
                   [[i + 1, name] for i, name in enumerate(LESION_CLASSES)])
        _write_tsv(stage / names["lesion_table"], ["index", "name", *LESION_COLUMNS[1:]],
                   [[lesion.id, f"lesion-{lesion.id}", *(lesion.as_dict()[c] for c in LESION_COLUMNS[1:])]
                    for lesion in result.lesions])
        burden = result.burden
        write_qc_image(result.flair, class_map, result.ventricles, stage / names["qc_image"],
                       caps_lining=result.caps_lining_mask,
                       title=f"{job.key}: {burden.lesion_count} lesions, {burden.lesion_ml:.2f} mL "
                       f"- b12brain {__version__}, not a diagnosis",
                       warnings=[w.message for w in result.warnings])
    return folder


def read_summary(out_dir: Path, job: ScanJob) -> dict[str, Any]:
    """The ``b12brain`` summary that :func:`write_scan_outputs` wrote for ``job``."""
    path = scan_folder(out_dir, job) / derivative_names(job)["summary"]
    return dict(json.loads(path.read_text(encoding="utf-8"))["b12brain"])


def is_published(out_dir: Path, job: ScanJob) -> bool:
    """Whether the job's folder exists with its manifest (verify it with
    :func:`b12brain.io.manifest.manifest_problem`)."""
    return (scan_folder(out_dir, job) / MANIFEST_NAME).is_file()


def _write_tsv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        writer.writerows([["n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in row]
                          for row in rows])


def _json_text(content: Any) -> str:
    return json.dumps(json_safe(content), indent=2) + "\n"

