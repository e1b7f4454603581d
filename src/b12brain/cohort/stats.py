"""Cohort statistics: B12 status against white-matter lesion burden (design after de Lau et al. 2009).

The entry points: :func:`run_cohort_stats` (a table, DataFrame or file, to an output folder; what
``b12brain cohort stats`` and the group level of ``b12brain bids`` call) and :func:`analyse_table`
(a file to a :class:`CohortStats` in memory). The parts: :mod:`~b12brain.cohort.stats_table`
(reading and checking the table), :mod:`~b12brain.cohort.stats_models` (the models, their
description), :mod:`~b12brain.cohort.stats_report` (the files written). Research and
decision-support software, not a diagnosis.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from b12brain.cohort.stats_models import EFFECT_COLUMNS, CohortStats, cohort_statistics
from b12brain.cohort.stats_report import write_cohort_stats
from b12brain.cohort.stats_table import CohortData, prepare_cohort, read_cohort_table

__all__ = ["EFFECT_COLUMNS", "CohortData", "CohortStats", "analyse_table", "cohort_statistics", "prepare_cohort",
           "read_cohort_table", "run_cohort_stats", "write_cohort_stats"]


def analyse_table(path: Path | str, *, covariates: tuple[str, ...] = (), exclude_flagged: bool = False) -> CohortStats:
    """Read a cohort table file and compute its statistics (:func:`cohort_statistics`).

    Raises
    ------
    InputFileError
        The table cannot be read or has none of the columns the statistics need.
    ConfigError
        A covariate is not a further column of the table.
    """
    path = Path(path)
    data = prepare_cohort(read_cohort_table(path), source=path.name, covariates=covariates,
                          exclude_flagged=exclude_flagged)
    return cohort_statistics(data)


def run_cohort_stats(table: pd.DataFrame | Path | str, out_dir: Path | str, *, covariates: tuple[str, ...] = (),
                     exclude_flagged: bool = False, overwrite: bool = False, command: str | None = None,
                     source: str = "table") -> CohortStats:
    """Compute the statistics of a cohort table (a DataFrame or a file) and write them to ``out_dir``.

    The call the group level of ``b12brain bids`` makes with its group table.

    Raises
    ------
    InputFileError
        The table cannot be read or has none of the columns the statistics need.
    ConfigError
        A covariate is not a further column of the table.
    OutputError
        ``out_dir`` cannot be written (see :func:`~b12brain.io.outdir.staged_output_dir`).
    """
    if isinstance(table, pd.DataFrame):
        data = prepare_cohort(table, source=source, covariates=covariates, exclude_flagged=exclude_flagged)
        stats = cohort_statistics(data)
    else:
        stats = analyse_table(table, covariates=covariates, exclude_flagged=exclude_flagged)
    inputs = () if isinstance(table, pd.DataFrame) else (Path(table),)
    write_cohort_stats(stats, out_dir, overwrite=overwrite, command=command, inputs=inputs)
    return stats
