"""Figures of the report, as PNG bytes: FLAIR montage, largest lesion in three planes, lab bands.

Colours are the Okabe-Ito palette of the QC image (colour-blind safe); every lesion class also
has its own line style and every lab band its own hatch, so that the figures read in grey too.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from b12brain.quantify.lesions import LESION_CLASSES
from b12brain.report.qc import CAPS_LINING_COLOUR, CLASS_COLOURS, PNG_COMPRESS_LEVEL, pick_slices

if TYPE_CHECKING:
    from b12brain.labs.thresholds import Band

#: Outline style of each lesion class (and of caps/lining), so that classes differ in grey.
CLASS_LINESTYLES: dict[str, Any] = {
    "periventricular": "solid",
    "deep": "dashed",
    "juxtacortical": "dashdot",
    "infratentorial": "dotted",
    "caps_lining": (0, (1, 1)),
}
_BAND_FILLS = ("#F5F5F5", "#D9D9D9", "#BDBDBD", "#A0A0A0")
_BAND_HATCHES = ("", "//", "..", "xx")


def montage_png(flair: npt.NDArray[np.floating], classes: npt.NDArray[np.uint8],
                caps_lining: npt.NDArray[np.bool_] | None, spacing_mm: Sequence[float], *, slices: int = 12) -> bytes:
    """Axial slices (RAS array, radiological view: patient's right on the left) with lesion outlines.

    ``classes`` holds 0 (none) or 1 + index into ``LESION_CLASSES`` on the same grid.
    """
    plt = _pyplot()
    # Slices with at least half the largest head cross-section: the brain, not the neck or the vertex.
    # Every other row and column is enough to choose slices, and four times faster on a 1 mm scan.
    sparse, sparse_classes = flair[::2, ::2], classes[::2, ::2]
    area = (sparse > np.percentile(sparse, 60)).sum(axis=(0, 1))
    wide = np.nonzero(area >= 0.5 * area.max())[0] if area.max() > 0 else np.arange(flair.shape[2])
    first, stop = int(wide[0]), int(wide[-1]) + 1
    picked = [first + k for k in pick_slices(sparse[:, :, first:stop], sparse_classes[:, :, first:stop], slices)]
    picked = sorted(set(picked) | set(_lesion_slices(classes, outside=range(first, stop))))
    cols = min(4, len(picked))
    rows = int(np.ceil(len(picked) / cols))
    lo, hi = _window(flair)
    aspect = spacing_mm[1] / spacing_mm[0]
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.9 * rows + 0.4), squeeze=False, facecolor="black")
    for ax in axes.ravel():
        ax.axis("off")
    for ax, k in zip(axes.ravel(), picked, strict=False):
        ax.imshow(flair[::-1, :, k].T, cmap="gray", vmin=lo, vmax=hi, origin="lower", aspect=aspect)
        _outline(ax, classes[::-1, :, k].T, None if caps_lining is None else caps_lining[::-1, :, k].T)
        ax.text(0.5, 0.99, f"slice {k}", color="white", transform=ax.transAxes, fontsize=6, ha="center", va="top")
        ax.text(0.02, 0.5, "R", color="white", transform=ax.transAxes, fontsize=6)
    _legend(fig, with_caps=caps_lining is not None and bool(caps_lining.any()))
    # Fixed margins, not tight_layout: the layout search costs a second of the report's three.
    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.3 / fig.get_figheight(), wspace=0.02, hspace=0.02)
    return _png(fig, facecolor="black")


def three_plane_png(flair: npt.NDArray[np.floating], classes: npt.NDArray[np.uint8], lesion: npt.NDArray[np.bool_],
                    spacing_mm: Sequence[float]) -> bytes:
    """Axial, coronal and sagittal slices through the centre of ``lesion`` (RAS arrays)."""
    plt = _pyplot()
    i, j, k = (int(round(c)) for c in np.argwhere(lesion).mean(axis=0))
    sx, sy, sz = spacing_mm
    lo, hi = _window(flair)
    views = (
        ("axial", flair[::-1, :, k].T, classes[::-1, :, k].T, sy / sx),
        ("coronal", flair[::-1, j, :].T, classes[::-1, j, :].T, sz / sx),
        ("sagittal", flair[i, :, :].T, classes[i, :, :].T, sz / sy),
    )
    fig, axes = plt.subplots(1, 3, figsize=(7.2, 2.7), facecolor="black")
    for ax, (name, image, labels, aspect) in zip(axes, views, strict=True):
        ax.axis("off")
        ax.imshow(image, cmap="gray", vmin=lo, vmax=hi, origin="lower", aspect=aspect)
        _outline(ax, labels, None)
        ax.text(0.5, 0.99, name, color="white", transform=ax.transAxes, fontsize=8, ha="center", va="top")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01, wspace=0.02)
    return _png(fig, facecolor="black")


def bands_png(rows: Sequence[tuple[str, Sequence[Band], float, str]]) -> bytes:
    """One horizontal band plot per marker: ``(name, bands, value, unit)``, value in the bands' unit.

    Each band is a shaded, hatched segment labelled with its category; the value is a black
    diamond with its number. Unbounded ends extend to twice the last limit (or to the value).
    """
    plt = _pyplot()
    fig, axes = plt.subplots(len(rows), 1, figsize=(7.2, 0.75 * len(rows) + 0.2), squeeze=False)
    for ax, (name, bands, value, unit) in zip(axes[:, 0], rows, strict=True):
        limits = [b for band in bands for b in (band.lower, band.upper) if b is not None]
        low = min([0.0, *limits, value]) if min([*limits, value]) >= 0 else min([*limits, value]) * 1.2
        high = max([*limits, value]) * 1.25 if max([*limits, value]) > 0 else 1.0
        for n, band in enumerate(bands):
            start = low if band.lower is None else band.lower
            end = high if band.upper is None else band.upper
            ax.axvspan(start, end, facecolor=_BAND_FILLS[n % 4], hatch=_BAND_HATCHES[n % 4], edgecolor="#777777",
                       linewidth=0.5)
            ax.text((start + end) / 2, 0.75, textwrap.fill(band.label, 28), ha="center", va="center", fontsize=5.5)
        ax.plot([value], [0.3], marker="D", color="black", markersize=6)
        ax.annotate(f"{value:.3g}", (value, 0.3), xytext=(6, 0), textcoords="offset points", ha="left", va="center",
                    fontsize=7, fontweight="bold", bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
        ax.set_xlim(low, high)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=7)
        ax.set_xlabel(unit, fontsize=6, labelpad=1)
        ax.tick_params(axis="x", labelsize=6)
    fig.subplots_adjust(left=0.15, right=0.98, top=0.99, bottom=0.3 / fig.get_figheight(), hspace=1.1)
    return _png(fig)


def class_map_from_labels(labels: npt.NDArray[Any], classes: Mapping[int, str]) -> npt.NDArray[np.uint8]:
    """The class map (0 none, else 1 + index into ``LESION_CLASSES``) of a lesion-id image."""
    labels = np.asarray(labels).astype(np.intp)  # NIfTI readers may hand integer labels back as float
    lookup = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.uint8)
    for lesion_id, name in classes.items():
        if 0 < lesion_id < lookup.size:
            lookup[lesion_id] = LESION_CLASSES.index(name) + 1
    return lookup[labels]


def _lesion_slices(classes: npt.NDArray[np.uint8], *, outside: range) -> list[int]:
    """The slice with most lesion, if it lies outside ``outside`` (so that no lesion-rich slice is cut)."""
    per_slice = (classes > 0).sum(axis=(0, 1))
    top = int(np.argmax(per_slice))
    return [top] if per_slice[top] > 0 and top not in outside else []


def _outline(ax: Any, labels: npt.NDArray[np.uint8], caps: npt.NDArray[np.bool_] | None) -> None:
    for code, name in enumerate(LESION_CLASSES, start=1):
        layer = labels == code
        if layer.any():
            ax.contour(layer, levels=[0.5], colors=CLASS_COLOURS[name], linewidths=0.9,
                       linestyles=CLASS_LINESTYLES[name])
    if caps is not None and caps.any():
        ax.contour(caps.astype(np.uint8), levels=[0.5], colors=CAPS_LINING_COLOUR, linewidths=0.7,
                   linestyles=[CLASS_LINESTYLES["caps_lining"]])


def _legend(fig: Any, *, with_caps: bool) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=CLASS_COLOURS[n], linestyle=CLASS_LINESTYLES[n], label=n) for n in LESION_CLASSES]
    if with_caps:
        handles.append(Line2D([], [], color=CAPS_LINING_COLOUR, linestyle=CLASS_LINESTYLES["caps_lining"],
                              label="caps/lining (not lesion)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, labelcolor="white", fontsize=6)


def _window(data: npt.NDArray[np.floating]) -> tuple[float, float]:
    """Grey-level window: 1st to 99.5th percentile of the voxels above zero (every other one in-plane)."""
    sparse = data[::2, ::2]
    inside = sparse[sparse > 0]
    if inside.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(inside, [1, 99.5])
    return float(lo), float(hi)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any, facecolor: str = "white") -> bytes:
    plt = _pyplot()
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=110, facecolor=facecolor, pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    finally:
        plt.close(fig)
    return buffer.getvalue()
