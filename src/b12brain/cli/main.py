"""``b12brain`` command: subcommands, and the mapping of errors to exit codes.

Exit codes: 0 success; 2 any error the user can fix (usage, input file, output folder,
option value); 1 an unexpected failure (traceback only with ``--debug``).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from b12brain import __version__
from b12brain.cli import (
    assess_cmd,
    evaluate_cmd,
    labs_cmd,
    phantom_cmd,
    questionnaire_cmd,
    run_cmd,
)
from b12brain.errors import B12BrainError

EXIT_OK, EXIT_UNEXPECTED, EXIT_USER = 0, 1, 2

_COMMANDS = (run_cmd, labs_cmd, questionnaire_cmd, assess_cmd, phantom_cmd, evaluate_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="b12brain",
        description="White-matter lesion analysis for the B12 question. "
        "Research and decision-support software, not a diagnosis.",
    )
    parser.add_argument("--version", action="version", version=f"b12brain {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (never raises for user errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        return int(args.handler(args))
    except B12BrainError as err:
        print(f"b12brain {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print(f"b12brain {args.command}: interrupted; no output was written", file=sys.stderr)
        return EXIT_UNEXPECTED
    except Exception as err:  # noqa: BLE001 - the last line of defence of a CLI
        if args.debug:
            traceback.print_exc()
        print(
            f"b12brain {args.command}: unexpected error: {type(err).__name__}: {err} "
            "(rerun with --debug for a traceback; please report it)",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
