"""``b12brain report``: rebuild the report of a run folder, optionally with earlier visits."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from b12brain.cli.lifetime import with_exit_stack


def add_parser(subparsers: Any) -> None:
    """Register the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="rebuild report.html and report.pdf of a run (with --prior: the follow-up view)",
        description="Rebuild the clinician's report (report.html, self-contained, and report.pdf, A4) of the "
        "output folder RUN of `b12brain run` into a new folder --out; RUN is only read, and its FLAIR is "
        "read again and checked against the SHA-256 in its summary.json. With --prior, earlier runs of the "
        "same patient add the follow-up view (as `b12brain followup`). Research and decision-support "
        "software, not a diagnosis.",
    )
    parser.add_argument("run", type=Path, metavar="RUN", help="output folder of `b12brain run` (the latest visit)")
    parser.add_argument("--prior", action="append", type=Path, default=[], metavar="RUN",
                        help="an earlier run of the same patient; repeatable, earliest first")
    parser.add_argument("--dates", metavar="D1,D2,...", help="with --prior: visit dates YYYY-MM-DD, one per prior "
                        "run then one for RUN (default: the visit date each run recorded: `run --date` or the scan's StudyDate)")
    parser.add_argument("--flair", type=Path, metavar="PATH", help="where RUN's FLAIR is now, if it moved since the "
                        "run or the run was made with --deidentify (checked against the run's SHA-256)")
    parser.add_argument("--allow-different-ids", action="store_true", help="with --prior: compare runs whose "
                        "patient identifiers differ (recorded as a warning) instead of refusing")
    parser.add_argument("--treatment-start", metavar="DATE", help="with --prior: date treatment started "
                        "(YYYY-MM-DD), marked on the follow-up timeline")
    parser.add_argument("--labs-series", type=Path, metavar="CSV", help="with --prior: dated lab panels (a lab table "
                        "as `b12brain labs` reads it plus a 'date' column); B12, holoTC, MMA and homocysteine go on "
                        "the follow-up timeline")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder, must not exist or be empty (default: RUN-report beside RUN)")
    parser.add_argument("--overwrite", action="store_true", help="replace DIR if it holds an unchanged b12brain result")
    parser.set_defaults(handler=handle)


@with_exit_stack
def handle(args: argparse.Namespace) -> int:
    """Rebuild the report; print where it is."""
    from b12brain.subject import parse_date
    from b12brain.io.outdir import reserve_output_dir
    from b12brain.errors import ConfigError
    from b12brain.followup import read_marker_series
    from b12brain.report.build import build_report

    out = args.out if args.out is not None else args.run.parent / f"{args.run.name}-report"
    for option, value in (("--dates", args.dates), ("--treatment-start", args.treatment_start),
                          ("--labs-series", args.labs_series), ("--allow-different-ids", args.allow_different_ids)):
        if value and not args.prior:
            raise ConfigError(f"{option}: only used with --prior (the follow-up view); give the earlier runs with --prior")
    dates = [parse_date(text, "--dates") for text in args.dates.split(",")] if args.dates else None
    start = parse_date(args.treatment_start, "--treatment-start") if args.treatment_start else None
    inputs = [args.run, *args.prior, *([args.flair] if args.flair else [])] + ([args.labs_series] if args.labs_series else [])
    args.exit_stack.enter_context(reserve_output_dir(out, overwrite=args.overwrite, inputs=inputs))
    markers = read_marker_series(args.labs_series) if args.labs_series else []
    paths = build_report(args.run, out, priors=args.prior, dates=dates, overwrite=args.overwrite,
                         allow_different_ids=args.allow_different_ids, image=args.flair,
                         command=args.command_line, markers=markers, treatment_start=start)
    print(f"wrote {' and '.join(str(p) for p in paths.values())} (decision support, not a diagnosis)")
    return 0
