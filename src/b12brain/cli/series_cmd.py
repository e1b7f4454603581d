"""``b12brain series``: every series of a study, CD or archive, and the ones ``run`` would take.

::

    b12brain series PATH [--study-uid UID] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "series",
        help="list the series of a study, CD (DICOMDIR) or zip, marking the FLAIR and T1 `run --study` takes",
        description="List every DICOM series under PATH (a DICOM file, a series or study folder searched "
        "recursively, a DICOMDIR, or a .zip/.tar/.tar.gz/.tgz of these): number, description, the contrast it "
        "looks like from its metadata and why, 2D/3D, voxel size, slices and date. The column 'run' marks the "
        "series `b12brain run --study PATH` would take as the FLAIR and the T1 (rules: docs/series-selection.md). "
        "No patient name or ID is shown.",
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="DICOM file, folder, DICOMDIR, or zip/tar archive")
    parser.add_argument("--study-uid", metavar="UID", help="when PATH holds several studies: the one to mark choices in")
    parser.add_argument("--json", action="store_true", help="print the listing as JSON (for programs)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from b12brain.study import open_study, series_table
    from b12brain.study.table import format_series_table

    with open_study(args.path) as index:
        table = series_table(index, study_uid=args.study_uid)
    print(json.dumps(table, indent=2) if args.json else format_series_table(table))
    return 0
