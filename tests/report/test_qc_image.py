"""The QC image: slice titles drawn as plain texts land exactly where matplotlib puts axes titles."""

from __future__ import annotations

import io

import numpy as np
import pytest

from b12brain.report.qc import _title

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _grid_pixels(*, as_title: bool, warning_lines: int) -> np.ndarray:
    """A 2 x 3 grid laid out as the QC image is (black, images off-axis, tight layout)."""
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(2, 3, figsize=(3.2 * 3, 3.4 * 2 + 0.8), squeeze=False, facecolor="black")
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        ax.imshow(rng.random((40, 30)), cmap="gray", origin="lower", aspect=1.3)
        text = f"slice {k}  z={6 * k - 17:.0f} mm"
        if as_title:
            ax.set_title(text, color="white", fontsize=8)
        else:
            _title(ax, text)
    fig.suptitle("phantom: 3 lesions", color="white", fontsize=9)
    top = 0.96 - 0.03 * warning_lines * 3.4 / fig.get_figheight()
    fig.tight_layout(rect=(0, 0.04, 1, top))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, facecolor="black")
    plt.close(fig)
    buffer.seek(0)
    return plt.imread(buffer)


@pytest.mark.parametrize("warning_lines", [0, 2])
def test_slice_titles_are_drawn_where_axes_titles_are(warning_lines: int) -> None:
    assert np.array_equal(_grid_pixels(as_title=False, warning_lines=warning_lines),
                          _grid_pixels(as_title=True, warning_lines=warning_lines))
