"""Export a trained :class:`UNet2D` to ONNX, checked against torch with onnxruntime."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from b12brain.segment.slices import CHANNELS

OPSET = 17
TOLERANCE = 1e-4


@dataclass(frozen=True)
class ExportResult:
    """Files written by :func:`export_onnx` and the ONNX-vs-torch check."""

    onnx_path: Path
    sha256: str
    max_abs_diff: float
    size_bytes: int


def export_onnx(model: nn.Module, out_dir: Path | str, name: str, *, metadata: dict[str, Any] | None = None, seed: int = 0) -> ExportResult:
    """Write ``<name>.onnx``, ``<name>.onnx.sha256`` and ``<name>.json`` into ``out_dir``.

    The graph takes ``input`` ``(batch, CHANNELS, H, W)`` (dynamic batch, H, W) and gives
    ``logits`` ``(batch, 1, H, W)``. It is run with onnxruntime on a random input and must match
    torch within :data:`TOLERANCE`, else ``RuntimeError``.
    """
    import onnxruntime as ort

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    onnx_path = out / f"{name}.onnx"
    tmp = out / f".{name}.onnx.tmp"
    example = torch.zeros(1, CHANNELS, 64, 64)
    torch.onnx.export(
        model,
        (example,),
        str(tmp),
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch", 2: "height", 3: "width"}},
        opset_version=OPSET,
        dynamo=False,
    )
    x = torch.from_numpy(np.random.default_rng(seed).uniform(0, 2, (2, CHANNELS, 96, 128)).astype(np.float32))
    with torch.no_grad():
        want = model(x).numpy()
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {"input": x.numpy()})[0]
    diff = float(np.abs(got - want).max())
    if not diff < TOLERANCE:
        tmp.unlink()
        raise RuntimeError(f"{onnx_path}: ONNX output differs from torch by {diff:g} (> {TOLERANCE:g}); not written")
    os.replace(tmp, onnx_path)
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    _write_text(out / f"{name}.onnx.sha256", digest + "\n")
    sidecar = {"onnx": onnx_path.name, "sha256": digest, "opset": OPSET, "max_abs_diff_vs_torch": diff} | (metadata or {})
    _write_text(out / f"{name}.json", json.dumps(sidecar, indent=2, default=str) + "\n")
    return ExportResult(onnx_path, digest, diff, onnx_path.stat().st_size)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
