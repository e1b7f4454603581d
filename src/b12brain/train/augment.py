"""Augmentations of model-grid samples: one stack ``(CHANNELS, H, W)`` with its target ``(H, W)``.

Everything draws from the ``numpy.random.Generator`` passed in, so a seeded generator gives
identical samples. Geometric changes go to the stack and the target alike; intensity changes
to the stack only, which stays in the ``[0, CLIP]`` range that ``normalise_flair`` produces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.segment.slices import CLIP

Stack = npt.NDArray[np.float32]
Target = npt.NDArray[np.float32]


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges and probabilities of the augmentations (set ``enabled=False`` for none)."""

    enabled: bool = True
    gamma: tuple[float, float] = (0.7, 1.5)
    contrast: tuple[float, float] = (0.85, 1.15)
    noise_sd: tuple[float, float] = (0.0, 0.08)
    p_noise: float = 0.5
    blur_sigma_px: tuple[float, float] = (0.3, 1.2)
    p_blur: float = 0.25
    # Phantoms are smoother than real scans (sharp sulci, vessels, small sharp lesions):
    # unsharp masking shows the network edges as crisp as a real 2D FLAIR's.
    sharpen_amount: tuple[float, float] = (0.3, 1.5)
    sharpen_sigma_px: tuple[float, float] = (0.7, 2.0)
    p_sharpen: float = 0.35
    p_flip_lr: float = 0.5
    p_flip_ap: float = 0.1
    p_rot90: float = 0.1
    max_angle_deg: float = 15.0
    p_rotate: float = 0.5


def augment_geometry(stack: Stack, target: Target, rng: np.random.Generator, cfg: AugmentConfig) -> tuple[Stack, Target]:
    """Flips, 90° turns and small rotations in-plane (the target follows, linearly interpolated)."""
    if not cfg.enabled:
        return stack, target
    if rng.random() < cfg.p_flip_lr:
        stack, target = stack[:, ::-1, :], target[::-1, :]
    if rng.random() < cfg.p_flip_ap:
        stack, target = stack[:, :, ::-1], target[:, ::-1]
    if rng.random() < cfg.p_rot90:
        k = int(rng.integers(1, 4))
        stack, target = np.rot90(stack, k, axes=(1, 2)), np.rot90(target, k)
    if rng.random() < cfg.p_rotate:
        angle = float(rng.uniform(-cfg.max_angle_deg, cfg.max_angle_deg))
        stack = ndi.rotate(stack, angle, axes=(1, 2), reshape=False, order=1, mode="constant")
        target = ndi.rotate(target, angle, axes=(0, 1), reshape=False, order=1, mode="constant")
    return np.ascontiguousarray(stack, np.float32), np.ascontiguousarray(target, np.float32)


def augment_intensity(stack: Stack, rng: np.random.Generator, cfg: AugmentConfig) -> Stack:
    """Gamma about white matter (= 1), global contrast scale, Gaussian blur or unsharp
    masking, and noise; clipped."""
    if not cfg.enabled:
        return stack
    out = np.power(stack, np.float32(rng.uniform(*cfg.gamma)))  # 1 (white matter) stays 1
    out *= np.float32(rng.uniform(*cfg.contrast))  # an error of the median-of-brain scale
    if rng.random() < cfg.p_blur:
        out = ndi.gaussian_filter(out, (0.0, *(2 * [float(rng.uniform(*cfg.blur_sigma_px))])))
    elif rng.random() < cfg.p_sharpen:
        smooth = ndi.gaussian_filter(out, (0.0, *(2 * [float(rng.uniform(*cfg.sharpen_sigma_px))])))
        out += np.float32(rng.uniform(*cfg.sharpen_amount)) * (out - smooth)
    if rng.random() < cfg.p_noise:
        out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(rng.uniform(*cfg.noise_sd))
    return np.clip(out, 0.0, CLIP).astype(np.float32)
