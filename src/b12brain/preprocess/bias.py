"""N4 bias-field correction (Tustison et al., IEEE TMI 2010) via SimpleITK.

N4 is the field's standard (ANTs, FreeSurfer, fMRIPrep all use it); SimpleITK gives it without
an external binary. It runs on a shrunk copy (~4 mm in-plane, slices kept) and the smooth
field is then evaluated on the full grid, which keeps it to a few seconds on 2 cores. It runs on
one thread: with more, the field's last digits follow the machine's core count, and the atlas
fit after it can turn that into another lesion mask of the same scan.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import SimpleITK as sitk

from b12brain.preprocess.sitk_bridge import from_sitk, single_threaded, to_sitk
from b12brain.types import BoolArray, Volume


def correct_bias(volume: Volume, mask: BoolArray, *, target_mm: float = 6.0) -> tuple[Volume, npt.NDArray[np.float32]]:
    """Remove the smooth multiplicative intensity bias inside ``mask``.

    Parameters
    ----------
    volume : Volume
        The image (any positive-valued MRI).
    mask : (X, Y, Z) ndarray of bool
        Where to estimate the field (head or brain).
    target_mm : float
        Voxel size the field is fitted at.

    Returns
    -------
    corrected : Volume
        ``volume`` divided by the field (outside ``mask`` too).
    field : (X, Y, Z) ndarray of float32
        The multiplicative bias field, mean 1 inside the mask.
    """
    data = np.clip(volume.data.astype(np.float32), 0, None)
    image = to_sitk(data + 1e-3 * float(data[mask].mean()), volume.affine)
    mask_img = to_sitk(mask.astype(np.uint8), volume.affine)
    shrink = [max(1, int(round(target_mm / s))) for s in volume.spacing_mm]
    small = sitk.Shrink(image, shrink)
    small_mask = sitk.Shrink(mask_img, shrink)
    n4 = sitk.N4BiasFieldCorrectionImageFilter()
    n4.SetMaximumNumberOfIterations([30, 20, 10])
    n4.SetConvergenceThreshold(1e-5)
    with single_threaded():
        n4.Execute(small, small_mask)
        log_field = from_sitk(n4.GetLogBiasFieldAsImage(image)).astype(np.float32)
    log_field -= float(log_field[mask].mean())
    field = np.exp(log_field)
    return volume.with_data((data / field).astype(np.float32)), field
