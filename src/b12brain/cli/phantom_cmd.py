"""``b12brain phantom``: write a synthetic subject with ground truth to a folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from b12brain.cli.lifetime import with_exit_stack
from b12brain.errors import ConfigError

_LOADS = ("none", "mild", "moderate", "severe")


def add_parser(subparsers: Any) -> None:
    """Register the ``phantom`` subcommand."""
    parser = subparsers.add_parser(
        "phantom",
        help="write a synthetic FLAIR/T1 subject with ground-truth lesion masks",
        description="Generate a synthetic subject from the MNI152 template: FLAIR, T1, lesion mask, "
        "lesion classes (1 periventricular, 2 deep), ventricle and brain masks, and truth.json. "
        "The folder appears complete or not at all.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (must not exist or be empty)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed, a non-negative integer (default 0); same seed, same images")
    parser.add_argument(
        "--lesion-load",
        default="moderate",
        choices=_LOADS,
        help="lesion volume at 1 mm: none 0, mild ~2.5-7.5 mL, moderate ~12-28 mL, "
        "severe ~120-180 mL of confluent periventricular damage (default moderate)",
    )
    parser.add_argument(
        "--slice-mm",
        type=float,
        default=1.0,
        metavar="S",
        help="1 for a 3D 1 mm scan (default); 1-10 for clinical 2D axial slices of S mm with 0.9 mm pixels",
    )
    parser.add_argument(
        "--followup", action="store_true",
        help="write a follow-up pair instead: baseline/ and followup/ (each a phantom folder; the head moved a "
        "few mm and degrees, lesions new, enlarged, shrunk and resolved) and change_truth.json (what changed)",
    )
    parser.add_argument(
        "--scenario", choices=("by_seed", "response", "progression", "mixed"), default="by_seed",
        help="with --followup: the pair's clinical direction: response (shrinking and resolving lead, as after "
        "treatment), progression (new and enlarging lead), mixed (they balance), by_seed (default: response for "
        "even seeds, progression for odd ones)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace DIR if it holds an unchanged b12brain result (checked against its "
        "b12brain-manifest.json)"
    )
    parser.set_defaults(handler=handle)


@with_exit_stack
def handle(args: argparse.Namespace) -> int:
    """Generate and write the phantom; print one line on what was written."""
    from b12brain.io.outdir import reserve_output_dir
    from b12brain.phantom import (
        PhantomConfig,
        check_config,
        make_phantom,
        write_phantom,
    )

    config = PhantomConfig(seed=args.seed, lesion_load=args.lesion_load, slice_mm=args.slice_mm)
    try:
        check_config(config)
    except ConfigError as err:
        # The library names config fields (slice_mm: ...); the user typed options (--slice-mm).
        field, _, problem = str(err).partition(":")
        raise ConfigError(f"--{field.replace('_', '-')}:{problem}") from err
    # Locked and checked before spending seconds.
    args.exit_stack.enter_context(reserve_output_dir(args.out, overwrite=args.overwrite))
    if args.followup:
        return _write_pair(args, config)
    phantom = make_phantom(config)
    paths = write_phantom(phantom, args.out, overwrite=args.overwrite, command=args.command_line)
    truth = phantom.truth
    print(
        f"wrote {len(paths)} files to {args.out}: {truth['lesion_load']} phantom, seed {truth['seed']}, "
        f"{truth['slice_mm']:g} mm slices, true lesion volume {truth['lesion_ml']:.2f} mL "
        f"({truth['lesion_count']} lesions)"
    )
    return 0


def _write_pair(args: argparse.Namespace, config: Any) -> int:
    """Write a follow-up pair (:func:`b12brain.phantom.followup.make_followup`) all at once or not at all."""
    import json

    from b12brain.io.outdir import staged_output_dir
    from b12brain.phantom import write_phantom
    from b12brain.phantom.followup import FollowupConfig, make_followup

    pair = make_followup(FollowupConfig(baseline=config, scenario=args.scenario))
    need = 2 * 4 * 8 * int(np.prod(pair.baseline.flair.shape[:3])) + (1 << 20)
    with staged_output_dir(args.out, overwrite=args.overwrite, need_bytes=need, command=args.command_line) as stage:
        write_phantom(pair.baseline, stage / "baseline")
        write_phantom(pair.followup, stage / "followup")
        (stage / "change_truth.json").write_text(json.dumps({"truth": pair.truth, "changes": list(pair.changes)},
                                                            indent=2) + "\n")
    counts = {kind: sum(c["change"] == kind for c in pair.changes) for kind in ("new", "enlarged", "shrunk", "resolved")}
    print(f"wrote a follow-up pair to {args.out} (baseline/, followup/, change_truth.json): seed {args.seed}, "
          f"{pair.truth['scenario']}, "
          + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
    return 0
