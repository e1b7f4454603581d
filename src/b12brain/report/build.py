"""The report a clinician reads: ``report.html`` (self-contained) and ``report.pdf`` (A4).

Both come from one Jinja2 template (``templates/report.html.j2``); the PDF is that HTML printed
by WeasyPrint. Every image is a ``data:`` URI and the styles are inline, so the HTML opens with
no network and no script. The report is made from what a run folder holds (``summary.json``,
``lesions.csv``, ``assessment.json``, ``flair.json``) and the FLAIR itself, for the montage.
"""

from __future__ import annotations

import base64
import csv
import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import nibabel as nib
import numpy as np
import numpy.typing as npt

from b12brain import __version__
from b12brain.clinical import DISCLAIMER
from b12brain.errors import InputFileError
from b12brain.io.atomic import atomic_path
from b12brain.io.outdir import staged_output_dir
from b12brain.preprocess.orient import to_canonical
from b12brain.quantify.lesions import LESION_CLASSES
from b12brain.report import figures
from b12brain.types import Volume

if TYPE_CHECKING:
    from b12brain.followup.compare import FollowupResult
    from b12brain.followup.markers import MarkerDraw
    from b12brain.labs.thresholds import Band

_LOG = logging.getLogger("b12brain")
REPORT_FILES = ("report.html", "report.pdf")
#: Section headings, in order; ``Follow-up`` only with earlier visits.
SECTIONS = ("Summary", "MRI", "Labs", "Symptoms", "Assessment and next steps", "Follow-up", "References",
            "Provenance")
#: Sidecar fields shown as the scan's description, exactly as recorded.
_STUDY_FIELDS = ("SeriesInstanceUID", "SeriesDescription", "Manufacturer", "ManufacturersModelName",
                 "MagneticFieldStrength", "SliceThickness")
#: How the headline names the ``subject`` record's fields.
_SUBJECT_LABELS = {"PatientID": "Patient ID", "PatientName": "Patient name", "PatientBirthDate": "Birth date",
                   "AccessionNumber": "Accession number", "StudyInstanceUID": "Study instance UID",
                   "StudyDate": "Study date", "visit_date": "Visit date"}
_LAB_ORDER = ("b12", "holotc", "mma", "homocysteine", "folate", "egfr", "mcv")


@dataclass(frozen=True)
class LesionImages:
    """The label images a report draws: lesion ids (``lesion_labels.nii.gz``) and caps/lining."""

    labels: npt.NDArray[np.integer]
    caps_lining: npt.NDArray[np.bool_] | None


