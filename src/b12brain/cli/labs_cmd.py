"""``b12brain labs``: interpret a blood panel (JSON or a one-row CSV) or a cohort table (CSV).

::

    b12brain labs panel.json [--format text|json] [--out FILE]
    b12brain labs cohort.csv --out results.csv

A CSV with more than one data row is a cohort: every good row is interpreted, each bad row is
reported on stderr (file, row, field, value, what is expected) and left out. The exit code is
0 when at least one row was interpreted, 2 when none was.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from b12brain.labs import Cohort

from b12brain.cli.lifetime import with_exit_stack


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "labs",
        help="B12 status from blood markers (NICE NG239, BSH 2014, cB12)",
        description="Interpret a vitamin B12 blood panel: each marker on the NICE NG239 and BSH 2014 "
        "thresholds, the 4-marker combined indicator cB12 (Fedosov 2015) when B12, holoTC, MMA, "
        "homocysteine and age are all given, confounders, next tests and urgency, each with its "
        "source. PANEL is a JSON object or a CSV with one row per panel (a CSV of several rows is "
        "interpreted as a cohort table). Decision support, not a diagnosis.",
    )
    parser.add_argument("panel", type=Path, metavar="PANEL",
                        help="panel file: .json, or .csv/.tsv (one or more rows; comma, semicolon or tab separated, "
                        "UTF-8 or Windows-1252, decimal commas, lab header spellings such as 'Vitamin B12 (ng/L)')")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="report format for one panel (default: %(default)s); a cohort is always CSV")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="write the report (or the cohort table) to FILE instead of stdout; must not exist")
    parser.add_argument("--require-cb12", action="store_true",
                        help="fail (exit 2) when cB12 cannot be computed: B12, holoTC, MMA, homocysteine or age missing")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists (never the panel file itself)")
    parser.set_defaults(handler=handle)


@with_exit_stack
def handle(args: argparse.Namespace) -> int:
    from b12brain.io.outdir import reserve_output_file
    from b12brain.labs import interpret_panel, read_cohort, read_panel

    if args.out is not None:
        args.exit_stack.enter_context(reserve_output_file(args.out, overwrite=args.overwrite, inputs=[args.panel]))
    if args.panel.suffix.lower() in (".csv", ".tsv"):
        cohort = read_cohort(args.panel)
        if cohort.n_rows > 1:
            return _cohort(args, cohort)
        panel = cohort.only_panel()
    else:
        cohort, panel = None, read_panel(args.panel)
    result = interpret_panel(panel, require_cb12=args.require_cb12)
    _say_how_read(cohort)
    text = json.dumps(result.as_dict(), indent=2, ensure_ascii=False) + "\n" if args.format == "json" else result.format_text() + "\n"
    _emit(text, args)
    return 0


def _cohort(args: argparse.Namespace, cohort: Cohort) -> int:
    from b12brain.errors import LabValueError
    from b12brain.labs import interpret_cohort

    result = interpret_cohort(cohort, require_cb12=args.require_cb12)
    _say_how_read(cohort)
    rejected = [str(error) for error in result.errors]
    table = result.table
    for line in rejected:
        print(f"b12brain labs: rejected: {line}", file=sys.stderr)
    if len(table) == 0:
        raise LabValueError(str(args.panel), "rows", "no row could be interpreted (see the lines above)",
                            "at least one valid panel row")
    _emit(table.to_csv(index=False), args)
    print(f"b12brain labs: interpreted {len(table)} panels; {len(rejected)} problems reported", file=sys.stderr)
    return 0


def _say_how_read(cohort: Cohort | None) -> None:
    """The encoding, delimiter, decimal mark and renamed columns of a table that is not plain CSV."""
    note = None if cohort is None else cohort.describe_reading()
    if note:
        print(f"b12brain labs: {note}", file=sys.stderr)


def _emit(text: str, args: argparse.Namespace) -> None:
    from b12brain.io.outdir import write_text_file

    if args.out is None:
        sys.stdout.write(text)
    else:
        write_text_file(text, args.out, overwrite=args.overwrite, inputs=[args.panel])
        print(f"wrote {args.out}", file=sys.stderr)
