"""An anatomical atlas on the MNI152 2009 1 mm grid, built from the templates nilearn ships.

The three template files (skull-stripped T1, grey- and white-matter probability maps of the
ICBM 2009a symmetric template, 197 x 233 x 189 voxels of 1 mm) are read straight from the
``nilearn.datasets.data`` package folder, so nilearn itself is never imported (that costs
about two seconds). Every other map is derived from them:

* ``csf``: brain minus grey minus white matter probability, clipped to 0..1.
* ``ventricles``: the lateral ventricles plus the third ventricle.

  - Lateral ventricles: voxels with CSF probability > 0.5 form connected components; the
    sulcal and cisternal CSF touches the outer 2 mm of the brain mask, the ventricles do not.
    Inside a central box (|x| <= 50, -100 <= y <= 50, -35 <= z <= 50 mm) the components that
    touch neither the brain border nor the box faces and hold > 2 mL are kept. For this
    template that is one component (both lateral ventricles, joined at the foramina of Monro),
    about 17.8 mL.
  - Third ventricle: it is a slit 2-4 mm wide whose CSF merges with the basal cisterns at the
    template's resolution, so it cannot be separated by connectivity. It is taken
    geometrically: CSF probability > 0.5 within |x| <= 3, -28 <= y <= 2, -8 <= z <= 12 mm.

  Limits: the temporal horns are thin in the template and partly missing; the fourth ventricle
  is not included (it is infratentorial anyway).
* ``infratentorial``: cerebellum and brainstem, defined geometrically because no label atlas
  ships with nilearn. The tentorium is modelled as a roof ``z = ridge(y) - slope(y) * |x|``
  (mm), an inverted V in coronal section whose ridge and lateral slope are interpolated
  linearly between control points read off the template (``_TENTORIUM_CONTROL``). Brain
  voxels below the roof with y <= -32 mm are the cerebellum; the brainstem below the
  midbrain is the box |x| <= 15, -45 <= y <= -8, z <= -18 mm. About 236 mL in all (about
  200 mL of it grey + white matter; the template is larger than a native brain). Limits: the
  roof is smooth, so a few millimetres of inferior occipital/temporal cortex or of the upper
  vermis can fall on the wrong side; the posterior midbrain is partly included; cisternal CSF
  around the brainstem and cerebellum is included (the brain mask contains it).
* ``brain``: T1 > 0 (the template is skull-stripped; this includes extracerebral CSF).
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.errors import ResourceError

_TEMPLATE = "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
_REINSTALL = "reinstall nilearn (pip install --force-reinstall nilearn)"

#: Expected grid of the nilearn templates; checked when reading them.
ATLAS_SHAPE = (197, 233, 189)
ATLAS_AFFINE = np.array(
    [[1.0, 0, 0, -98.0], [0, 1.0, 0, -134.0], [0, 0, 1.0, -72.0], [0, 0, 0, 1.0]], dtype=np.float64
)

# Tentorium roof: (y mm, ridge z mm at the midline, drop of z per mm of |x|). Read off sagittal
# slices (x = 2, 20, 40 mm) and coronal slices (y = -40, -60, -85 mm) of the template T1.
_TENTORIUM_CONTROL = np.array(
    [
        (-140.0, -22.0, 0.30),
        (-100.0, -17.0, 0.32),
        (-85.0, -13.0, 0.36),
        (-60.0, -3.0, 0.45),
        (-48.0, -2.0, 0.50),
        (-40.0, -11.0, 0.42),
        (-32.0, -17.0, 0.35),
    ]
)
_CEREBELLUM_MAX_Y_MM = -32.0


@dataclass(frozen=True, eq=False)
class Atlas:
    """Tissue maps and anatomical masks on the MNI152 2009 1 mm grid (197 x 233 x 189).

    Parameters
    ----------
    affine : (4, 4) ndarray of float64
        Voxel index -> MNI millimetres (RAS+).
    t1 : (X, Y, Z) ndarray of float32
        Skull-stripped T1 template scaled to 0..1.
    gm, wm, csf : (X, Y, Z) ndarray of float32
        Tissue probabilities 0..1 (``csf`` = brain - gm - wm, clipped).
    brain : (X, Y, Z) ndarray of bool
        Intracranial mask of the template (includes extracerebral CSF).
    ventricles : (X, Y, Z) ndarray of bool
        Lateral and third ventricles.
    infratentorial : (X, Y, Z) ndarray of bool
        Cerebellum and brainstem (below the tentorium).
    """

    affine: npt.NDArray[np.float64]
    t1: npt.NDArray[np.float32]
    gm: npt.NDArray[np.float32]
    wm: npt.NDArray[np.float32]
    csf: npt.NDArray[np.float32]
    brain: npt.NDArray[np.bool_]
    ventricles: npt.NDArray[np.bool_]
    infratentorial: npt.NDArray[np.bool_]

    @property
    def shape(self) -> tuple[int, int, int]:
        x, y, z = self.t1.shape
        return (int(x), int(y), int(z))


@functools.lru_cache(maxsize=1)
def load_atlas() -> Atlas:
    """Build the atlas from the nilearn templates (cached; about 1.5 s the first time).

    The arrays are shared between callers: treat them as read-only (they are flagged so).

    Returns
    -------
    Atlas
        Maps on the 197 x 233 x 189 grid, 1 mm, affine :data:`ATLAS_AFFINE`.

    Raises
    ------
    ResourceError
        nilearn (which ships the templates) is missing, or a template is not on the expected grid.

    Examples
    --------
    >>> atlas = load_atlas()
    >>> atlas.shape
    (197, 233, 189)
    """
    t1 = _read_template("t1")
    gm = _read_template("gm")
    wm = _read_template("wm")
    brain = t1 > 0
    csf = np.clip(1.0 - gm - wm, 0.0, 1.0, dtype=np.float32)
    csf[~brain] = 0.0
    mm = _mm_grids(ATLAS_SHAPE)
    ventricles = _ventricles(csf, brain, mm)
    infratentorial = _infratentorial(brain, mm)
    arrays = dict(t1=t1, gm=gm, wm=wm, csf=csf, brain=brain, ventricles=ventricles, infratentorial=infratentorial)
    for array in arrays.values():
        array.setflags(write=False)
    affine = ATLAS_AFFINE.copy()
    affine.setflags(write=False)
    return Atlas(affine=affine, **arrays)


def _read_template(kind: str) -> npt.NDArray[np.float32]:
    # Read the NIfTI-1 file directly: the header is checked for the expected grid, and the
    # raw uint8 data follow at vox_offset. This skips nibabel's and nilearn's import costs.
    resource = _template_folder() / _TEMPLATE.format(kind)
    try:
        with gzip.open(resource, "rb") as fh:
            blob = fh.read()
        header = np.frombuffer(blob, dtype=np.uint8, count=348)
        dims = header[40:56].view("<i2")
        datatype = int(header[70:72].view("<i2")[0])
        vox_offset = int(header[108:112].view("<f4")[0])
        shape = tuple(int(d) for d in dims[1:4])
        if int(dims[0]) != 3 or shape != ATLAS_SHAPE or datatype != 2:  # 2 = uint8
            raise ResourceError(
                f"{resource}: unexpected template grid {shape} (type {datatype}), expected {ATLAS_SHAPE} uint8; {_REINSTALL}"
            )
        data = np.frombuffer(blob, dtype=np.uint8, count=int(np.prod(shape)), offset=vox_offset)
    except (OSError, EOFError, ValueError) as err:  # missing, truncated or not gzip
        raise ResourceError(f"{resource}: cannot be read ({err}); {_REINSTALL}") from err
    out = data.reshape(shape, order="F").astype(np.float32)
    out *= np.float32(1.0 / 255.0)
    return np.ascontiguousarray(out)


def _template_folder() -> Path:
    # importlib.resources.files("nilearn.datasets.data") would import nilearn.datasets (about
    # 2 s); find_spec of the top-level package only locates it on disk.
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise ResourceError("nilearn: not installed; b12brain needs its MNI152 templates (pip install nilearn)")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def _mm_grids(shape: tuple[int, int, int]) -> tuple[npt.NDArray[np.float64], ...]:
    """Open (broadcastable) MNI coordinate grids x, y, z in mm."""
    origin = ATLAS_AFFINE[:3, 3]
    return tuple(
        (np.arange(n, dtype=np.float64) + origin[axis]).reshape([-1 if a == axis else 1 for a in range(3)])
        for axis, n in enumerate(shape)
    )


def _box(mm: tuple[npt.NDArray[np.float64], ...], lo: tuple[float, float, float], hi: tuple[float, float, float]) -> tuple[slice, ...]:
    slices = []
    for axis in range(3):
        coords = mm[axis].ravel()
        idx = np.flatnonzero((coords >= lo[axis]) & (coords <= hi[axis]))
        slices.append(slice(int(idx[0]), int(idx[-1]) + 1))
    return tuple(slices)


def _ventricles(
    csf: npt.NDArray[np.float32], brain: npt.NDArray[np.bool_], mm: tuple[npt.NDArray[np.float64], ...]
) -> npt.NDArray[np.bool_]:
    box = _box(mm, (-50.0, -100.0, -35.0), (50.0, 50.0, 50.0))
    fluid = csf[box] > 0.5
    sub_brain = brain[box]
    border = sub_brain & ~ndi.binary_erosion(sub_brain, iterations=2)
    border[[0, -1], :, :] = True
    border[:, [0, -1], :] = True
    border[:, :, [0, -1]] = True
    labels, _ = ndi.label(fluid)
    outside = np.unique(labels[border & fluid])
    sizes = np.bincount(labels.ravel())
    keep = sizes > 2000
    keep[0] = False
    keep[outside] = False
    out = np.zeros(csf.shape, dtype=bool)
    out[box] = keep[labels]
    third = _box(mm, (-3.0, -28.0, -8.0), (3.0, 2.0, 12.0))
    out[third] |= csf[third] > 0.5
    return out


def _infratentorial(brain: npt.NDArray[np.bool_], mm: tuple[npt.NDArray[np.float64], ...]) -> npt.NDArray[np.bool_]:
    x, y, z = mm
    ys, ridge, slope = _TENTORIUM_CONTROL.T
    roof = np.interp(y, ys, ridge) - np.interp(y, ys, slope) * np.abs(x)  # (X, Y, 1)
    cerebellum = (z < roof) & (y <= _CEREBELLUM_MAX_Y_MM)
    brainstem = (np.abs(x) <= 15.0) & (y >= -45.0) & (y <= -8.0) & (z <= -18.0)
    return brain & (cerebellum | brainstem)
