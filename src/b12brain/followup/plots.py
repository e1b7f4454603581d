"""Figures of a follow-up: the timeline and the side-by-side slices of changed lesions.

Colours are the Okabe-Ito palette of the QC image (colour-blind safe); every series also has
its own marker and line style, so that the figures read in grey too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from pathlib import Path

import numpy as np

from b12brain.followup.compare import FollowupResult
from b12brain.followup.markers import TIMELINE_MARKERS, MarkerDraw
from b12brain.io.atomic import atomic_path
from b12brain.quantify.lesions import LESION_CLASSES
from b12brain.report.qc import CLASS_COLOURS

_STYLES = {"periventricular": ("o", "-"), "deep": ("s", "--"), "juxtacortical": ("^", "-."),
           "infratentorial": ("D", ":"), "caps_lining": ("v", (0, (1, 3)))}
_MARKER_STYLES = {"b12": ("o", "#000000"), "holotc": ("s", "#0072B2"), "mma": ("^", "#D55E00"),
                  "homocysteine": ("D", "#999999")}
#: Category colours of the slice view (Okabe-Ito).
CATEGORY_COLOURS = {"new": "#D55E00", "enlarging": "#E69F00", "shrinking": "#56B4E9", "resolved": "#009E73",
                    "stable": "#F0E442"}


def write_timeline(result: FollowupResult, path: Path, *, markers: Sequence[MarkerDraw] = (),
                   treatment_start: date | None = None) -> Path:
    """Lesion volume per class at each visit, the blood markers, treatment start; one time axis."""
    plt = _pyplot()
    dates = [v.date for v in result.visits]
    # As measured on the aligned scans: their differences are the reported change.
    by_class = result.joint_ml_by_class()
    rows = 2 if markers else 1
    fig, axes = plt.subplots(rows, 1, figsize=(8, 3.2 * rows + 0.6), sharex=True, squeeze=False)
    ax = axes[0, 0]
    for name in (*LESION_CLASSES, "caps_lining"):
        values = [ml[name] for ml in by_class]
        if not any(values):
            continue
        marker, style = _STYLES[name]
        ax.plot(dates, values, marker=marker, linestyle=style, color=CLASS_COLOURS.get(name, "#000000"),
                label=name.replace("_", "/") + (" (not lesion)" if name == "caps_lining" else ""))
    ax.set_ylabel("lesion volume (mL)")
    ax.legend(fontsize=8, loc="best")
    if markers:
        mx = axes[1, 0]
        for key, label in TIMELINE_MARKERS.items():
            points = [(d.date, d.values[key]) for d in markers if key in d.values]
            if points:
                marker, colour = _MARKER_STYLES[key]
                mx.plot(*zip(*points), marker=marker, color=colour, label=label)
        mx.set_yscale("log")
        mx.set_ylabel("marker (log scale)")
        mx.legend(fontsize=8, loc="best")
        mx.set_title("On injections serum B12 rises with treatment and does not show response (NICE NG239)",
                     fontsize=8)
    for a in axes[:, 0]:
        if treatment_start is not None:
            a.axvline(treatment_start, color="#000000", linestyle=":", linewidth=1.5)
            a.annotate("treatment start", (treatment_start, 1.0), xycoords=("data", "axes fraction"),
                       fontsize=8, ha="left", va="top")
        a.grid(True, color="#DDDDDD")
    note = "" if result.comparable else "  (volumes not directly comparable: see followup.json warnings)"
    fig.suptitle(f"Lesion volume over time{note}\nb12brain: decision support, not a diagnosis", fontsize=9)
    fig.autofmt_xdate()
    fig.tight_layout()
    return _save(fig, path)


def write_change_slices(result: FollowupResult, path: Path, *, max_groups: int = 8) -> Path:
    """For up to ``max_groups`` changed lesion groups (largest change first): the axial slice
    through the group at the previous visit (aligned) and at the reference, outlined."""
    plt = _pyplot()
    changed = [g for g in result.groups if g.category in ("new", "enlarging", "shrinking", "resolved")]
    changed.sort(key=lambda g: -abs(g.volume_ml[-1] - g.volume_ml[-2]))
    changed = changed[:max_groups]
    before, after = result.aligned_flairs[-2], result.aligned_flairs[-1]
    rows = max(len(changed), 1)
    fig, axes = plt.subplots(rows, 2, figsize=(6.4, 3.0 * rows + 0.5), squeeze=False, facecolor="black")
    sx, sy = (float(s) for s in result.reference.spacing_mm[:2])
    # Each visit has its own window: scanners' gains differ between visits.
    windows = [np.percentile(image, [1, 99.5]) for image in (before, after)]
    for row, group in enumerate(changed):
        where = np.argwhere(result.group_map == group.id)
        k = int(np.median(where[:, 2]))
        for col, (image, labels, (lo, hi)) in enumerate(zip((before, after), result.aligned_labels[-2:], windows)):
            ax = axes[row, col]
            ax.imshow(image[::-1, :, k].T, cmap="gray", vmin=lo, vmax=hi, origin="lower", aspect=sy / sx)
            ids = group.lesion_ids[len(result.visits) - 2 + col]
            # The lesions of this visit where they are; a lesion absent at a visit shows where it is at the other.
            outline = np.isin(labels[:, :, k], ids) if ids else result.group_map[:, :, k] == group.id
            ax.contour(outline[::-1, :].T.astype(float), levels=[0.5], colors=CATEGORY_COLOURS[group.category],
                       linewidths=1.0, linestyles="solid" if ids else "dotted")
            ax.set_title(f"group {group.id} {group.category}: {result.dates[col - 2]}, "
                         f"{group.volume_ml[col - 2]:.3f} mL", color="white", fontsize=7)
            ax.axis("off")
    if not changed:
        for ax in axes[0]:
            ax.axis("off")
        axes[0, 0].text(0.5, 0.5, "no changed lesion", color="white", ha="center", transform=axes[0, 0].transAxes)
    fig.suptitle("Changed lesions: previous visit (aligned) | reference; patient's right on the left;\n"
                 "dotted: where the lesion is at the other visit. b12brain: decision support, not a diagnosis",
                 color="white", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))
    return _save(fig, path, facecolor="black")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path, facecolor: str = "white") -> Path:
    plt = _pyplot()
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=90, facecolor=facecolor)
    finally:
        plt.close(fig)
    return path
