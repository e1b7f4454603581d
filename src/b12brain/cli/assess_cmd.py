"""``b12brain assess``: join a lab panel, questionnaire answers and an MRI summary.

::

    b12brain assess [--labs PANEL] [--symptoms ANSWERS] [--summary summary.json]
                    [--format text|json] [--out assessment.json]

``b12brain run --labs --symptoms`` does the same with the MRI it has just analysed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from b12brain.cli.lifetime import with_exit_stack
from b12brain.errors import ConfigError

if TYPE_CHECKING:
    from b12brain.labs import LabResult
    from b12brain.symptoms import SymptomResult


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "assess",
        help="join blood markers, symptoms and an MRI summary into one assessment",
        description="Join whichever evidence is given (at least one): a lab panel (as for `b12brain "
        "labs`), questionnaire answers (as `b12brain questionnaire` writes them) and the summary.json "
        "of `b12brain run`. Reports B12 status, neurological involvement, the imaging pattern, and the "
        "urgency (routine / soon / urgent) with its reasons, each citing its source. Decision support, "
        "not a diagnosis.",
    )
    add_evidence_options(parser)
    parser.add_argument("--summary", type=Path, metavar="FILE", help="summary.json written by `b12brain run`")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: %(default)s)")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write assessment.json here (JSON) instead of printing it")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists (never an input file)")
    parser.set_defaults(handler=handle)


def add_evidence_options(parser: argparse.ArgumentParser) -> None:
    """The ``--labs`` and ``--symptoms`` options, shared with ``b12brain run``."""
    parser.add_argument("--labs", type=Path, metavar="PANEL",
                        help="lab panel: JSON, or a one-row CSV (see `b12brain labs --help`)")
    parser.add_argument("--symptoms", type=Path, metavar="ANSWERS",
                        help="questionnaire answers JSON (see `b12brain questionnaire --help`)")


def read_evidence(args: argparse.Namespace) -> tuple[LabResult | None, SymptomResult | None]:
    """Read and interpret ``--labs`` and ``--symptoms`` (None where not given).

    Raises the b12brain error of the first bad file, before any other work is done.
    """
    if args.labs is None and args.symptoms is None:
        return None, None  # the lab and symptom rules are not even imported (about 0.6 s)
    from b12brain.assess.run import read_evidence as read_files

    return read_files(args.labs, args.symptoms)


@with_exit_stack
def handle(args: argparse.Namespace) -> int:
    from b12brain.assess import assess_run, assessment_json, write_assessment
    from b12brain.io.outdir import reserve_output_file

    if args.labs is None and args.symptoms is None and args.summary is None:
        raise ConfigError("give at least one of --labs, --symptoms and --summary")
    inputs = [path for path in (args.labs, args.symptoms, args.summary) if path is not None]
    if args.out is not None:
        args.exit_stack.enter_context(reserve_output_file(args.out, overwrite=args.overwrite, inputs=inputs))
    labs, symptoms = read_evidence(args)
    assessment = assess_run(args.summary, labs=labs, symptoms=symptoms)
    if args.out is not None:
        write_assessment(assessment, args.out, overwrite=args.overwrite)  # inputs checked above
        print(f"wrote {args.out}", file=sys.stderr)
    if args.format == "text":
        sys.stdout.write(assessment.format_text() + "\n")
    elif args.out is None:
        sys.stdout.write(assessment_json(assessment))
    return 0
