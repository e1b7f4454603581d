"""Writes a :class:`~b12brain.pipeline.PipelineResult` to a folder, all at once or not at all.

Files: ``lesion_mask.nii.gz`` (uint8 0/1), ``lesion_prob.nii.gz`` (float32 0..1),
``lesion_labels.nii.gz`` (uint16 lesion ids matching ``lesions.csv``), ``caps_lining_mask.nii.gz``
(uint8 0/1: caps and pencil-thin lining of the ventricles, not lesions), ``lesions.csv``,
``summary.json``, ``qc_axial.png`` and the report (``report.html``, ``report.pdf``,
:mod:`b12brain.report.build`); every image on the input FLAIR's native grid and affine;
``flair.json`` / ``t1.json`` (the scans' acquisition metadata, BIDS sidecars) when known.
``b12brain-manifest.json`` (written last) lists them with their sizes and SHA-256; see
:mod:`b12brain.io.outdir` for how the folder is published and when it may be replaced.
"""

from __future__ import annotations

import csv
import importlib.metadata
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from b12brain import __version__
from b12brain.clinical import DISCLAIMER
from b12brain.io import save_nifti
from b12brain.io.atomic import atomic_path
from b12brain.io.jsonfile import json_safe
from b12brain.io.manifest import MANIFEST_NAME, file_sha256
from b12brain.io.outdir import staged_output_dir
from b12brain.io.sidecar import public_metadata
from b12brain.pipeline import PipelineResult
from b12brain.qc import no_t1_summary
from b12brain.quantify.lesions import CLASS_RULE, Lesion
from b12brain.quantify.lining import CAPS_LINING_RULE
from b12brain.report.build import LesionImages, write_report_files
from b12brain.report.qc import write_qc_image
from b12brain.subject import subject_record
from b12brain.types import Volume

#: 1.1 (2026-12-02): ``caps_lining`` added; lesion counts and volumes leave caps and lining out.
#: 1.2 (2026-12-07): ``warnings`` (QC warnings: header oddities, borderline scans) added.
#: 1.3 (2026-12-07): ``t1`` (given, what it is used for, its check figures) and ``scan_checks``
#: (the figures of the "is this a brain FLAIR?" checks, docs/scan-qc.md) added.
#: 1.4 (2026-12-07): ``inputs[].sidecar`` (``"flair.json"``/``"t1.json"``: the scan's acquisition
#: metadata, or null); ``inputs[].path`` is null with ``run --deidentify``; ``series`` (the
#: series a run chose in a study, CD or archive, and why) and ``inputs[].series_uid`` added.
#: 1.5 (2026-12-07): ``dicom_outputs`` (with ``run``: the DICOM objects written for the archive,
#: ``written``, and why any was not, ``not_written``) added.
#: 1.6 (2026-12-07): ``subject`` (patient and study identifiers exactly as given, the visit date
#: and where each came from, :mod:`b12brain.subject`) and ``self_check`` (the per-scan self-check:
#: synthetic lesions found by size, volume error, green/amber/red rating and its rule; absent with
#: ``run --no-self-check``) added.
#: 1.7 (2026-12-08): ``software.libraries`` (the versions of the libraries that shape the
#: results) and the ventricle figures of ``scan_checks`` (``ventricles_ml``,
#: ``atlas_ventricles_ml``, ``ventricles_to_atlas``, ``ventricle_core_dark``) added.
SUMMARY_SCHEMA_VERSION = "1.7"
#: The libraries whose versions shape a run's figures, by the distributions that provide them:
#: numerics and resampling, the NIfTI reader and writer, the DICOM converter, the atlas
#: templates, the learned segmenter's runtime.
RESULT_LIBRARIES = {
    "numpy": ("numpy",), "scipy": ("scipy",), "SimpleITK": ("SimpleITK",), "nibabel": ("nibabel",),
    "dcm2niix": ("dcm2niix",), "nilearn": ("nilearn",), "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
}
LESION_COLUMNS = [
    "id", "volume_ml", "voxels", "centroid_x_mm", "centroid_y_mm", "centroid_z_mm",
    "distance_to_ventricles_mm", "reach_from_ventricles_mm", "length_mm", "lesion_class",
]


