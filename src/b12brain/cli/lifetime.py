"""What a command holds until it ends: :func:`with_exit_stack` gives a handler ``args.exit_stack``."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from contextlib import ExitStack


def with_exit_stack(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run ``handler`` with ``args.exit_stack``, closed when it returns or raises.

    A command enters there what it holds until its end (the lock on its ``--out``), without
    indenting its whole body. ``args.command_line`` (set by :func:`b12brain.cli.main.main`,
    recorded in result manifests) defaults to None for callers that build ``args`` themselves.
    """

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        vars(args).setdefault("command_line", None)
        with ExitStack() as args.exit_stack:
            return handler(args)

    return run
