"""``b12brain`` command: subcommands, and the mapping of errors to exit codes.

Exit codes: 0 success; 2 any error the user can fix (usage, input file, output folder,
option value, and any operating-system error on a named path); 1 an unexpected failure
(traceback only with ``--debug``); 128 + the signal's number when stopped by SIGINT (130),
SIGHUP (129) or SIGTERM (143), after the same clean-up: no partial output is left.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from b12brain import __version__
from b12brain.cli import (
    assess_cmd,
    bids_cmd,
    cohort_cmd,
    evaluate_cmd,
    followup_cmd,
    labs_cmd,
    phantom_cmd,
    questionnaire_cmd,
    report_cmd,
    run_cmd,
    send_cmd,
    series_cmd,
)
from b12brain.errors import B12BrainError

EXIT_OK, EXIT_UNEXPECTED, EXIT_USER = 0, 1, 2

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so that every clean-up on the way out runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_COMMANDS = (run_cmd, report_cmd, series_cmd, followup_cmd, send_cmd, labs_cmd, questionnaire_cmd, assess_cmd,
             phantom_cmd, evaluate_cmd, bids_cmd, cohort_cmd)


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
    args.command_line = shlex.join(["b12brain", *(sys.argv[1:] if argv is None else argv)])
    try:
        with _signals_interrupt(), _notices_on_stderr(args.command):
            return int(args.handler(args))
    except B12BrainError as err:
        print(f"b12brain {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USER
    except OSError as err:  # a file-system failure the command did not name: still the user's to fix
        if args.debug:
            traceback.print_exc()
        path = err.filename if err.filename is not None else "(no path given)"
        print(f"b12brain {args.command}: error: {path}: {err.strerror or err}; check the path, its "
              "permissions and free space", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt as err:
        signum = err.signum if isinstance(err, Interrupted) else signal.SIGINT
        print(f"b12brain {args.command}: interrupted ({signal.Signals(signum).name}); no partial output was left",
              file=sys.stderr)
        return 128 + signum
    except Exception as err:  # noqa: BLE001 - the last line of defence of a CLI
        if args.debug:
            traceback.print_exc()
        print(
            f"b12brain {args.command}: unexpected error: {type(err).__name__}: {err} "
            "(rerun with --debug for a traceback; please report it)",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Interrupted` while a command runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    # getsignal gives None for a handler set outside Python, which cannot be put back: leave those.
    previous = {signum: signal.getsignal(signum) for signum in _STOP_SIGNALS}
    previous = {signum: handler for signum, handler in previous.items() if handler is not None}
    for signum in previous:
        signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def _notices_on_stderr(command: str) -> Iterator[None]:
    """Show the library's notices (logger ``b12brain``, e.g. leftovers removed) on stderr."""
    logger = logging.getLogger("b12brain")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"b12brain {command}: %(message)s"))
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
