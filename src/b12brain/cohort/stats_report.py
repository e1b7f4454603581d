"""Writing the cohort statistics: effect table (TSV, JSON), data quality, figures, HTML summary.

The output folder appears complete or not at all (:func:`b12brain.io.outdir.staged_output_dir`):

* ``effects.tsv`` / ``effects.json``: one row per exposure, outcome, adjustment and contrast
  (:data:`~b12brain.cohort.stats_models.EFFECT_COLUMNS`); the JSON also holds the counts, the ladder,
  the notes and the data quality.
* ``missing.tsv``: usable, missing and unusable values per variable.
* ``issues.tsv``: every problem found, one row per participant and variable.
* ``forest.png``, ``dose_response.png`` and ``summary.html`` (self-contained: figures inline).
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from b12brain import __version__
from b12brain.cohort.stats_models import DE_LAU_2009, CohortStats, quality_table
from b12brain.cohort.stats_figures import dose_response_png, forest_png, label_of
from b12brain.cohort.stats_table import EXPOSURES
from b12brain.io.outdir import staged_output_dir

SCHEMA_VERSION = "1.0"
#: Problems per participant shown in the HTML summary (all are in issues.tsv).
ISSUES_SHOWN = 200
FILE_NAMES = ("effects.tsv", "effects.json", "missing.tsv", "issues.tsv", "forest.png", "dose_response.png",
              "summary.html")
_LEFT_OUT = {
    "rows_without_id": "rows without a participant_id left out",
    "rows_not_ok": "rows whose status is not 'ok' (failed or skipped subjects) left out",
    "rows_qc_flagged": "rows with QC flags left out (--exclude-flagged)",
    "rows_duplicate": "rows whose participant and session appear more than once left out (every copy)",
    "rows_later_session": "later sessions not analysed",
}


def write_cohort_stats(stats: CohortStats, out_dir: Path | str, *, overwrite: bool = False,
                       command: str | None = None, inputs: tuple[Path, ...] = ()) -> dict[str, Path]:
    """Write the outputs listed in the module docstring; return their final paths by file name."""
    out_dir = Path(out_dir)
    forest, dose = forest_png(stats.effects), dose_response_png(stats.effects)
    quality = quality_table(stats.data.quality)
    with staged_output_dir(out_dir, overwrite=overwrite, inputs=inputs, command=command) as stage:
        stats.effects.to_csv(stage / "effects.tsv", sep="\t", index=False, na_rep="")
        (stage / "effects.json").write_text(json.dumps(_json(stats, quality), indent=1, allow_nan=False) + "\n",
                                            encoding="utf-8")
        quality.to_csv(stage / "missing.tsv", sep="\t", index=False)
        stats.data.issues.to_csv(stage / "issues.tsv", sep="\t", index=False)
        (stage / "forest.png").write_bytes(forest)
        (stage / "dose_response.png").write_bytes(dose)
        (stage / "summary.html").write_text(_html(stats, quality, forest, dose), encoding="utf-8")
    return {name: out_dir / name for name in FILE_NAMES}


def _json(stats: CohortStats, quality: pd.DataFrame) -> dict[str, Any]:
    def clean(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                for r in records]

    return {
        "schema_version": SCHEMA_VERSION,
        "b12brain_version": __version__,
        "source": stats.data.source,
        "design": f"after {DE_LAU_2009}",
        "counts": stats.data.counts,
        "ladder": [{"label": r.label, "covariates": list(r.covariates)} for r in stats.ladder],
        "notes": list(stats.notes),
        "effects": clean(stats.effects.to_dict(orient="records")),
        "missing": clean(quality.to_dict(orient="records")),
        "issues_count": len(stats.data.issues),
    }


def _html(stats: CohortStats, quality: pd.DataFrame, forest: bytes, dose: bytes) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("b12brain.cohort", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    effects = stats.effects
    shown = ["exposure", "outcome", "adjustment", "n_used", "n_excluded", "estimate", "ci_low", "ci_high", "p_value",
             "scale", "note"]
    per_sd = effects[effects["contrast"] == "per SD"]
    trend = effects[effects["contrast"] == "trend per quintile"]
    excluded = per_sd[["exposure", "outcome", "adjustment", "n_used", "n_excluded", "excluded_missing"]]
    left_out = [(k, f"{_LEFT_OUT[k]}: {stats.data.counts[k]}") for k in _LEFT_OUT if stats.data.counts.get(k)]
    return env.get_template("stats_summary.html.j2").render(
        source=stats.data.source, version=__version__, citation=DE_LAU_2009,
        exposures=", ".join(label_of(e) for e in EXPOSURES),
        ladder=[{"label": r.label, "covariates": ", ".join("sex" if c == "male" else c for c in r.covariates)}
                for r in stats.ladder],
        n_models=len(effects[effects["contrast"].isin(["per SD", "Q2 vs Q1", "trend per quintile"])]),
        counts=stats.data.counts, left_out=left_out, notes=stats.notes,
        quality_html=_table(quality), per_sd_html=_table(per_sd[shown]), trend_html=_table(trend[shown]),
        excluded_html=_table(excluded), n_issues=len(stats.data.issues), issues_shown=ISSUES_SHOWN,
        issues_html=_table(stats.data.issues.head(ISSUES_SHOWN)),
        forest_png=base64.b64encode(forest).decode("ascii"), dose_png=base64.b64encode(dose).decode("ascii"),
    )


def _table(frame: pd.DataFrame) -> Any:
    """An HTML table (escaped), numbers to 3 significant digits, p-values as <0.001."""
    from markupsafe import Markup

    shown = frame.copy()
    for column in shown.columns:
        if column == "p_value":
            shown[column] = [("" if pd.isna(p) else "<0.001" if p < 0.001 else f"{p:.3f}") for p in shown[column]]
        elif shown[column].dtype.kind == "f":
            shown[column] = [("" if pd.isna(v) else f"{v:.3g}") for v in shown[column]]
    return Markup(shown.to_html(index=False, escape=True, border=0, na_rep=""))
