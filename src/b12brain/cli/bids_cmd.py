"""``b12brain bids``: a BIDS App (or a CSV manifest) run on Dask; see docs/cohort.md.

::

    b12brain bids BIDS_DIR OUTPUT_DIR participant [--participant-label 01 02] [--workers 4]
    b12brain bids BIDS_DIR OUTPUT_DIR group

The participant level runs every scan (resumable: verified results are not run again); the group
level writes ``OUTPUT_DIR/group/``: the group table (TSV, Parquet), its summary and the QC
gallery. Bad input of one subject is recorded in the table and on stderr, and the run goes on;
a folder that is not a BIDS dataset at all exits 2.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from b12brain.cli.lifetime import with_exit_stack
from b12brain.segment import SEGMENTERS

if TYPE_CHECKING:
    from b12brain.cohort.bids_index import CohortIndex
    from b12brain.cohort.bids_participants import Participants
    from b12brain.cohort.engine import ClusterOptions


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "bids",
        help="run a BIDS dataset (or a CSV manifest) on Dask: participant and group level",
        description="BIDS App: find, measure and localise white-matter lesions in every subject's FLAIR "
        "(sub-*/[ses-*/]anat/*_FLAIR.nii.gz, optional *_T1w.nii.gz) on a Dask cluster, into a BIDS derivative "
        "dataset; the group level joins them with participants.tsv (age, sex, labs) into one table. "
        "Research software, not a diagnosis.",
    )
    parser.add_argument("bids_dir", type=Path, metavar="BIDS_DIR",
                        help="root of a BIDS dataset, or a CSV manifest (subject,session,flair,t1,<lab columns>)")
    parser.add_argument("output_dir", type=Path, metavar="OUTPUT_DIR", help="the derivative dataset (made if missing)")
    parser.add_argument("level", choices=("participant", "group"), help="participant: run the scans; group: the table")
    parser.add_argument("--participant-label", nargs="+", default=[], metavar="LABEL",
                        help="only these subjects (with or without 'sub-')")
    parser.add_argument("--session-label", nargs="+", default=[], metavar="LABEL",
                        help="only these sessions (with or without 'ses-')")
    parser.add_argument("--segmenter", choices=sorted(SEGMENTERS), default="learned",
                        help="lesion segmenter (default learned)")
    parser.add_argument("--model", metavar="PATH", help="ONNX weights for the learned segmenter")
    parser.add_argument("--self-check", action="store_true",
                        help="run each scan's self-check (`b12brain run --self-check`; not yet validated) and put its "
                        "rating in the group table; scans already done are not run again for it")
    cluster = parser.add_argument_group("Dask (participant level)")
    cluster.add_argument("--workers", type=int, default=1, metavar="N",
                         help="local worker processes (default 1); with --jobqueue: batch jobs")
    cluster.add_argument("--threads-per-worker", type=int, default=1, metavar="T",
                         help="threads per worker (default 1); with --jobqueue: cores per job")
    cluster.add_argument("--scheduler", metavar="ADDRESS", help="use a running Dask scheduler (tcp://host:8786)")
    cluster.add_argument("--jobqueue", choices=("slurm", "pbs"), help="submit the workers as SLURM or PBS jobs")
    cluster.add_argument("--job-memory", metavar="MEM", help="memory per batch job, e.g. 16GB (needed with --jobqueue)")
    cluster.add_argument("--job-walltime", metavar="HH:MM:SS", help="wall time per batch job")
    cluster.add_argument("--job-queue", metavar="NAME", help="partition (SLURM) or queue (PBS)")
    cluster.add_argument("--job-account", metavar="NAME", help="account to charge")
    cluster.add_argument("--print-job-script", action="store_true",
                         help="print the batch script a worker job would be submitted with, and stop")
    cluster.add_argument("--retries", type=int, default=2, metavar="N",
                         help="reruns of a scan that failed unexpectedly (default 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or per-scan lines")
    parser.set_defaults(handler=handle)


@with_exit_stack
def handle(args: argparse.Namespace) -> int:
    from b12brain.cohort.engine import ClusterOptions, jobqueue_cluster

    options = ClusterOptions(workers=args.workers, threads_per_worker=args.threads_per_worker,
                             scheduler=args.scheduler, jobqueue=args.jobqueue, memory=args.job_memory,
                             walltime=args.job_walltime, queue=args.job_queue, account=args.job_account,
                             retries=args.retries)
    if args.print_job_script:
        if options.jobqueue is None:
            print("b12brain bids: error: --print-job-script needs --jobqueue slurm|pbs", file=sys.stderr)
            return 2
        with jobqueue_cluster(options) as cluster:
            print(cluster.job_script())
        return 0
    index, participants = _read_cohort(args)
    stream = None if args.quiet else sys.stderr
    for note in (*index.notes, *participants.notes):
        print(f"b12brain bids: note: {note}", file=sys.stderr)
    if args.level == "participant":
        return _participant_level(args, index, options, stream)
    return _group_level(args, index, participants)


def _read_cohort(args: argparse.Namespace) -> tuple[CohortIndex, Participants]:
    from b12brain.cohort.bids_index import index_bids, read_manifest
    from b12brain.cohort.bids_participants import read_participants, read_participants_tsv

    if args.bids_dir.is_file():
        index = read_manifest(args.bids_dir)
        wanted = {label.removeprefix("sub-") for label in args.participant_label}
        sessions = {label.removeprefix("ses-") for label in args.session_label}
        jobs = tuple(j for j in index.jobs if (not wanted or j.participant_id[4:] in wanted)
                     and (not sessions or j.session_id in sessions))
        assert index.participants is not None  # read_manifest always gives the lab columns
        return replace(index, jobs=jobs), read_participants(index.participants, source=args.bids_dir.name)
    index = index_bids(args.bids_dir, participant_labels=args.participant_label, session_labels=args.session_label)
    return index, read_participants_tsv(args.bids_dir)


def _participant_level(args: argparse.Namespace, index: CohortIndex, options: ClusterOptions,
                       stream: TextIO | None) -> int:
    from b12brain.cohort.bids_derivative import dataset_description, prepare_derivative
    from b12brain.cohort.engine import run_scans
    from b12brain.pipeline import PipelineConfig
    from b12brain.segment import get_segmenter

    config = PipelineConfig(segmenter=args.segmenter, model=args.model, self_check=args.self_check)
    segmenter = get_segmenter(config.segmenter, model=config.model)  # weights checked before any work
    prepare_derivative(args.output_dir, dataset_description(
        index.source, is_bids=index.is_bids, segmenter=segmenter.name,
        model_sha256=segmenter.provenance.get("model_sha256")))
    skipped = [job for job in index.jobs if not job.runnable]
    for job in skipped:
        print(f"b12brain bids: skipped {job.key}: {job.problem}", file=sys.stderr)
    sources = {job.key: [_source_name(index, path) for path in (job.flair, job.t1) if path is not None]
               for job in index.jobs if job.runnable}
    outcomes = run_scans(index.jobs, args.output_dir, config, options, sources=sources,
                         command=args.command_line, stream=stream)
    counts = {status: sum(o.status == status for o in outcomes) for status in ("ok", "failed", "done before")}
    print(f"participant level: {counts['ok']} ok, {counts['failed']} failed, {counts['done before']} done before "
          f"(not run again), {len(skipped)} skipped (no usable FLAIR); results in {args.output_dir}")
    return 0


def _group_level(args: argparse.Namespace, index: CohortIndex, participants: Participants) -> int:
    from b12brain.cohort.group import build_group_table, write_group_outputs
    from b12brain.errors import OutputError

    if not (args.output_dir / "dataset_description.json").is_file():
        raise OutputError(args.output_dir, "is not a b12brain derivative dataset (no dataset_description.json); "
                          "run the participant level into it first")
    table = build_group_table(index, participants, args.output_dir,
                              all_participants=not args.participant_label and not args.session_label)
    result = write_group_outputs(table, args.output_dir, notes=(*index.notes, *participants.notes),
                                 command=args.command_line)
    c = result.counts
    print(f"group level: {len(table)} rows ({c['ok']} ok, {c['failed']} failed, {c['skipped']} skipped); "
          f"table, summary and QC gallery in {result.folder}")
    return 0


def _source_name(index: CohortIndex, path: Path) -> str:
    """A BIDS URI (``bids:raw:sub-01/anat/...``) for a file of the dataset, else the path."""
    if index.is_bids:
        return f"bids:raw:{path.relative_to(index.source).as_posix()}"
    return str(path)
