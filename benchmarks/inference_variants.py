"""Run another benchmark with an inference-side variant of the learned segmenter's pipeline.

Usage::

    python benchmarks/inference_variants.py VARIANT BENCHMARK [ARGS ...]

    python benchmarks/inference_variants.py flip-tta benchmarks/evaluate_shared.py ../shared/data/lesions
    python benchmarks/inference_variants.py size-after-edges benchmarks/phantom_accuracy.py --punctate 20 --mimics

Variants (experiments recorded in docs/model-history.md; none is what ``b12brain run`` does):

* ``shipped``: nothing changed, the baseline to run in the same session;
* ``flip-tta``: test-time augmentation, the network's probability averaged over the scan and
  its left-right mirror (twice the network time);
* ``size-after-edges``: the smallest-lesion filter applied only after the edges are refined
  to the FLAIR half-maximum, not before as well: the network outlines small lesions smaller
  than they are (a 30-voxel lesion as 6 voxels), and the filter dropped them before the edge
  rule could grow them.

The variant is put in place by replacing one private function for this process only; the
benchmark then runs as if called directly (its own arguments, outputs and exit code).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, logit

import b12brain.pipeline as pipeline
import b12brain.segment.learned as learned
from b12brain.anatomy.localise import Anatomy
from b12brain.segment.edges import brain_tissue_ceiling, refine_lesion_edges
from b12brain.segment.postprocess import drop_small_lesions
from b12brain.types import BoolArray, FloatArray, Volume

_run_in_batches = learned._run_in_batches


def _flip_averaged(session: Any, stacks: FloatArray, batch_slices: int, model_path: Path) -> FloatArray:
    """Logits of the mean probability over the stacks and their left-right mirror (axis H = x)."""
    plain = expit(_run_in_batches(session, stacks, batch_slices, model_path))
    mirrored = _run_in_batches(session, np.ascontiguousarray(stacks[:, :, ::-1]), batch_slices, model_path)
    mean = 0.5 * (plain + expit(mirrored[:, ::-1]))
    return logit(np.clip(mean, 1e-7, 1 - 1e-7)).astype(np.float32)


def _size_after_edges(probability: FloatArray, flair: Volume, anatomy: Anatomy, *, threshold: float,
                      min_lesion_ml: float, refine_edges: bool) -> BoolArray:
    """``found_lesion_mask`` with the size filter after the edge rule only."""
    mask = probability >= threshold
    if refine_edges:
        levels = anatomy.levels
        mask = refine_lesion_edges(mask, flair.data, anatomy.parenchyma, flair.spacing_mm,
                                   ceiling=brain_tissue_ceiling(levels.wm, levels.wm_sd, levels.gm))
    return drop_small_lesions(mask, flair.voxel_volume_ml, min_lesion_ml=min_lesion_ml)


VARIANTS = {
    "shipped": lambda: None,
    "flip-tta": lambda: setattr(learned, "_run_in_batches", _flip_averaged),
    "size-after-edges": lambda: setattr(pipeline, "found_lesion_mask", _size_after_edges),
}


def main(argv: list[str]) -> int:
    problem = ("give a variant and a benchmark script" if len(argv) < 2
               else f"unknown variant {argv[0]!r}" if argv[0] not in VARIANTS
               else f"{argv[1]}: no such file" if not Path(argv[1]).is_file() else None)
    if problem:
        print(f"inference_variants.py: {problem}; usage: inference_variants.py {{{'|'.join(VARIANTS)}}} "
              "BENCHMARK.py [ARGS ...]", file=sys.stderr)
        return 2
    VARIANTS[argv[0]]()
    sys.argv = argv[1:]
    sys.path.insert(0, str(Path(argv[1]).resolve().parent))
    try:
        runpy.run_path(argv[1], run_name="__main__")
    except SystemExit as done:
        return int(done.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
