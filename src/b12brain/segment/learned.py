"""Learned lesion segmenter: a 2.5D U-Net run with onnxruntime (no torch at run time).

The network's input and output grids are fixed by :mod:`b12brain.segment.slices` (the same
functions build the training data). The weights are an ONNX file with two sidecars beside it:

* ``<name>.onnx.sha256`` (required): the file's SHA-256 in hex (``sha256sum`` output is
  accepted); the model is refused when it does not match, so a truncated or swapped file
  never runs;
* ``<name>.json`` (optional): the export's metadata (``b12brain.train.export`` writes it); its
  ``"threshold"``, the probability cut chosen on the validation set, is used; 0.5 when the
  file or the key is absent.

The packaged weights
live in ``b12brain/resources/wmh_unet.onnx``. onnxruntime is imported only when a model is
loaded, and the device is chosen then (CUDA when onnxruntime offers it, else CPU), never at
import. Each model file is loaded once per process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from scipy.special import expit

from b12brain.errors import ModelError
from b12brain.geometry import CONNECTIVITY_26
from b12brain.segment.slices import (
    CHANNELS,
    from_model_grid,
    normalise_flair,
    to_model_grid,
)
from b12brain.types import FloatArray, Volume

if TYPE_CHECKING:  # the anatomy stage (and SimpleITK) is not needed to import segmenters
    from b12brain.anatomy.localise import Anatomy

#: The weights shipped with b12brain (MODEL_CARD.md).
PACKAGED_MODEL = Path(__file__).resolve().parent.parent / "resources" / "wmh_unet.onnx"
DEFAULT_THRESHOLD = 0.5
#: Smallest lesion kept (mL): 10 mm³, ten 1 mm voxels or two of a 1×1×5 mm scan. On 1 mm
#: phantoms the network finds lesions of 10-30 mm³ with probability ~1 and no false positives
#: of that size, so the classical segmenter's 0.03 mL would throw true lesions away.
DEFAULT_MIN_LESION_ML = 0.01
#: White-matter territory (CLINICAL.md §7: lesions are white-matter hyperintensities): a lesion
#: region must reach a voxel where the atlas white-matter probability, smoothed by
#: ``WM_SMOOTH_MM`` for misalignment, is at least ``WM_TERRITORY``. Regions are connected at
#: probability ``REGION_LEVEL``, below any sensible threshold, so the rule does not depend on it.
WM_TERRITORY = 0.5
WM_SMOOTH_MM = 2.0
REGION_LEVEL = 0.1
#: CPU threads for one inference session: more rarely helps a U-Net on slices of ~200² voxels.
MAX_CPU_THREADS = 8


@dataclass(frozen=True)
class LearnedSegmenter:
    """Lesion probability from an ONNX 2.5D U-Net (see module docstring).

    Build it with :meth:`from_file`, which checks the weights and reads the threshold sidecar.

    Parameters
    ----------
    model_path : Path
        ONNX file (with ``<model_path>.sha256`` beside it).
    threshold : float
        Probability at which a voxel is called lesion.
    min_lesion_ml : float
        Lesions smaller than this are dropped (:data:`DEFAULT_MIN_LESION_ML`).
    batch_slices : int
        Slices per onnxruntime call; bounds memory (a U-Net's activations on 8 slices of
        256² take a few hundred MB).
    providers : tuple of str, optional
        onnxruntime execution providers in order of preference; None picks CUDA when
        available, else CPU.
    """

    model_path: Path = PACKAGED_MODEL
    threshold: float = DEFAULT_THRESHOLD
    min_lesion_ml: float = DEFAULT_MIN_LESION_ML
    batch_slices: int = 8
    providers: tuple[str, ...] | None = None
    name: str = "learned"

    @classmethod
    def from_file(
        cls, model_path: Path | str | None = None, *, providers: tuple[str, ...] | None = None
    ) -> LearnedSegmenter:
        """The segmenter of ``model_path`` (default: the packaged weights), loaded and checked.

        Raises
        ------
        ModelError
            The model or its checksum file is missing, the checksum does not match, the
            threshold sidecar is unusable, or the network's inputs are not what
            :mod:`b12brain.segment.slices` produces.
        """
        path = Path(model_path) if model_path is not None else PACKAGED_MODEL
        segmenter = cls(model_path=path, threshold=read_threshold(path), providers=providers)
        segmenter.load()
        return segmenter

    def load(self) -> Any:
        """The onnxruntime session of this model (loaded and checked once per process).

        Raises
        ------
        ModelError
            See :meth:`from_file`.
        """
        path = _check_files(self.model_path)
        stat = path.stat()
        return _open_session(str(path), stat.st_mtime_ns, stat.st_size, self.providers)

    @property
    def provenance(self) -> dict[str, str]:
        """The model file and its SHA-256 (as checked when it was loaded)."""
        path = _check_files(self.model_path)
        return {"model": str(path), "model_sha256": checksum_path(path).read_text().split()[0].lower()}

    def predict(
        self,
        flair: Volume,
        anatomy: Anatomy,
        t1: Volume | None = None,
        *,
        slices: npt.ArrayLike | None = None,
        base: FloatArray | None = None,
    ) -> FloatArray:
        """Lesion probability (0..1, float32) of every voxel of the bias-corrected ``flair``.

        The FLAIR is normalised within ``anatomy.brain``, cut into the model's slice stacks,
        run in batches of ``batch_slices`` and mapped back; nothing outside the brain is
        lesion, nor is a bright region that never reaches white matter
        (:func:`restrict_to_white_matter`: eyes and orbits, scalp, sulci). The T1 is not used
        (the network reads FLAIR only).

        ``slices`` and ``base`` re-predict part of a scan: the network runs only on the axial
        ``slices`` (canonical z indices) and every other slice is taken from ``base``, this
        segmenter's earlier probability map of a scan that differs only where those slices'
        stacks see it (the model reads each slice with its ``CONTEXT`` neighbours). The
        per-scan self-check (:mod:`b12brain.qc.selfcheck`) uses it.

        Raises
        ------
        ModelError
            The model cannot be loaded, or fails or returns an unexpected shape.
        """
        session = self.load()
        normalised = normalise_flair(flair.data, anatomy.brain)
        stacks, grid = to_model_grid(normalised, flair.spacing_mm)
        if slices is None or base is None:
            logits = _run_in_batches(session, stacks, self.batch_slices, self.model_path)
            probability = from_model_grid(expit(logits).astype(np.float32), grid)
        else:
            chosen = np.unique(np.asarray(slices, np.intp))
            probability = np.array(base, np.float32)
            if chosen.size:
                logits = _run_in_batches(session, stacks[chosen], self.batch_slices, self.model_path)
                probability[:, :, chosen] = from_model_grid(expit(logits).astype(np.float32), grid)
        probability[~anatomy.brain] = 0.0
        return restrict_to_white_matter(probability, anatomy.wm, flair.spacing_mm)


def restrict_to_white_matter(
    probability: FloatArray, wm: FloatArray, spacing_mm: tuple[float, float, float]
) -> FloatArray:
    """Zero each region of ``probability >= REGION_LEVEL`` (26-connected) that nowhere reaches
    white-matter territory (smoothed atlas ``wm >= WM_TERRITORY``); other regions stay whole,
    so a juxtacortical lesion keeps its cortical edge.

    Examples
    --------
    >>> p = np.zeros((12, 12, 3), np.float32); p[1:3, 1:3, 1] = 0.75; p[7:11, 7:11, 1] = 0.75
    >>> wm = np.zeros((12, 12, 3), np.float32); wm[6:12, 6:12, :] = 1.0
    >>> q = restrict_to_white_matter(p, wm, (1.0, 1.0, 1.0))
    >>> float(q[1:3, 1:3].max()), float(q[7:11, 7:11, 1].min())
    (0.0, 0.75)
    """
    labels, n = ndi.label(probability >= REGION_LEVEL, structure=CONNECTIVITY_26)
    if n == 0:
        return probability
    territory = ndi.gaussian_filter(np.asarray(wm, np.float32), [WM_SMOOTH_MM / s for s in spacing_mm]) >= WM_TERRITORY
    reaches = np.zeros(n + 1, bool)
    reaches[np.unique(labels[territory])] = True
    reaches[0] = True  # background keeps its (sub-REGION_LEVEL) values
    return np.where(reaches[labels], probability, np.float32(0.0)).astype(np.float32)


def checksum_path(model_path: Path | str) -> Path:
    """The SHA-256 sidecar of a model file: ``<model>.sha256``."""
    path = Path(model_path)
    return path.with_name(path.name + ".sha256")


def threshold_path(model_path: Path | str) -> Path:
    """The metadata sidecar of a model file, which may give its threshold: ``<name>.json``."""
    return Path(model_path).with_suffix(".json")


def write_checksum(model_path: Path | str) -> Path:
    """Write ``<model>.sha256`` (``sha256sum`` format) for a model file; return its path.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     model = Path(folder) / "m.onnx"; _ = model.write_bytes(b"abc")
    ...     write_checksum(model).read_text()[:16]
    'ba7816bf8f01cfea'
    """
    path = Path(model_path)
    target = checksum_path(path)
    target.write_text(f"{_sha256(path)}  {path.name}\n")
    return target


def read_threshold(model_path: Path | str) -> float:
    """The ``"threshold"`` in ``<name>.json``, or 0.5 when there is no such file or key.

    Raises
    ------
    ModelError
        The file is not JSON, or its ``threshold`` is not a number in (0, 1).
    """
    sidecar = threshold_path(model_path)
    if not sidecar.is_file():
        return DEFAULT_THRESHOLD
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError) as err:
        raise ModelError(
            f"{sidecar}: unreadable ({type(err).__name__}: {err}); expected a JSON object such as "
            "{\"threshold\": 0.5}, or remove the file to use 0.5"
        ) from err
    if not isinstance(meta, dict):
        raise ModelError(f"{sidecar}: expected a JSON object such as {{\"threshold\": 0.5}}, not {type(meta).__name__}")
    if "threshold" not in meta:
        return DEFAULT_THRESHOLD
    value = meta["threshold"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
        raise ModelError(f"{sidecar}: threshold {value!r} is not a number in (0, 1); fix or remove the file")
    return float(value)


def choose_providers(available: list[str]) -> list[str]:
    """CUDA first when onnxruntime offers it, CPU always as the fallback.

    Examples
    --------
    >>> choose_providers(["CUDAExecutionProvider", "CPUExecutionProvider"])
    ['CUDAExecutionProvider', 'CPUExecutionProvider']
    >>> choose_providers(["AzureExecutionProvider", "CPUExecutionProvider"])
    ['CPUExecutionProvider']
    """
    return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []) + ["CPUExecutionProvider"]


def _check_files(model_path: Path) -> Path:
    if not model_path.is_file():
        if model_path == PACKAGED_MODEL:
            raise ModelError(
                f"{model_path}: no trained weights shipped at this location; "
                "use --segmenter classical or --model PATH"
            )
        raise ModelError(f"{model_path}: model file not found; give the path of an ONNX model (--model PATH)")
    if not checksum_path(model_path).is_file():
        raise ModelError(
            f"{checksum_path(model_path)}: checksum file missing for {model_path.name}; "
            "ship the model with its SHA-256 (b12brain.segment.learned.write_checksum)"
        )
    return model_path.resolve()


@functools.lru_cache(maxsize=4)
def _open_session(path: str, mtime_ns: int, size: int, providers: tuple[str, ...] | None) -> Any:
    """Verify the checksum, open the session and check its inputs; cached per file version."""
    model_path = Path(path)
    sidecar = checksum_path(model_path)
    words = sidecar.read_text().split()
    expected = words[0].lower() if words else ""
    actual = _sha256(model_path)
    if expected != actual:
        raise ModelError(
            f"{model_path}: SHA-256 {actual} does not match {expected or '(empty)'} in {sidecar.name}; "
            "the file is corrupt or was replaced: reinstall b12brain or restore the model"
        )
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = _cpu_threads()
    options.log_severity_level = 3  # errors only: provider fallback notices are not for users
    chosen = list(providers) if providers is not None else choose_providers(ort.get_available_providers())
    try:
        session = ort.InferenceSession(path, sess_options=options, providers=chosen)
    except Exception as err:  # onnxruntime raises its own untyped errors (InvalidProtobuf, Fail, ...)
        raise ModelError(
            f"{model_path}: onnxruntime cannot load it ({err}); the file is not a valid ONNX model"
        ) from err
    _check_signature(session, model_path)
    return session


def _check_signature(session: Any, model_path: Path) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(
            f"{model_path}: the model has {len(inputs)} inputs and {len(outputs)} outputs, expected 1 and 1; "
            "export the segmentation network alone"
        )
    shape = list(inputs[0].shape)
    if len(shape) != 4 or shape[1] != CHANNELS:
        raise ModelError(
            f"{model_path}: input {inputs[0].name!r} has shape {shape}, expected [batch, {CHANNELS}, height, width] "
            "(stacks of neighbouring slices, b12brain.segment.slices); retrain or re-export the model"
        )
    if inputs[0].type != "tensor(float)":
        raise ModelError(f"{model_path}: input {inputs[0].name!r} is {inputs[0].type}, expected tensor(float)")


def _run_in_batches(session: Any, stacks: FloatArray, batch_slices: int, model_path: Path) -> FloatArray:
    """Logits ``(Z, H, W)`` of stacks ``(Z, C, H, W)``, ``batch_slices`` at a time."""
    node = session.get_inputs()[0]
    fixed = node.shape[0] if isinstance(node.shape[0], int) and node.shape[0] > 0 else None
    batch = fixed or max(1, batch_slices)
    z, _, h, w = stacks.shape
    logits = np.empty((z, h, w), np.float32)
    for start in range(0, z, batch):
        chunk = stacks[start : start + batch]
        n = chunk.shape[0]
        if fixed and n < fixed:  # a model exported with a fixed batch: pad the last one
            chunk = np.concatenate([chunk, np.zeros((fixed - n, *chunk.shape[1:]), np.float32)])
        try:
            (out,) = session.run(None, {node.name: chunk})
        except Exception as err:  # onnxruntime's errors carry no common public type
            raise ModelError(
                f"{model_path}: inference failed on slices of {h}×{w} ({err}); the model must accept any "
                "in-plane size that is a multiple of 16"
            ) from err
        out = np.asarray(out, np.float32)
        if out.size != chunk.shape[0] * h * w:
            raise ModelError(
                f"{model_path}: output shape {list(out.shape)} for input {list(chunk.shape)}; expected one "
                "logit map per slice, [batch, 1, height, width]"
            )
        logits[start : start + n] = out.reshape(chunk.shape[0], h, w)[:n]
    return logits


def _cpu_threads() -> int:
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available, MAX_CPU_THREADS))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
