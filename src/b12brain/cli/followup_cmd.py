"""``b12brain followup``: compare the run folders of several visits of one patient."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from b12brain.cli.lifetime import with_exit_stack
from b12brain.errors import ConfigError


def add_parser(subparsers: Any) -> None:
    """Register the ``followup`` subcommand."""
    parser = subparsers.add_parser(
        "followup",
        help="compare visits of one patient: lesion change and markers over treatment",
        description="Align every earlier visit's FLAIR to the latest (the reference), match lesions across "
        "visits (merges and splits explicit) and call each lesion group new, enlarging, stable, shrinking or "
        "resolved by b12brain's own stated rules; write a change map, a per-group table, followup.json and "
        "figures. Each RUN is an output folder of `b12brain run`, earliest first. Research and "
        "decision-support software, not a diagnosis.",
    )
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders, earliest visit first (two or more)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (must not exist or be empty)")
    parser.add_argument("--dates", metavar="D1,D2,...", help="visit dates YYYY-MM-DD, one per RUN (default: the "
                        "visit date each run recorded: `run --date` or the scan's StudyDate)")
    parser.add_argument("--treatment-start", metavar="DATE", help="date treatment started (YYYY-MM-DD), marked on the timeline")
    parser.add_argument("--labs-series", type=Path, metavar="CSV", help="dated lab panels: a lab table as `b12brain "
                        "labs` reads it plus a 'date' column; B12, holoTC, MMA and homocysteine go on the timeline")
    parser.add_argument("--image", action="append", default=[], metavar="RUN=PATH", help="where RUN's FLAIR is now, "
                        "if it moved since the run (checked against the run's SHA-256); repeatable")
    parser.add_argument("--allow-different-ids", action="store_true", help="compare runs whose patient identifiers "
                        "(PatientID, PatientName, PatientBirthDate of summary.json's subject) differ, with a warning "
                        "recorded in followup.json, instead of refusing")
    parser.add_argument("--overwrite", action="store_true", help="replace DIR if it holds an unchanged b12brain result")
    parser.add_argument("--quiet", action="store_true", help="do not report progress")
    parser.set_defaults(handler=handle)


@with_exit_stack
def handle(args: argparse.Namespace) -> int:
    """Compare the visits, write the outputs, print a one-line summary and the warnings."""
    from b12brain.followup import compare_visits, read_marker_series, write_followup
    from b12brain.subject import parse_date
    from b12brain.io.outdir import reserve_output_dir

    dates = None
    if args.dates is not None:
        dates = [parse_date(text, "--dates") for text in args.dates.split(",")]
    start = parse_date(args.treatment_start, "--treatment-start") if args.treatment_start else None
    images = {}
    for item in args.image:
        run, sep, path = item.partition("=")
        if not sep or not run or not path:
            raise ConfigError(f"--image: {item!r} is not RUN=PATH")
        images[Path(run)] = Path(path)
    inputs = [*args.runs, *images.values()] + ([args.labs_series] if args.labs_series else [])
    args.exit_stack.enter_context(reserve_output_dir(args.out, overwrite=args.overwrite, inputs=inputs))
    markers = read_marker_series(args.labs_series) if args.labs_series else []
    say = (lambda line: None) if args.quiet else (lambda line: print(f"b12brain followup: {line}", file=sys.stderr))
    result = compare_visits(args.runs, dates=dates, images=images, allow_different_ids=args.allow_different_ids,
                            progress=say)
    write_followup(result, args.out, markers=markers, treatment_start=start, overwrite=args.overwrite,
                   command=args.command_line)
    for warning in result.warnings:
        print(f"b12brain followup: warning: {warning.message}", file=sys.stderr)
    counts = ", ".join(f"{n} {k}" for k, n in result.category_counts().items())
    print(f"wrote {args.out}: {len(result.visits)} visits {result.dates[0]} to {result.dates[-1]}; lesion groups "
          f"since {result.dates[-2]}: {counts}" + ("" if result.comparable else "; volumes NOT directly comparable"))
    return 0
