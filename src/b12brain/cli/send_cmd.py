"""``b12brain send``: store a run's DICOM objects in a PACS (DICOMweb STOW-RS or DIMSE C-STORE)."""

from __future__ import annotations

import argparse
import sys

from b12brain.errors import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "send",
        help="store a run's DICOM objects (lesion_seg.dcm, report_pdf.dcm) in a PACS",
        description="Store the DICOM objects `b12brain run` wrote for a DICOM FLAIR (the lesion Segmentation and "
        "the report as Encapsulated PDF, in the source study) in a PACS, by DICOMweb STOW-RS or DIMSE C-STORE. "
        "Exit 2 naming the server and the cause when a store fails; no patient identifier is printed "
        "(docs/pacs.md). Research and decision-support software, not a diagnosis.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the --out folder of `b12brain run`")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--dicomweb", metavar="URL", help="DICOMweb root of the PACS (STOW-RS), e.g. "
                        "http://pacs:8042/dicom-web")
    target.add_argument("--store", nargs=3, metavar=("HOST", "PORT", "AET"),
                        help="DIMSE C-STORE to HOST PORT, called application entity AET")
    parser.add_argument("--calling-aet", default="B12BRAIN", metavar="AET",
                        help="this side's AE title for --store (default B12BRAIN; the PACS must know it)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from b12brain.pacs import run_dicom_files, send_cstore, send_dicomweb

    files = run_dicom_files(args.run_dir)
    if args.dicomweb is not None:
        sent = send_dicomweb(files, args.dicomweb)
    else:
        host, port, aet = args.store
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"--store: PORT is {port!r}; give a TCP port number from 1 to 65535")
        sent = send_cstore(files, host, int(port), aet, calling_aet=args.calling_aet)
    print(f"stored {', '.join(sent.files)} at {sent.server}", file=sys.stdout)
    return 0
