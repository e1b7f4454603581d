"""Augmentations of model-grid samples: one stack ``(CHANNELS, H, W)`` with its target ``(H, W)``.

Everything draws from the ``numpy.random.Generator`` passed in, so a seeded generator gives
identical samples. Geometric changes go to the stack and the target alike; intensity changes
to the stack only, which stays in the ``[0, CLIP]`` range that ``normalise_flair`` produces.

The scanner-style changes (:data:`SCANNER_AUGMENT`; off by default, and then drawing nothing,
so earlier recipes give the same batches) make a sample look as another scanner's would:
a 1.5T look (lower grey/white and lesion contrast, blur, more noise) or a 3T look (more
contrast, less noise); ghosting from head motion between k-space lines; and an export that
was resampled (in-plane down and up again, neighbouring slices interpolated). The target is
what a reader outlines on the sample, so it stays as it is.
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
    # Scanner-style changes (see the module's description); 0 draws nothing.
    p_field: float = 0.0
    contrast_15t: tuple[float, float] = (0.75, 0.95)  # deviation from white matter scaled by this
    contrast_3t: tuple[float, float] = (1.05, 1.25)
    p_motion: float = 0.0
    motion_lines: tuple[float, float] = (0.05, 0.3)  # share of phase-encoding lines moved
    motion_shift_px: tuple[float, float] = (0.5, 3.0)
    p_export: float = 0.0
    export_zoom: tuple[float, float] = (0.5, 0.9)  # in-plane down-sampling before the export's up-sampling
    p_export_slices: float = 0.5  # share of exported samples whose neighbouring slices are interpolated


#: The scanner-style changes of ``python -m b12brain.train --scanner-augment``.
SCANNER_AUGMENT = {"p_field": 0.5, "p_motion": 0.15, "p_export": 0.25}


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
    if cfg.p_field > 0 and rng.random() < cfg.p_field:
        out = field_strength_look(out, rng, cfg)
    if cfg.p_motion > 0 and rng.random() < cfg.p_motion:
        out = motion_ghosts(out, rng, cfg)
    if cfg.p_export > 0 and rng.random() < cfg.p_export:
        out = resampled_export(out, rng, cfg)
    return np.clip(out, 0.0, CLIP).astype(np.float32)


def field_strength_look(stack: Stack, rng: np.random.Generator, cfg: AugmentConfig) -> Stack:
    """A 1.5T look (contrast about white matter lowered, in-plane blur, noise) or a 3T look
    (contrast raised, little noise), with equal chance.

    Examples
    --------
    >>> x = np.ones((3, 16, 16), np.float32); x[:, 8, 8] = 2.0
    >>> y = field_strength_look(x, np.random.default_rng(0), AugmentConfig())
    >>> y.shape, bool(abs(float(np.median(y)) - 1.0) < 0.1)
    ((3, 16, 16), True)
    """
    low_field = rng.random() < 0.5
    k = np.float32(rng.uniform(*(cfg.contrast_15t if low_field else cfg.contrast_3t)))
    # Deviations from white matter (= 1) are scaled inside the head; air (0) stays 0.
    out = stack + (k - 1) * (stack - 1) * np.clip(stack / np.float32(0.3), 0.0, 1.0)
    if low_field:
        out = ndi.gaussian_filter(out, (0.0, *(2 * [float(rng.uniform(0.4, 1.0))])))
        sd = rng.uniform(0.03, 0.08)
    else:
        sd = rng.uniform(0.0, 0.03)
    out = out + rng.standard_normal(out.shape, dtype=np.float32) * np.float32(sd)
    return out.astype(np.float32)


def motion_ghosts(stack: Stack, rng: np.random.Generator, cfg: AugmentConfig) -> Stack:
    """Head motion during a 2D acquisition: in each slice a random share of the k-space lines
    along one phase-encoding axis is shifted, which ghosts the image along that axis.

    Examples
    --------
    >>> x = np.zeros((3, 32, 32), np.float32); x[:, 8:24, 8:24] = 1.0
    >>> y = motion_ghosts(x, np.random.default_rng(1), AugmentConfig())
    >>> bool(y[:, :8].sum() + y[:, 24:].sum() + y[:, :, :8].sum() + y[:, :, 24:].sum() > 0)
    True
    """
    axis = 1 + int(rng.integers(2))  # the phase-encoding axis of this series
    n = stack.shape[axis]
    out = np.empty_like(stack)
    for c in range(stack.shape[0]):  # 2D slices are acquired one by one: each moves its own way
        k = np.fft.fft2(stack[c])
        moved = np.asarray(rng.random(n) < rng.uniform(*cfg.motion_lines), dtype=bool)
        shift = rng.uniform(*cfg.motion_shift_px) * rng.choice([-1.0, 1.0])
        other = 3 - axis  # the readout axis, along which the moved lines are shifted
        ramp = np.exp(-2j * np.pi * np.fft.fftfreq(stack.shape[other]) * shift).astype(np.complex64)
        lines = np.where(moved[:, None], ramp[None, :], np.complex64(1.0))  # (phase, readout)
        k *= lines if axis == 1 else lines.T
        out[c] = np.abs(np.fft.ifft2(k)).astype(np.float32)
    return out


def resampled_export(stack: Stack, rng: np.random.Generator, cfg: AugmentConfig) -> Stack:
    """A scan exported after resampling: each slice down-sampled in-plane (linear) and brought
    back up (cubic spline: blur with a little ringing), and on some samples the neighbouring
    slices replaced by the mean of themselves and the centre slice (an export interpolated to
    half its slice spacing).

    Examples
    --------
    >>> x = np.zeros((3, 32, 32), np.float32); x[1, 10:20, 10:20] = 2.0
    >>> y = resampled_export(x, np.random.default_rng(0), AugmentConfig(p_export_slices=1.0))
    >>> y.shape, bool(y[0].max() > 0.5)  # the neighbour now carries half the centre
    ((3, 32, 32), True)
    """
    zoom = float(rng.uniform(*cfg.export_zoom))
    h, w = stack.shape[1:]
    small = ndi.zoom(stack, (1.0, zoom, zoom), order=1, grid_mode=True, mode="grid-constant")
    out = ndi.zoom(small, (1.0, h / small.shape[1], w / small.shape[2]), order=3, grid_mode=True, mode="grid-constant")
    out = out[:, :h, :w]
    if out.shape[1:] != (h, w):  # rounding of the zoomed size: pad back to the sample's size
        out = np.pad(out, ((0, 0), (0, h - out.shape[1]), (0, w - out.shape[2])))
    if stack.shape[0] == 3 and rng.random() < cfg.p_export_slices:
        centre = out[1].copy()
        out[0] = 0.5 * (out[0] + centre)
        out[2] = 0.5 * (out[2] + centre)
    return out.astype(np.float32)