def write_outputs(
    result: PipelineResult,
    out_dir: Path | str,
    *,
    overwrite: bool = False,
    extra_json: Mapping[str, Mapping[str, Any]] | None = None,
    inputs: Sequence[Path | str] = (),
    command: str | None = None,
    deidentify: bool = False,
    series: Mapping[str, Any] | None = None,
    dicom: bool = False,
    subject: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write every output of ``result`` into ``out_dir``; return the paths by name.

    ``extra_json`` maps further file names (e.g. ``"assessment.json"``) to JSON content that is
    published together with the rest, all at once or not at all. The folder also gets
    ``b12brain-manifest.json`` (every file's size and SHA-256, and ``command``), which is what
    lets a later ``overwrite`` replace it. The FLAIR's and T1's files count as inputs besides
    ``inputs``: ``out_dir`` may never hold one. Each scan's :attr:`~b12brain.types.Volume.metadata`
    is written as ``flair.json`` / ``t1.json``. ``series`` (the series a run chose in a study,
    :meth:`b12brain.study.ResolvedScans.as_dict`) is recorded in ``summary.json``, and the
    outputs name those scans by the study and series rather than the private folder they were
    read from. ``deidentify`` leaves out what may identify the patient or site: input paths (in
    ``summary.json``, the QC image and its warnings) and the sidecars' institution, station and
    device fields (``docs/dicom.md``); ``command`` is written as given, so the caller withholds
    its paths too. ``dicom`` adds the DICOM objects for the hospital's archive when the FLAIR was
    read from DICOM (:func:`b12brain.pacs.write_dicom_outputs`; ``summary.json`` records under
    ``dicom_outputs`` what was written and why anything was not). ``subject`` is the run's
    :func:`~b12brain.subject.subject_record` (default: made from the scans and ``deidentify``).

    Raises
    ------
    OutputError
        ``out_dir`` is not usable (see :func:`~b12brain.io.outdir.check_output_dir`), too little
        space is free for :func:`estimate_output_bytes`, or writing fails; nothing is written then.
    """
    out_dir = Path(out_dir)
    affine, geometry = result.flair.affine, result.flair.nifti_geometry  # the input's sform/qform, kept
    sources = [v.source for v in (result.flair, result.t1) if v is not None and Path(v.source).exists()]
    with staged_output_dir(out_dir, overwrite=overwrite, inputs=[*sources, *inputs],
                           need_bytes=estimate_output_bytes(result.flair.shape), command=command) as stage:
        save_nifti(result.lesion_mask.astype(np.uint8), affine, stage / "lesion_mask.nii.gz", dtype=np.uint8, geometry=geometry)
        save_nifti(result.lesion_probability, affine, stage / "lesion_prob.nii.gz", dtype=np.float32, geometry=geometry)
        save_nifti(result.lesion_labels, affine, stage / "lesion_labels.nii.gz", dtype=np.uint16, geometry=geometry)
        save_nifti(result.caps_lining_mask.astype(np.uint8), affine, stage / "caps_lining_mask.nii.gz", dtype=np.uint8, geometry=geometry)
        _write_csv(result.lesions, stage / "lesions.csv")
        sidecars = {f"{role}.json": public_metadata(volume.metadata, deidentify=deidentify)
                    for role, volume in (("flair", result.flair), ("t1", result.t1))
                    if volume is not None and volume.metadata}
        for sidecar_name, metadata in sidecars.items():
            _write_json(metadata, stage / sidecar_name)
        chosen = {c["role"]: c for c in (series or {}).get("chosen", ())}
        shown = _shown_paths(result, chosen, deidentify=deidentify)
        flair_name = "FLAIR" if deidentify else shown.get(result.flair.source, Path(result.flair.source).name)
        write_qc_image(
            result.flair,
            result.class_map(),
            result.ventricles,
            stage / "qc_axial.png",
            caps_lining=result.caps_lining_mask,
            title=f"{flair_name}: {result.burden.lesion_count} lesions, "
            f"{result.burden.lesion_ml:.2f} mL; caps/lining {result.burden.caps_lining_ml:.2f} mL "
            f"- b12brain {__version__}, not a diagnosis",
            warnings=[_withhold(w.message, shown) for w in result.warnings],
            self_check=result.self_check,
        )
        for name, content in (extra_json or {}).items():
            _write_json(dict(content), stage / name)
        summary = summarise(result, deidentify=deidentify, series=series, subject=subject)
        _write_json(summary, stage / "summary.json")  # the report reads it
        report = write_report_files(stage, result.flair, LesionImages(result.lesion_labels, result.caps_lining_mask),
                                    stage)
        dicom_record = None
        if dicom:  # after the report: the Encapsulated PDF wraps the run's report.pdf
            from b12brain.pacs import write_dicom_outputs

            dicom_record = write_dicom_outputs(result, stage, deidentify=deidentify)
            _write_json(summary | {"dicom_outputs": dicom_record}, stage / "summary.json")
    names = ["lesion_mask.nii.gz", "lesion_prob.nii.gz", "lesion_labels.nii.gz", "caps_lining_mask.nii.gz",
             "lesions.csv", "qc_axial.png", "summary.json", *sidecars, *report]
    names += [*(extra_json or {}), *(dicom_record or {}).get("written", ()), MANIFEST_NAME]
    return {name: out_dir / name for name in names}


def import_output_libraries() -> None:
    """Import the libraries :func:`write_outputs` draws and prints with, which a run has not
    loaded before (matplotlib with its Agg backend, Jinja2, WeasyPrint: about 1.5 s of CPU), so
    that a caller can do it ahead, on a core that is idle (``b12brain run``:
    :func:`b12brain.cli.warm_up.warming_up`).

    Raises
    ------
    ImportError, OSError
        A library or its system libraries (WeasyPrint's Pango) cannot be loaded;
        :func:`write_outputs` reports that itself where it needs the library.
    """
    import matplotlib

    matplotlib.use("Agg")
    import jinja2  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import weasyprint  # noqa: F401


def estimate_output_bytes(shape: Sequence[int]) -> int:
    """An upper bound of the size of :func:`write_outputs`'s folder for a FLAIR of ``shape``.

    The four images uncompressed (1 + 4 + 2 + 1 bytes a voxel) and the DICOM Segmentation (one
    bit a voxel for each of at most five segments: under 1 byte), plus 16 MiB for the QC image,
    the report, tables and JSON; compressed files are smaller.
    """
    return 9 * math.prod(int(n) for n in shape[:3]) + (16 << 20)


def summarise(
    result: PipelineResult,
    *,
    deidentify: bool = False,
    series: Mapping[str, Any] | None = None,
    subject: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``summary.json`` (schema :data:`SUMMARY_SCHEMA_VERSION`).

    ``subject`` is the run's :func:`~b12brain.subject.subject_record` (default: made from the
    scans and ``deidentify``). ``series``, the series chosen in a study and why, is added as
    ``series`` when given.
    ``deidentify`` replaces the inputs' paths with their role (``"flair input"``), in the
    inputs, the series record and the warnings.
    """
    chosen = {c["role"]: c for c in (series or {}).get("chosen", ())}
    shown = _shown_paths(result, chosen, deidentify=deidentify)
    burden = result.burden.as_dict()
    fazekas = burden.pop("fazekas")
    caps_lining = {"count": burden.pop("caps_lining_count"), "ml": burden.pop("caps_lining_ml"), "rule": CAPS_LINING_RULE}
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "software": {"name": "b12brain", "version": __version__, "libraries": library_versions()},
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "disclaimer": DISCLAIMER,
        "subject": dict(subject) if subject is not None else subject_record(result.flair, deidentify=deidentify),
        "warnings": [{key: _withhold(text, shown) for key, text in w.as_dict().items()} for w in result.warnings],
        "inputs": [
            _describe_input(role, volume, deidentify=deidentify, chosen=chosen.get(role))
            for role, volume in (("flair", result.flair), ("t1", result.t1))
            if volume is not None
        ],
        "t1": result.t1_check.as_dict() if result.t1_check is not None else no_t1_summary(),
        "scan_checks": result.qc_figures,
        "settings": {
            "segmenter": result.segmenter,
            "threshold": result.threshold,
            "min_lesion_ml": result.min_lesion_ml,
            "refine_edges": result.config.refine_edges,
            **result.segmenter_provenance,
        },
        "lesions": burden,
        "caps_lining": caps_lining,
        "fazekas_estimate": {
            "periventricular": fazekas["periventricular"],
            "deep": fazekas["deep"],
            "rule": fazekas["rule"],
        },
        "lesion_class_rule": CLASS_RULE,
        "outputs_grid": {"shape": list(result.flair.shape), "affine": np.round(result.flair.affine, 6).tolist(),
                         "note": "every image output is on the input FLAIR's native grid"},
        "seconds_by_stage": result.seconds_by_stage,
    } | ({"self_check": result.self_check.as_dict()} if result.self_check is not None else {}) | ({"series": _series_record(series, shown)} if series is not None else {})


def library_versions() -> dict[str, str | None]:
    """The installed version of each library of :data:`RESULT_LIBRARIES` (None: not installed).

    Read from the installed distributions' metadata, so nothing is imported.
    """
    versions: dict[str, str | None] = {}
    for library, distributions in RESULT_LIBRARIES.items():
        versions[library] = None
        for distribution in distributions:
            try:
                versions[library] = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return versions


def _shown_paths(result: PipelineResult, chosen: Mapping[str, Mapping[str, Any]], *, deidentify: bool) -> dict[str, str]:
    """How the outputs name each input path, longest path first.

    With ``deidentify`` every input path (as given, and absolute) becomes its role
    (``"flair input"``); otherwise a series chosen in a study is named by the study and the
    series (``"cd.zip (series 6 'Sag CUBE FLAIR')"``) instead of the private folder of links it
    was read from.
    """
    names = {}
    for role, volume in (("flair", result.flair), ("t1", result.t1)):
        if volume is None or not (deidentify or role in chosen):
            continue
        record = chosen.get(role)
        name = f"{role} input" if deidentify or record is None else (
            f"{record['found_in']} (series {record['number']} '{record['description']}')"
        )
        names[volume.source] = names[str(Path(volume.source).absolute())] = name
        if deidentify and record is not None:
            names[record["found_in"]] = names[str(Path(record["found_in"]).absolute())] = name
    return dict(sorted(names.items(), key=lambda item: -len(item[0])))


def _series_record(series: Mapping[str, Any], shown: Mapping[str, str]) -> dict[str, Any]:
    """The ``series`` record with its paths named as the other outputs name them."""
    return {
        "chosen": [dict(c) | {"found_in": _withhold(c["found_in"], shown)} for c in series.get("chosen", ())],
        "notes": [_withhold(note, shown) for note in series.get("notes", ())],
    }


def _withhold(text: str, shown: Mapping[str, str]) -> str:
    for path, role in shown.items():
        text = text.replace(path, role)
    return text


def _describe_input(
    role: str, volume: Volume, *, deidentify: bool = False, chosen: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One ``inputs`` record; a series chosen in a study is given as the study's path and the
    series' UID (the folder it was read from is private to the run)."""
    path = Path(volume.source)
    given = str(path.absolute()) if path.exists() else volume.source
    if chosen is not None:
        given = str(Path(chosen["found_in"]).absolute())
    return {
        "role": role,
        "path": None if deidentify else given,
        "series_uid": chosen["uid"] if chosen is not None else None,
        "sha256": file_sha256(path) if path.exists() else None,
        "shape": list(volume.shape),
        "voxel_mm": [round(s, 4) for s in volume.spacing_mm],
        "orientation": "".join(nib.aff2axcodes(volume.affine)),
        "sidecar": f"{role}.json" if volume.metadata else None,
    }


def _write_csv(lesions: list[Lesion], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LESION_COLUMNS)
        writer.writeheader()
        for lesion in lesions:
            writer.writerow(lesion.as_dict())


def _write_json(content: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(json_safe(content), indent=2) + "\n")

