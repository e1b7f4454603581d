"""``b12brain cohort``: statistics of a cohort table, and simulated cohorts.

::

    b12brain cohort stats TABLE --out DIR [--covariates C ...] [--exclude-flagged]
    b12brain cohort simulate --n N [--effect OUTCOME=VALUE ...] [--seed S] [--missing F] --out DIR [--images]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from b12brain.cli.lifetime import with_exit_stack
from b12brain.errors import ConfigError

#: Most subjects ``--images`` draws a phantom for (a few seconds each).
MAX_IMAGE_SUBJECTS = 500


def add_parser(sub: Any) -> None:
    """Register the ``cohort`` command group."""
    parser = sub.add_parser(
        "cohort",
        help="cohort statistics (B12 markers vs lesion burden) and simulated cohorts",
        description="Associations of B12 status with white-matter lesion burden in a cohort table (design after "
        "de Lau et al. 2009), and simulated cohorts with known effects. Research software, not a diagnosis.",
    )
    group = parser.add_subparsers(dest="cohort_command", required=True, metavar="SUBCOMMAND")
    stats = group.add_parser(
        "stats", help="effect table, forest and dose-response plots, HTML summary of a cohort table",
        description="Relate B12, holoTC, MMA, homocysteine and cB12 (per SD and by quintile, with a test for "
        "trend) to periventricular and deep lesion burden: linear models on log(1 + mL) and proportional-odds "
        "models on Fazekas grades, adjusted for age and sex, then vascular risk factors, then homocysteine and "
        "folate. Writes effects.tsv/json, missing.tsv, issues.tsv, forest.png, dose_response.png and summary.html. "
        "See docs/cohort-statistics.md.")
    stats.add_argument("table", type=Path, metavar="TABLE", help="cohort table: .csv, .tsv or .parquet, one row per "
                       "subject or subject-session (the group table of `b12brain bids` or any table with its columns)")
    stats.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (must not exist or be empty)")
    stats.add_argument("--covariates", nargs="+", default=[], metavar="COLUMN",
                       help="further columns to adjust every model for: numeric, or text with at most 20 values (site, scanner: one 0/1 term per value against the most frequent)")
    stats.add_argument("--exclude-flagged", action="store_true", help="leave out rows with a non-empty qc_flags cell")
    stats.add_argument("--overwrite", action="store_true", help="replace DIR if it holds an unchanged b12brain result")
    stats.set_defaults(handler=handle_stats)
    sim = group.add_parser(
        "simulate", help="write a simulated cohort table with known effects (and, with --images, a BIDS dataset)",
        description="Draw a cohort with known effects of B12 on lesion burden (the generative model is in "
        "docs/cohort-statistics.md) and write cohort.tsv and simulation.json; with --images also bids/, a small "
        "BIDS dataset of phantom FLAIRs whose lesion load follows the simulated volumes.")
    sim.add_argument("--n", type=int, required=True, metavar="N", help="number of subjects")
    sim.add_argument("--effect", action="append", default=[], metavar="OUTCOME=VALUE",
                     help="effect per SD of B12 on periventricular_ml or deep_ml (difference in log(1 + mL)) or on "
                     "fazekas_periventricular or fazekas_deep (log odds ratio); repeat for several; defaults "
                     "periventricular_ml=-0.15 fazekas_periventricular=-0.35 and 0 on deep burden")
    sim.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0); same seed, same cohort")
    sim.add_argument("--missing", type=float, default=0.0, metavar="F",
                     help="share of B12, holoTC, MMA, homocysteine and folate values removed at random (default 0)")
    sim.add_argument("--images", action="store_true", help="also write bids/: one phantom FLAIR per subject "
                     "(a few seconds each; keep N small)")
    sim.add_argument("--slice-mm", type=float, default=5.0, metavar="S",
                     help="slice thickness of the phantom FLAIRs, 1-10 mm (default 5)")
    sim.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (must not exist or be empty)")
    sim.add_argument("--overwrite", action="store_true", help="replace DIR if it holds an unchanged b12brain result")
    sim.set_defaults(handler=handle_simulate)


@with_exit_stack
def handle_stats(args: argparse.Namespace) -> int:
    """Compute and write the statistics; print one line per output and the headline counts."""
    from b12brain.cohort.stats import run_cohort_stats
    from b12brain.io.outdir import reserve_output_dir

    args.exit_stack.enter_context(reserve_output_dir(args.out, overwrite=args.overwrite, inputs=[args.table]))
    stats = run_cohort_stats(args.table, args.out, covariates=tuple(args.covariates),
                             exclude_flagged=args.exclude_flagged, overwrite=args.overwrite, command=args.command_line)
    counts = stats.data.counts
    fitted = stats.effects["estimate"].notna() & (stats.effects["contrast"] != "Q1 (reference)")
    print(f"wrote cohort statistics to {args.out}: {counts['participants']} participants analysed of {counts['rows']} "
          f"rows, {int(fitted.sum())} estimates, {len(stats.data.issues)} problems listed in issues.tsv "
          "(research use, not a diagnosis)")
    for note in stats.notes:
        print(f"note: {note}")
    return 0


@with_exit_stack
def handle_simulate(args: argparse.Namespace) -> int:
    """Simulate and write the cohort (and its BIDS dataset)."""
    from b12brain.cohort.simulate import SimulationConfig, check_simulation, simulate_cohort
    from b12brain.io.outdir import reserve_output_dir, staged_output_dir
    from b12brain.phantom.generate import SLICE_MM_RANGE

    config = SimulationConfig(n=args.n, seed=args.seed, effects=_effects(args.effect), missing=args.missing)
    try:
        check_simulation(config)
    except ConfigError as err:  # the library names fields (n: ...); the user typed options (--n)
        raise ConfigError(f"--{err}") from err
    if args.images and not SLICE_MM_RANGE[0] <= args.slice_mm <= SLICE_MM_RANGE[1]:
        raise ConfigError(f"--slice-mm: {args.slice_mm:g} is outside 1-10 mm")
    if args.images and args.n > MAX_IMAGE_SUBJECTS:
        raise ConfigError(f"--n: {args.n} phantoms would take hours (a few seconds each); with --images give at most "
                          f"{MAX_IMAGE_SUBJECTS} subjects")
    args.exit_stack.enter_context(reserve_output_dir(args.out, overwrite=args.overwrite))
    cohort = simulate_cohort(config)
    with staged_output_dir(args.out, overwrite=args.overwrite, command=args.command_line) as stage:
        cohort.table.to_csv(stage / "cohort.tsv", sep="\t", index=False)
        (stage / "simulation.json").write_text(json.dumps(cohort.truth, indent=2) + "\n")
        if args.images:
            from b12brain.cohort.simulate_images import write_bids_dataset

            phantoms = write_bids_dataset(cohort.table, stage / "bids", seed=args.seed, slice_mm=args.slice_mm)
            phantoms.to_csv(stage / "phantoms.tsv", sep="\t", index=False)
    extra = f" and bids/ ({args.n} phantom FLAIRs, {args.slice_mm:g} mm slices)" if args.images else ""
    effects = ", ".join(f"{k}={v:g}" for k, v in cohort.truth["effects_per_sd_b12"].items())
    print(f"wrote a simulated cohort of {args.n} subjects to {args.out}: cohort.tsv, simulation.json{extra}; "
          f"effects per SD of B12: {effects}")
    return 0


def _effects(items: list[str]) -> dict[str, float]:
    effects: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            effects[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--effect: {item!r} is not OUTCOME=NUMBER (e.g. periventricular_ml=-0.2)") from None
    return effects
