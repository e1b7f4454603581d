"""Figures of the cohort statistics as PNG bytes: a forest plot and dose-response plots.

Black, grey and white markers of different shapes tell the adjustment rungs apart, so the
figures read when printed in grey. Figures are drawn on their own :class:`~matplotlib.figure.Figure`
(no pyplot state), so they can be made from any thread.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from b12brain.cohort.stats_models import LINEAR, unit_of
from b12brain.cohort.stats_table import EXPOSURES, OUTCOMES

#: Marker and face colour of each rung of the ladder (by its number).
_RUNG_STYLES = {"1": ("o", "black"), "2": ("s", "0.55"), "3": ("^", "white")}
_LABELS = {"b12": "B12", "holotc": "holoTC", "mma": "MMA", "homocysteine": "homocysteine", "cb12": "cB12",
           "periventricular_ml": "periventricular volume", "deep_ml": "deep volume",
           "fazekas_periventricular": "Fazekas periventricular", "fazekas_deep": "Fazekas deep"}


def label_of(variable: str) -> str:
    """How figures and the summary name a variable."""
    return _LABELS.get(variable, variable)


def forest_png(effects: pd.DataFrame) -> bytes:
    """Per-SD estimates with 95 % intervals: one panel per outcome, one row per marker and rung."""
    per_sd = effects[(effects["contrast"] == "per SD") & effects["estimate"].notna()]
    if per_sd.empty:
        return _empty_png("Forest plot: no model could be fitted (the note of each row in effects.tsv says why)")
    outcomes = [o for o in OUTCOMES if o in set(per_sd["outcome"])]
    exposures = [e for e in EXPOSURES if e in set(per_sd["exposure"])]
    rungs = sorted(set(per_sd["adjustment"]))
    fig = Figure(figsize=(4.2 * max(len(outcomes), 1), 2.2 + 0.32 * max(len(exposures) * len(rungs), 1)), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, max(len(outcomes), 1), sharey=True, squeeze=False)[0]
    positions = {(e, r): -(i * (len(rungs) + 1) + j) for i, e in enumerate(exposures) for j, r in enumerate(rungs)}
    for ax, outcome in zip(axes, outcomes, strict=False):
        rows = per_sd[per_sd["outcome"] == outcome]
        linear = rows["model"].iat[0] == LINEAR
        for rung in rungs:
            marker, face = _RUNG_STYLES.get(rung[:1], ("D", "white"))
            part = rows[rows["adjustment"] == rung]
            y = [positions[(e, rung)] for e in part["exposure"]]
            est = part["estimate"].to_numpy()
            err = np.vstack((est - part["ci_low"].to_numpy(), part["ci_high"].to_numpy() - est))
            ax.errorbar(est, y, xerr=err, fmt=marker, color="black", mfc=face, mec="black", ms=5, lw=1, capsize=2,
                        label=rung)
        ax.axvline(0.0 if linear else 1.0, color="0.4", lw=0.8, ls="--")
        if not linear:
            ax.set_xscale("log")
            _plain_ticks(ax.xaxis)
        ax.set_title(label_of(outcome), fontsize=9)
        ax.set_xlabel("difference in log(1 + mL) per SD" if linear else "odds ratio per SD (log scale)", fontsize=8)
        ax.tick_params(which="both", labelsize=7)
    centres = [np.mean([positions[(e, r)] for r in rungs]) for e in exposures]
    axes[0].set_yticks(centres, [label_of(e) for e in exposures])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(rungs), fontsize=7, frameon=False)
    fig.suptitle("Per SD higher marker value, 95 % CI (research use, not a diagnosis)", fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    return _png(fig)


def dose_response_png(effects: pd.DataFrame) -> bytes:
    """Estimates by quintile against Q1 at each quintile's median marker value, p for trend in the title."""
    quint = effects[effects["contrast"].str.startswith("Q") & effects["estimate"].notna()
                    & effects["exposure_median"].notna()]
    if quint.empty:
        return _empty_png("Dose-response: no quintile model could be fitted (the note of each row in effects.tsv says why)")
    exposures = [e for e in EXPOSURES if e in set(quint["exposure"])]
    outcomes = [o for o in OUTCOMES if o in set(quint["outcome"])]
    fig = Figure(figsize=(3.0 * max(len(outcomes), 1), 2.4 * max(len(exposures), 1)), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(max(len(exposures), 1), max(len(outcomes), 1), squeeze=False)
    trend = effects[effects["contrast"] == "trend per quintile"]
    for i, exposure in enumerate(exposures):
        for j, outcome in enumerate(outcomes):
            ax = axes[i][j]
            rows = quint[(quint["exposure"] == exposure) & (quint["outcome"] == outcome)]
            linear = bool(len(rows)) and rows["model"].iat[0] == LINEAR
            rungs = sorted(set(rows["adjustment"]))
            spread = np.ptp(rows["exposure_median"]) if len(rows) else 0.0
            p_texts = []
            for k, rung in enumerate(rungs):
                marker, face = _RUNG_STYLES.get(rung[:1], ("D", "white"))
                part = rows[rows["adjustment"] == rung]
                x = part["exposure_median"].to_numpy() + (k - (len(rungs) - 1) / 2) * 0.012 * spread
                est = part["estimate"].to_numpy()
                lo = np.where(part["ci_low"].notna(), part["ci_low"], est)
                hi = np.where(part["ci_high"].notna(), part["ci_high"], est)
                ax.errorbar(x, est, yerr=np.vstack((est - lo, hi - est)), fmt=marker + "-", color="black", mfc=face,
                            mec="black", ms=4, lw=0.8, capsize=2, label=rung)
                p = trend[(trend["exposure"] == exposure) & (trend["outcome"] == outcome)
                          & (trend["adjustment"] == rung)]["p_value"]
                if len(p) and np.isfinite(p.iat[0]):
                    p_texts.append(f"{rung[:1]}: {_p_text(float(p.iat[0]))}")
            if not linear:
                ax.set_yscale("log")
                _plain_ticks(ax.yaxis)
            ax.axhline(0.0 if linear else 1.0, color="0.4", lw=0.8, ls="--")
            ax.set_title(f"{label_of(outcome)}\np trend {', '.join(p_texts)}", fontsize=7)
            ax.set_xlabel(f"{label_of(exposure)} {unit_of(exposure)} (quintile median)".replace("  ", " "), fontsize=7)
            ax.set_ylabel("vs Q1: " + ("log(1 + mL)" if linear else "odds ratio"), fontsize=7)
            ax.tick_params(which="both", labelsize=6)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=max(len(labels), 1), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _png(fig)


def _empty_png(text: str) -> bytes:
    """A small figure that says why there is nothing to plot."""
    fig = Figure(figsize=(6.0, 1.2), dpi=100)
    FigureCanvasAgg(fig)
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, wrap=True)
    return _png(fig)


def _plain_ticks(axis: Any) -> None:
    """Tick labels of a log axis as plain numbers (0.6, 1, 2), not powers of ten."""
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axis.set_major_formatter(plain)
    axis.set_minor_formatter(plain)


def _p_text(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()
