"""``b12brain run``: the main job on one scan."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

from b12brain.cli.assess_cmd import add_evidence_options, read_evidence
from b12brain.cli.lifetime import with_exit_stack
from b12brain.io.outdir import reserve_output_dir
from b12brain.io.outpath import check_free_space
from b12brain.segment import SEGMENTERS, get_segmenter


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "run",
        help="find, measure and localise white-matter lesions in one scan",
        description="Find, measure and localise white-matter lesions on a FLAIR (optional T1). "
        "Writes lesion_mask.nii.gz, lesion_prob.nii.gz, lesion_labels.nii.gz, caps_lining_mask.nii.gz "
        "(on the FLAIR's native grid), lesions.csv, summary.json, qc_axial.png, report.html and report.pdf into "
        "--out; for a DICOM FLAIR also the DICOM Segmentation lesion_seg.dcm and the report as report_pdf.dcm "
        "(docs/pacs.md); with --labs and/or --symptoms also "
        "assessment.json, which joins them with the MRI findings. Research and "
        "decision-support software, not a diagnosis.",
    )
    scans = parser.add_mutually_exclusive_group(required=True)
    scans.add_argument("--flair", metavar="PATH",
                       help="FLAIR scan: NIfTI (.nii, .nii.gz), a DICOM series folder, or a study folder, DICOMDIR or "
                       ".zip/.tar/.tar.gz/.tgz in which the FLAIR series is chosen (see `b12brain series PATH`)")
    scans.add_argument("--study", metavar="PATH",
                       help="a study: DICOM folder (searched recursively), DICOMDIR of a CD, or .zip/.tar/.tar.gz/.tgz; "
                       "the FLAIR and the T1 are chosen in it (rules: docs/series-selection.md; list them with "
                       "`b12brain series PATH`)")
    parser.add_argument("--t1", metavar="PATH", help="optional T1 of the same session (any grid; as --flair, the T1 series "
                        "is chosen in a study); only checked against the FLAIR (field of view, head overlap): neither "
                        "segmenter reads a T1 yet")
    parser.add_argument("--flair-series", metavar="N|UID",
                        help="the FLAIR series to take in --study or --flair: its series number or SeriesInstanceUID")
    parser.add_argument("--t1-series", metavar="N|UID",
                        help="the T1 series to take in --study or --t1: its series number or SeriesInstanceUID")
    parser.add_argument("--no-t1", action="store_true", help="with --study: take no T1 even if the study has one")
    parser.add_argument("--study-uid", metavar="UID",
                        help="when the path holds several studies: the StudyInstanceUID of the one to take")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder; must not exist or be empty (see --overwrite); locked while "
                        "the run works, so a second run on it fails at once")
    parser.add_argument("--segmenter", choices=sorted(SEGMENTERS),
                        help="lesion segmenter (default: learned, the packaged model; classical: the "
                        "FLAIR-hyperintensity baseline)")
    parser.add_argument("--model", metavar="PATH",
                        help="ONNX weights for the learned segmenter (NAME.onnx, with NAME.onnx.sha256 beside it "
                        "and optionally NAME.json giving the threshold); implies --segmenter learned")
    parser.add_argument("--threshold", type=float, metavar="P",
                        help="lesion probability cut-off in (0, 1); default: the segmenter's own (0.5)")
    parser.add_argument("--min-lesion-ml", type=float, metavar="ML",
                        help="drop lesions smaller than this many mL; default: the segmenter's own "
                        "(learned 0.01, classical 0.03)")
    parser.add_argument("--no-edge-refinement", dest="refine_edges", action="store_false",
                        help="keep the segmenter's own lesions and edges (probability >= threshold); by default "
                        "each lesion's edge is put at the FLAIR half-maximum between it and the tissue around it, "
                        "and a lesion whose surroundings are brighter than brain tissue is dropped")
    parser.add_argument("--self-check", action=argparse.BooleanOptionalAction, default=False,
                        help="insert synthetic lesions of known size and contrast, most of them small and faint, into "
                             "this scan's normal-appearing white matter, segment again and rate how well they are seen "
                             "here (summary.json 'self_check', QC image, report; adds about 2-3 s to a clinical run). "
                             "Default: off, as it is not validated: its rate did not follow the true lesion recall on "
                             "expert-labelled scans (docs/accuracy.md)")
    add_evidence_options(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an output folder that holds an unchanged b12brain result (checked "
                        "against its b12brain-manifest.json) and none of this run's inputs")
    parser.add_argument("--patient-id", metavar="ID",
                        help="the patient's identifier to record (a pseudonym or hospital number; up to 64 "
                        "characters), for a NIfTI scan or as the pseudonym of a --deidentify run; one that differs "
                        "from a DICOM FLAIR's PatientID is refused without --deidentify. `followup` and `report "
                        "--prior` refuse runs whose identifiers differ (docs/dicom.md)")
    parser.add_argument("--date", metavar="YYYY-MM-DD",
                        help="the visit date (default: the scan's StudyDate); one that differs from the scan's "
                        "StudyDate is refused. `followup` and `report --prior` order the visits by it")
    parser.add_argument("--deidentify", action="store_true",
                        help="keep what may identify the patient out of every output: the patient's name, ID, birth "
                        "date and accession number (a --patient-id pseudonym is kept), input paths (summary.json, "
                        "QC image, manifest command line), the scans' institution, station and device fields, and "
                        "so the DICOM objects for the archive (docs/pacs.md); study UID and dates are kept "
                        "(docs/dicom.md)")
    parser.add_argument("--quiet", action="store_true", help="do not report progress")
    parser.set_defaults(handler=handle)


@with_exit_stack
def handle(args: argparse.Namespace) -> int:
    # Imported here, not at the top, so that `b12brain --help` does not load the imaging stack.
    from b12brain.cli.warm_up import warming_up
    from b12brain.outputs import estimate_output_bytes, write_outputs
    from b12brain.pipeline import PipelineConfig, read_scans, run_pipeline
    from b12brain.study import resolve_scans
    from b12brain.subject import check_patient_id, parse_visit_date, subject_record

    config = PipelineConfig(
        segmenter=args.segmenter or "learned",
        threshold=args.threshold,
        min_lesion_ml=args.min_lesion_ml,
        model=args.model,
        refine_edges=args.refine_edges,
        self_check=args.self_check,
    )
    # Every check a user can fail runs before the first progress line and before any work, and
    # each runs once: --out is locked first (a second run on it fails at once), then the
    # segmenter (its weights checked) and the scans (read, the T1 checked against the FLAIR) are
    # handed to the pipeline as they are.
    inputs = [path for path in (args.flair, args.study, args.t1, args.labs, args.symptoms) if path is not None]
    args.exit_stack.enter_context(reserve_output_dir(args.out, overwrite=args.overwrite, inputs=inputs))
    segmenter = get_segmenter(config.segmenter, model=config.model)
    labs, symptoms = read_evidence(args)
    patient_id = check_patient_id(args.patient_id) if args.patient_id is not None else None
    visit_date = parse_visit_date(args.date) if args.date is not None else None
    start = time.perf_counter()
    resolved = args.exit_stack.enter_context(resolve_scans(
        flair=args.flair, study=args.study, t1=args.t1, flair_series=args.flair_series, t1_series=args.t1_series,
        no_t1=args.no_t1, study_uid=args.study_uid,
    ))
    scans = read_scans(resolved.flair, resolved.t1)
    subject = subject_record(scans.flair, patient_id=patient_id, visit_date=visit_date, deidentify=args.deidentify)
    for choice in resolved.choices:
        print(f"b12brain run: took {choice.series.label} of {choice.source} as the {choice.role.upper()}: {choice.why}",
              file=sys.stderr)
    for note in resolved.notes:
        print(f"b12brain run: note: {note}", file=sys.stderr)
    check_free_space(args.out, estimate_output_bytes(scans.flair.shape))

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - start:6.1f} s] {line}", file=sys.stderr, flush=True)

    progress(f"read {resolved.name('flair')}" + (f" and {resolved.name('t1')}" if resolved.t1 else ""))
    with warming_up():  # the atlas, then the output libraries, on the core the pipeline leaves idle
        result = run_pipeline(scans, config=config, progress=progress, segmenter=segmenter)
    extra = {}
    if labs is not None or symptoms is not None:
        from b12brain.assess import assess_run

        assessment = assess_run(result.burden, labs=labs, symptoms=symptoms, source=str(Path(args.out) / "summary.json"))
        extra["assessment.json"] = assessment.as_dict()
    command = _withhold_paths(args.command_line, inputs, args.out) if args.deidentify else args.command_line
    paths = write_outputs(result, args.out, overwrite=args.overwrite, extra_json=extra, inputs=inputs,
                          command=command, deidentify=args.deidentify,
                          series=resolved.as_dict() if resolved.choices else None, dicom=True, subject=subject)
    _say_dicom_outputs(paths["summary.json"], progress)
    for warning in result.warnings:
        print(f"b12brain run: QC warning: {resolved.relabel(str(warning))}", file=sys.stderr)  # the user's own paths
    b = result.burden
    print(
        f"{b.lesion_count} lesions, {b.lesion_ml:.2f} mL ({b.lesion_percent_of_brain:.2f}% of brain); "
        + ", ".join(f"{k} {v:.2f} mL" for k, v in b.ml_by_class.items())
        + f"; caps/lining {b.caps_lining_ml:.2f} mL (not counted as lesions)"
        + f"; Fazekas estimate PV {b.fazekas.periventricular}, deep {b.fazekas.deep}"
    )
    if result.self_check is not None:
        print(result.self_check.describe())
    if extra:
        print(f"assessment: urgency {assessment.urgency}; B12 status {assessment.b12_status}; "
              f"neurological involvement {assessment.neurological_involvement}; "
              f"imaging {assessment.imaging.pattern if assessment.imaging else 'not assessed'}")
    print(f"results in {paths['summary.json'].parent} (not a diagnosis: review the QC image)")
    return 0


def _say_dicom_outputs(summary_path: Path, progress: Callable[[str], None]) -> None:
    """Say on stderr which DICOM objects the run did not write, and why (summary.json has it too):
    for a NIfTI FLAIR as a progress line, otherwise always (the user expected them)."""
    import json

    from b12brain.pacs import NOT_DICOM_REASON

    reasons: dict[str, list[str]] = {}
    for name, why in json.loads(summary_path.read_text()).get("dicom_outputs", {}).get("not_written", {}).items():
        reasons.setdefault(why, []).append(name)
    for why, names in reasons.items():
        line = f"{', '.join(names)} {why}"
        if why == NOT_DICOM_REASON:
            progress(line)
        else:
            print(f"b12brain run: {line}", file=sys.stderr)


def _withhold_paths(command: str | None, inputs: list[str], out: str) -> str | None:
    """The command line with each input path replaced by ``<input>`` and the output folder by
    ``<out>`` (paths may hold a patient's name)."""
    if command is None:
        return None
    shown = {**{path: "<input>" for path in inputs}, out: "<out>"}
    words = []
    for word in shlex.split(command):
        option, equals, value = word.partition("=")
        words.append(f"{option}={shown[value]}" if equals and value in shown else shown.get(word, word))
    return shlex.join(words)