def write_report_files(run_dir: Path, flair: Volume, images: LesionImages, dest: Path, *,
                       followup: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Render the report of the run folder ``run_dir`` into ``dest`` (each file atomically); return the paths.

    Without WeasyPrint or its system library Pango only ``report.html`` is written, with a notice
    on the ``b12brain`` logger (shown on stderr by the command line) saying how to get the PDF.

    ``run_dir`` must already hold ``summary.json`` and ``lesions.csv`` (and ``assessment.json``,
    ``flair.json`` when the run has them); ``followup`` is :func:`followup_context`'s result.
    """
    html = render_html(run_dir, flair, images, followup=followup)
    paths = {name: dest / name for name in REPORT_FILES}
    with atomic_path(paths["report.html"], suffix=".html") as tmp:
        tmp.write_text(html, encoding="utf-8")
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as err:  # WeasyPrint or its system libraries (Pango) missing
        _LOG.warning("report.pdf not written: WeasyPrint cannot be loaded (%s); install it with Pango (pip install "
                     "weasyprint; Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0) and rebuild it with "
                     "`b12brain report`; report.html is complete", err)
        return {"report.html": paths["report.html"]}
    with atomic_path(paths["report.pdf"], suffix=".pdf") as tmp:
        HTML(string=html).write_pdf(tmp)
    return paths


def build_report(run_dir: Path | str, out_dir: Path | str, *, priors: Sequence[Path | str] = (),
                 dates: Sequence[date] | None = None, overwrite: bool = False, allow_different_ids: bool = False,
                 image: Path | str | None = None, command: str | None = None, markers: Sequence[MarkerDraw] = (),
                 treatment_start: date | None = None) -> dict[str, Path]:
    """Rebuild the report of a run folder into the new folder ``out_dir``; ``priors`` add the follow-up view.

    The run folder is only read; its FLAIR is read again from ``summary.json``'s inputs and
    checked against the SHA-256 recorded there (``image``: where it is now, e.g. for a run made with
    ``--deidentify``, which records no path; checked all the same). ``priors`` are earlier runs of the same patient
    (``dates``: one per prior, then one for ``run_dir``, as ``b12brain followup --dates``); runs
    whose patient identifiers differ are refused unless ``allow_different_ids``. ``markers`` (dated
    lab panels, :func:`~b12brain.followup.read_marker_series`) and ``treatment_start`` go on the
    follow-up view's timeline, as with ``b12brain followup``.

    Raises
    ------
    InputFileError
        A file of the run folder is missing or unreadable, or its FLAIR is missing or changed.
    OutputError
        ``out_dir`` is not usable; nothing is written then.
    """
    from b12brain.followup.register import load_checked_flair
    from b12brain.followup.visits import read_visit

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    # read_visit checks the folder (files, schema, lesions.csv); its date is not used here.
    flair = load_checked_flair(read_visit(run_dir, visit_date=date.today(), image=image))
    images = LesionImages(_read_image(run_dir / "lesion_labels.nii.gz", flair).astype(np.int32),
                          _read_image(run_dir / "caps_lining_mask.nii.gz", flair) > 0)
    followup = None
    if priors:
        from b12brain.followup import compare_visits

        followup = followup_context(compare_visits([*priors, run_dir], dates=dates,
                                                   images={run_dir: Path(image)} if image is not None else None,
                                                   allow_different_ids=allow_different_ids),
                                    markers=markers, treatment_start=treatment_start)
    with staged_output_dir(out_dir, overwrite=overwrite, inputs=[run_dir, *priors, *([image] if image else [])], need_bytes=32 << 20,
                           command=command) as stage:
        written = write_report_files(run_dir, flair, images, stage, followup=followup)
    return {name: out_dir / name for name in written}


def followup_context(result: FollowupResult, *, markers: Sequence[MarkerDraw] = (),
                     treatment_start: date | None = None) -> dict[str, Any]:
    """What the report shows of a :class:`~b12brain.followup.compare.FollowupResult`; ``markers``
    and ``treatment_start`` go on its timeline."""
    from b12brain.followup.plots import write_change_slices, write_timeline
    from b12brain.followup.write import describe

    document = describe(result, markers=markers, treatment_start=treatment_start)
    with tempfile.TemporaryDirectory(prefix="b12brain-report-") as tmp:
        timeline = _data_uri(write_timeline(result, Path(tmp) / "timeline.png", markers=markers,
                                            treatment_start=treatment_start).read_bytes())
        slices = _data_uri(write_change_slices(result, Path(tmp) / "slices.png").read_bytes())
    # As measured jointly on the aligned scans, caps/lining too (so first + change = latest).
    joint = result.joint_ml_by_class()
    rows = [{"name": name.replace("_", "/"), "first": joint[0][name], "last": joint[-1][name],
             "change": document["lesion_ml_change_by_class"]["since_first"][name]}
            for name in (*LESION_CLASSES, "caps_lining")]
    return {"document": document, "timeline": timeline, "slices": slices, "rows": rows}


def render_html(run_dir: Path, flair: Volume, images: LesionImages, *,
                followup: Mapping[str, Any] | None = None) -> str:
    """The report as one self-contained HTML page."""
    import jinja2

    context = _context(run_dir, flair, images)
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("b12brain.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.ChainableUndefined,
    )
    environment.filters["fmt"] = _fmt
    return environment.get_template("report.html.j2").render(**context, followup=followup)


def _context(run_dir: Path, flair: Volume, images: LesionImages) -> dict[str, Any]:
    summary = _read_json(run_dir / "summary.json")
    assessment = _read_json(run_dir / "assessment.json") if (run_dir / "assessment.json").is_file() else None
    sidecar = _read_json(run_dir / "flair.json") if (run_dir / "flair.json").is_file() else {}
    lesions = _read_lesions(run_dir / "lesions.csv")
    references: dict[str, int] = {}
    if assessment is not None:
        _number_citations(assessment, references)
    inputs = {record.get("role"): record for record in summary.get("inputs", [])}
    flair_record = inputs.get("flair", {})
    labs = assessment.get("labs") if assessment else None
    symptoms = assessment.get("symptoms") if assessment else None
    return {
        "version": __version__,
        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "disclaimer": summary.get("disclaimer", DISCLAIMER),
        "summary": summary,
        "assessment": assessment,
        "headline": _headline(summary, assessment),
        "subject_grid": _subject_rows(summary) + [
            {"label": key, "value": str(sidecar[key]), "source": "flair.json"}
            for key in _STUDY_FIELDS if sidecar.get(key) not in (None, "")
        ] + ([{"label": "Lab panel ID", "value": str(labs["id"]), "source": "lab panel"}] if labs and labs.get("id") else [])
        + [{"label": "FLAIR input", "value": Path(flair_record["path"]).name if flair_record.get("path") else
            "withheld (--deidentify)", "source": ""}],
        "input_name": Path(flair_record["path"]).name if flair_record.get("path") else None,
        "inputs": list(inputs.values()),
        "classes": LESION_CLASSES,
        "mri": _mri_figures(flair, images, lesions),
        "labs": labs,
        "lab_rows": _lab_rows(labs) if labs else [],
        "lab_bands": _data_uri(figures.bands_png(_band_rows(labs))) if labs and _band_rows(labs) else None,
        "symptoms": symptoms,
        "references": references,
        "t1_given": bool(summary.get("t1", {}).get("given")),
    }


def _headline(summary: Mapping[str, Any], assessment: Mapping[str, Any] | None) -> dict[str, str]:
    burden = summary["lesions"]
    fazekas = summary["fazekas_estimate"]
    mri = (f"{burden['lesion_count']} white-matter lesions, {_fmt(burden['lesion_ml'], '.2f')} mL "
           f"({_fmt(burden['lesion_percent_of_brain'], '.2f')} % of brain volume); Fazekas estimate periventricular "
           f"{fazekas['periventricular']}, deep {fazekas['deep']}.")
    if assessment is None:
        return {"urgency": "not assessed (no labs or symptoms given)", "sentence": mri}
    sentence = str(assessment["summary"]).removeprefix("Summary: ")
    return {"urgency": str(assessment["urgency"]), "sentence": f"{sentence[:1].upper()}{sentence[1:]} MRI: {mri}"}


def _subject_rows(summary: Mapping[str, Any]) -> list[dict[str, str]]:
    """The headline's patient and study cells: each value exactly as the run recorded it, "not given"
    when absent, "withheld (--deidentify)" for a patient field a de-identified run left out."""
    from b12brain.subject import WITHHELD_FIELDS

    subject = summary.get("subject")
    if not isinstance(subject, dict):
        why = f"not recorded (a run of summary schema {summary.get('schema_version')}; rerun `b12brain run`)"
        return [{"label": label, "value": why, "source": ""} for label in _SUBJECT_LABELS.values()]
    sources = subject["sources"] if isinstance(subject.get("sources"), dict) else {}
    rows = []
    for key, label in _SUBJECT_LABELS.items():
        value = subject.get(key)
        if value not in (None, ""):
            rows.append({"label": label, "value": str(value), "source": str(sources.get(key, ""))})
        else:
            withheld = subject.get("deidentified") and key in WITHHELD_FIELDS
            rows.append({"label": label, "value": "withheld (--deidentify)" if withheld else "not given", "source": ""})
    return rows


def _mri_figures(flair: Volume, images: LesionImages, lesions: list[dict[str, str]]) -> dict[str, Any]:
    classes = figures.class_map_from_labels(images.labels, {int(r["id"]): r["lesion_class"] for r in lesions})
    image, _ = to_canonical(flair)
    class_ras = to_canonical(flair.with_data(classes))[0].data.astype(np.uint8)
    caps = None
    if images.caps_lining is not None:
        caps = to_canonical(flair.with_data(images.caps_lining.astype(np.uint8)))[0].data > 0
    data = np.asarray(image.data, dtype=np.float32)
    shown: dict[str, Any] = {"montage": _data_uri(figures.montage_png(data, class_ras, caps, image.spacing_mm)),
                             "largest": None}
    if lesions:
        top = max(lesions, key=lambda r: float(r["volume_ml"]))
        ids = to_canonical(flair.with_data(images.labels.astype(np.int32)))[0].data
        png = figures.three_plane_png(data, class_ras, ids == int(top["id"]), image.spacing_mm)
        shown["largest"] = {"png": _data_uri(png), "id": top["id"], "ml": float(top["volume_ml"]),
                            "lesion_class": top["lesion_class"], "length_mm": top.get("length_mm")}
    return shown


def _lab_rows(labs: Mapping[str, Any]) -> list[dict[str, Any]]:
    markers = labs.get("markers", {})
    return [{"key": key, **markers[key]} for key in (*_LAB_ORDER, *sorted(set(markers) - set(_LAB_ORDER)))
            if key in markers and markers[key].get("value") is not None]


def _band_rows(labs: Mapping[str, Any]) -> list[tuple[str, Sequence[Band], float, str]]:
    """Each measured marker on the bands it is classified by, in the bands' unit; cB12 last."""
    # Imported here: the lab rules bring pandas (about 0.5 s), which a run without labs never needs.
    from b12brain.labs.cb12 import CB12_CATEGORIES
    from b12brain.labs.thresholds import (
        MARKER_TABLES,
        MMA_DEFAULT_UPPER_LIMIT_UMOL_L,
        MMA_HIGHLY_SUGGESTIVE_UMOL_L,
        Band,
    )

    rows: list[tuple[str, Sequence[Band], float, str]] = []
    markers = labs.get("markers", {})
    for key in _LAB_ORDER:
        value = (markers.get(key) or {}).get("value")
        if value is None:
            continue
        if key == "mma":
            upper = labs.get("mma_upper_limit") or MMA_DEFAULT_UPPER_LIMIT_UMOL_L
            bands: Sequence[Band] = (Band("within", None, upper, upper_inclusive=True),
                                     Band("above the limit", upper, MMA_HIGHLY_SUGGESTIVE_UMOL_L, False, True),
                                     Band("highly suggestive", MMA_HIGHLY_SUGGESTIVE_UMOL_L, None, False))
            rows.append(("MMA", bands, float(value), "µmol/L"))
        elif key in MARKER_TABLES:
            table = MARKER_TABLES[key]
            rows.append((table.name, table.bands, float(table.in_unit(value)), table.unit))
    if isinstance(labs.get("cb12"), int | float):
        rows.append(("cB12", CB12_CATEGORIES.bands, float(labs["cb12"]), "cB12 (no unit)"))
    return rows


def _number_citations(node: Any, references: dict[str, int]) -> None:
    """Number every ``citation`` of the assessment's findings in order of appearance; adds ``ref``."""
    if isinstance(node, dict):
        citation = node.get("citation")
        if isinstance(citation, str):
            node["ref"] = references.setdefault(citation, len(references) + 1)
        for value in node.values():
            _number_citations(value, references)
    elif isinstance(node, list):
        for value in node:
            _number_citations(value, references)


def _read_image(path: Path, flair: Volume) -> npt.NDArray[Any]:
    try:
        data = np.asarray(cast(Any, nib.load(path)).dataobj)
    except (OSError, ValueError) as err:
        raise InputFileError(path, f"cannot be read ({err}); rerun `b12brain run`") from err
    if data.shape[:3] != flair.shape[:3]:
        raise InputFileError(path, f"has shape {data.shape}, the FLAIR {flair.shape}; rerun `b12brain run`")
    return data


def _read_json(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputFileError(path, f"is not readable JSON ({err}); rerun `b12brain run`") from err
    if not isinstance(content, dict):
        raise InputFileError(path, "does not hold a JSON object; rerun `b12brain run`")
    return content


def _read_lesions(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _fmt(value: Any, spec: str) -> str:
    """``value`` formatted by ``spec``; "not measured" for a figure the run could not measure (null)."""
    return "not measured" if not isinstance(value, int | float) else format(value, spec)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
