"""MR contrast of a phantom: tissue signal, lesions, a simple head, bias field and noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from b12brain.phantom._fields import smooth_field

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Contrast:
    """Signal of each tissue relative to white matter (= 1) for one sequence."""

    gm: float
    csf: float
    # Head layers, from inside out: CSF rim, inner table, diploe, outer table, fat, skin.
    head: tuple[float, float, float, float, float, float]


def draw_contrasts(rng: np.random.Generator) -> tuple[Contrast, Contrast]:
    """FLAIR and T1 tissue signals within ranges seen on clinical scans."""
    fat_flair = rng.uniform(1.6, 2.2)
    flair = Contrast(
        gm=rng.uniform(1.2, 1.35),
        csf=rng.uniform(0.08, 0.2),
        head=(rng.uniform(0.08, 0.2), 0.04, rng.uniform(0.45, 0.75), 0.04, fat_flair, rng.uniform(0.5, 0.8)),
    )
    t1 = Contrast(
        gm=rng.uniform(0.55, 0.7),
        csf=rng.uniform(0.15, 0.3),
        head=(rng.uniform(0.15, 0.3), 0.05, rng.uniform(0.7, 1.0), 0.05, rng.uniform(1.2, 1.5), rng.uniform(0.45, 0.65)),
    )
    return flair, t1


def draw_other_contrast(kind: str, rng: np.random.Generator) -> tuple[Contrast, float]:
    """Tissue signals of a T2, proton-density or diffusion (b = 1000 s/mm², trace) image.

    Returns the contrast and the lesions' excess over white matter relative to the FLAIR's
    (T2 and PD show white-matter lesions as bright as a FLAIR does, a diffusion trace image
    about half as bright: "T2 shine-through").

    Ranges are those of clinical brain scans (signal relative to white matter): T2 grey matter
    1.15-1.35, CSF 2.5-4 (brightest); PD grey matter 1.1-1.25, CSF 1.05-1.35 (about as grey
    matter); DWI grey matter 1.05-1.2 with CSF dark (0.15-0.35) and a fat-suppressed, dark scalp.
    """
    if kind == "t2":
        return Contrast(
            gm=rng.uniform(1.15, 1.35),
            csf=(csf := rng.uniform(2.5, 4.0)),
            head=(csf, 0.04, rng.uniform(0.6, 0.9), 0.04, rng.uniform(1.0, 1.5), rng.uniform(0.5, 0.8)),
        ), 1.0
    if kind == "pd":
        return Contrast(
            gm=rng.uniform(1.1, 1.25),
            csf=(csf := rng.uniform(1.05, 1.35)),
            head=(csf, 0.05, rng.uniform(0.8, 1.1), 0.05, rng.uniform(1.1, 1.4), rng.uniform(0.7, 0.9)),
        ), 1.0
    if kind == "dwi":
        return Contrast(
            gm=rng.uniform(1.05, 1.2),
            csf=(csf := rng.uniform(0.15, 0.35)),
            head=(csf, 0.02, rng.uniform(0.05, 0.15), 0.02, rng.uniform(0.05, 0.15), rng.uniform(0.1, 0.2)),
        ), 0.5
    raise ValueError(f"unknown contrast {kind!r}")


def head_layers_mm(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Outer radii (mm beyond the brain mask) of the six head layers, cumulative."""
    thickness = [
        rng.uniform(0.5, 2.0),  # extra CSF
        rng.uniform(1.2, 2.2),  # inner table
        rng.uniform(1.5, 4.0),  # diploe (marrow)
        rng.uniform(1.2, 2.2),  # outer table
        rng.uniform(3.0, 6.5),  # scalp fat
        rng.uniform(1.0, 2.0),  # skin and muscle
    ]
    return np.cumsum(thickness)


def head_signal(dist_mm: FloatArray, radii_mm: npt.NDArray[np.float64], levels: tuple[float, ...]) -> FloatArray:
    """Signal of the head layers at distance ``dist_mm`` outside the brain (soft edges)."""
    out = np.zeros(dist_mm.shape, dtype=np.float32)
    outer = 0.0  # air
    for radius, level in zip(radii_mm[::-1], levels[::-1]):
        inside = np.clip(np.float32(radius + 0.5) - dist_mm, 0.0, 1.0)
        out += np.float32(level - outer) * inside
        outer = level
    return out


def bias_field(rng: np.random.Generator, coords: tuple[npt.NDArray[np.float64], ...], amplitude: float) -> FloatArray:
    """Smooth multiplicative field ``exp(a * f)`` with ``|f| <= 1``: about +-amplitude."""
    f = smooth_field(rng, coords, wavelength_mm=(250.0, 500.0), terms=3)
    f /= np.float32(max(float(np.abs(f).max()), 1e-6))
    return np.exp(np.float32(amplitude) * f)


def add_rician_noise(rng: np.random.Generator, image: FloatArray, sigma: float) -> FloatArray:
    """Magnitude of the signal plus complex Gaussian noise of standard deviation ``sigma``."""
    real = rng.standard_normal(image.shape, dtype=np.float32)
    real *= np.float32(sigma)
    real += image
    imag = rng.standard_normal(image.shape, dtype=np.float32)
    imag *= np.float32(sigma)
    np.square(real, out=real)
    np.square(imag, out=imag)
    real += imag
    return np.sqrt(real, out=real)
