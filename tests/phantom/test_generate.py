"""Tests of the phantom generator: determinism, lesion loads, class design, grids, writing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from b12brain.errors import ConfigError, OutputError
from b12brain.io import load_volume
from b12brain.phantom import Phantom, PhantomConfig, make_phantom, write_phantom

FULL26 = np.ones((3, 3, 3), dtype=bool)


@pytest.fixture(scope="module")
def phantoms() -> dict[tuple[str, float, int], Phantom]:
    """Phantoms keyed by (load, slice_mm, seed), made once for the module."""
    cases = [
        ("moderate", 1.0, 0),
        ("moderate", 1.0, 1),
        ("none", 1.0, 0),
        ("mild", 1.0, 0),
        ("severe", 1.0, 0),
        ("mild", 6.0, 0),
        ("moderate", 6.0, 0),
        ("severe", 6.0, 0),
    ]
    return {c: make_phantom(PhantomConfig(seed=c[2], lesion_load=c[0], slice_mm=c[1])) for c in cases}


def _arrays(ph: Phantom) -> list[np.ndarray]:
    return [ph.flair.data, ph.t1.data, ph.lesion.data, ph.lesion_class.data, ph.ventricles.data, ph.brain.data]


def test_same_seed_same_arrays(phantoms) -> None:
    again = make_phantom(PhantomConfig(seed=0, lesion_load="moderate", slice_mm=1.0))
    for a, b in zip(_arrays(phantoms[("moderate", 1.0, 0)]), _arrays(again)):
        np.testing.assert_array_equal(a, b)
    assert again.truth == phantoms[("moderate", 1.0, 0)].truth


def test_different_seed_different_arrays(phantoms) -> None:
    a, b = phantoms[("moderate", 1.0, 0)], phantoms[("moderate", 1.0, 1)]
    assert not np.array_equal(a.flair.data, b.flair.data)
    assert not np.array_equal(a.lesion.data, b.lesion.data)
    assert a.truth["lesion_ml"] != b.truth["lesion_ml"]


@pytest.mark.parametrize(
    ("load", "slice_mm", "lo_ml", "hi_ml"),
    [
        ("none", 1.0, 0.0, 0.0),
        ("mild", 1.0, 2.0, 8.0),
        ("moderate", 1.0, 10.0, 30.0),
        ("severe", 1.0, 100.0, 200.0),
        ("mild", 6.0, 0.3, 8.0),
        ("moderate", 6.0, 6.0, 30.0),
        ("severe", 6.0, 100.0, 200.0),
    ],
)
def test_lesion_volume_per_load(phantoms, load, slice_mm, lo_ml, hi_ml) -> None:
    ph = phantoms[(load, slice_mm, 0)]
    measured = np.count_nonzero(ph.lesion.data) * ph.lesion.voxel_volume_ml
    assert lo_ml <= measured <= hi_ml
    assert ph.truth["lesion_ml"] == pytest.approx(measured, abs=1e-3)
    by_class = ph.truth["lesion_ml_by_class"]
    assert by_class["periventricular"] + by_class["deep"] == pytest.approx(measured, abs=2e-3)


@pytest.mark.parametrize("load", ["mild", "moderate", "severe"])
def test_thick_slice_truth_keeps_the_lesion_volume(phantoms, load) -> None:
    """Each lesion outlined at its half maximum on 6 mm slices keeps the volume drawn at 1 mm
    (the same seed draws the same lesions); a half-filled-voxel rule lost 70 % of a mild load."""
    thick, thin = phantoms[(load, 6.0, 0)].truth["lesion_ml"], phantoms[(load, 1.0, 0)].truth["lesion_ml"]
    assert thick == pytest.approx(thin, rel=0.25)


def test_thick_slice_truth_outlines_each_visible_lesion_at_half_its_peak() -> None:
    from b12brain.phantom.generate import VISIBLE_EXCESS, visible_lesion

    fraction = np.zeros((12, 12, 2))
    fraction[1:4, 1:4, 0] = [[0.1, 0.2, 0.1], [0.2, 0.4, 0.2], [0.1, 0.2, 0.1]]  # a thin lesion
    fraction[6:11, 6:11, 0] = 0.6  # a lesion filling most of the slice, with a faint rim
    fraction[6:11, 6, 0] = 0.2
    fraction[1:4, 8:11, 0] = 0.5  # filling half the slice, but too faint to see
    fraction[1:4, 1:4, 1] = 0.9  # the next slice: its own outline
    excess = 0.8 * fraction  # lesions 1.8 x white matter
    excess[1:4, 8:11, 0] = 0.9 * VISIBLE_EXCESS
    truth = visible_lesion(fraction, excess)
    assert truth[1:4, 1:4, 0].sum() == 5  # the centre and its four 0.2 neighbours: >= 0.4 / 2
    assert truth[6:11, 7:11, 0].all() and not truth[6:11, 6, 0].any()  # 0.2 < 0.6 / 2
    assert not truth[1:4, 8:11, 0].any()
    assert truth[1:4, 1:4, 1].all() and truth.sum() == 5 + 20 + 9


def test_periventricular_bands_are_at_least_two_voxels_thick(phantoms) -> None:
    """No one-voxel lining: it would carry under half a lesion's signal (MIN_BAND_MM)."""
    for key in [("mild", 1.0, 0), ("moderate", 1.0, 0)]:
        ph = phantoms[key]
        pv = ph.lesion_class.data == 1
        depth = ndi.distance_transform_edt(ph.ventricles.data == 0)
        lining = pv & (depth < 1.5)  # the voxels next to the ventricles
        deeper = ndi.maximum_filter(np.where(pv, depth, 0.0), footprint=FULL26) >= 2.0
        assert lining.any() and (lining & deeper).sum() >= 0.95 * lining.sum()


def test_no_lesions_for_load_none(phantoms) -> None:
    ph = phantoms[("none", 1.0, 0)]
    assert not ph.lesion.data.any() and not ph.lesion_class.data.any()
    assert ph.truth["lesion_count"] == 0


def test_severe_is_confluent_periventricular(phantoms) -> None:
    ph = phantoms[("severe", 1.0, 0)]
    by_class = ph.truth["lesion_ml_by_class"]
    assert by_class["periventricular"] > 90.0
    labels, _ = ndi.label(ph.lesion_class.data == 1, structure=FULL26)
    largest_ml = np.bincount(labels.ravel())[1:].max() * ph.lesion.voxel_volume_ml
    assert largest_ml > 30.0  # confluent, not a scatter of small foci


@pytest.mark.parametrize("key", [("mild", 1.0, 0), ("moderate", 1.0, 0), ("severe", 1.0, 0), ("moderate", 6.0, 0), ("severe", 6.0, 0)])
def test_classes_follow_the_lst_rule(phantoms, key) -> None:
    """A component whose 3x3x3 dilation touches the ventricles is periventricular, else deep."""
    ph = phantoms[key]
    lesion, cls, vent = ph.lesion.data > 0, ph.lesion_class.data, ph.ventricles.data > 0
    assert set(np.unique(cls)) <= {0, 1, 2}
    np.testing.assert_array_equal(cls > 0, lesion)
    assert not np.any(lesion & vent)
    labels, n = ndi.label(lesion, structure=FULL26)
    touching = set(np.unique(labels[ndi.binary_dilation(vent, structure=FULL26) & lesion])) - {0}
    for i in range(1, n + 1):
        classes = np.unique(cls[labels == i])
        assert len(classes) == 1  # one class per component
        assert (classes[0] == 1) == (i in touching)


def test_deep_lesions_far_from_ventricles_and_in_white_matter(phantoms) -> None:
    from b12brain.anatomy import load_atlas

    atlas = load_atlas()
    for key in [("mild", 1.0, 0), ("moderate", 1.0, 0), ("severe", 1.0, 0)]:
        ph = phantoms[key]
        deep = ph.lesion_class.data == 2
        assert deep.any()
        dist = ndi.distance_transform_edt(ph.ventricles.data == 0)
        assert dist[deep].min() >= 10.0
        assert atlas.wm[deep].min() > 0.6  # only inside WM
        assert not np.any(deep & atlas.infratentorial)
        pv = ph.lesion_class.data == 1
        assert ndi.distance_transform_edt(~pv)[deep].min() >= 4.0


def test_ventricles_enlarge_with_load(phantoms) -> None:
    atlas_ml = 19.0
    none_ml = phantoms[("none", 1.0, 0)].truth["ventricle_ml"]
    severe_ml = phantoms[("severe", 1.0, 0)].truth["ventricle_ml"]
    assert atlas_ml * 0.99 <= none_ml <= atlas_ml * 1.2
    assert severe_ml >= atlas_ml * 1.2


def test_one_mm_grid(phantoms) -> None:
    ph = phantoms[("moderate", 1.0, 0)]
    for vol in _arrays(ph):
        assert vol.shape == (197, 233, 189)
    assert ph.flair.spacing_mm == (1.0, 1.0, 1.0)
    np.testing.assert_array_equal(ph.flair.affine[:3, 3], [-98, -134, -72])
    assert ph.lesion.data.dtype == np.uint8 and ph.flair.data.dtype == np.float32
    assert ph.truth["shape"] == [197, 233, 189] and ph.truth["voxel_mm"] == [1.0, 1.0, 1.0]


def test_thick_slice_grid(phantoms) -> None:
    ph = phantoms[("moderate", 6.0, 0)]
    nx, ny, nz = ph.flair.shape
    assert (nx, ny) == (256, 256) and 25 <= nz <= 32
    sx, sy, sz = ph.flair.spacing_mm
    assert sx == pytest.approx(0.898, abs=0.01) and sy == sx and sz == pytest.approx(6.0)
    assert np.allclose(ph.flair.affine[:3, :3], np.diag([sx, sy, sz]))  # RAS, axial
    for vol in (ph.t1, ph.lesion, ph.lesion_class, ph.ventricles, ph.brain):
        np.testing.assert_array_equal(vol.affine, ph.flair.affine)
        assert vol.shape == ph.flair.shape
    # The brain is inside the field of view and keeps its volume.
    brain = ph.brain.data > 0
    assert not brain[[0, -1]].any() and not brain[:, [0, -1]].any()
    assert ph.truth["brain_ml"] == pytest.approx(1886.5, rel=0.02)


def test_contrast_is_flair_and_t1_like(phantoms) -> None:
    from b12brain.anatomy import load_atlas

    atlas = load_atlas()
    ph = phantoms[("moderate", 1.0, 0)]
    lesion = ph.lesion.data > 0
    wm = (atlas.wm > 0.95) & ~ndi.binary_dilation(lesion, iterations=2)
    gm = atlas.gm > 0.9
    vent = ph.ventricles.data > 0
    core = ndi.binary_erosion(lesion, structure=FULL26)
    f, t = ph.flair.data, ph.t1.data
    wm_f, wm_t = np.median(f[wm]), np.median(t[wm])
    assert 1.1 < np.median(f[gm]) / wm_f < 1.45
    assert np.median(f[vent]) / wm_f < 0.35
    assert 1.4 < np.median(f[core]) / wm_f < 2.4
    assert np.median(t[gm]) / wm_t < 0.8 and np.median(t[core]) / wm_t < 0.95
    # A bright scalp around a dark skull: brain extraction has something to remove.
    outside = ph.brain.data == 0
    assert np.percentile(f[outside], 99.5) > 1.3 * wm_f


@pytest.mark.parametrize("slice_mm", [1.0, 6.0])
def test_orbits_dark_globes_in_bright_fat_under_the_frontal_lobes(phantoms, slice_mm) -> None:
    from b12brain.phantom._orbits import APEX_MM, GLOBE_CENTRE_MM

    ph = phantoms[("moderate", slice_mm, 0)]
    f, brain = ph.flair.data, ph.brain.data > 0
    wm_f = np.median(f[brain & (ph.lesion.data == 0) & (ph.ventricles.data == 0)])

    world = np.indices(f.shape).reshape(3, -1).T @ ph.flair.affine[:3, :3].T + ph.flair.affine[:3, 3]

    def near(point_mm: tuple[float, float, float], radius_mm: float) -> np.ndarray:
        return (np.linalg.norm(world - point_mm, axis=1) <= radius_mm).reshape(f.shape)

    for side in (1.0, -1.0):
        centre = (side * GLOBE_CENTRE_MM[0], GLOBE_CENTRE_MM[1], GLOBE_CENTRE_MM[2])
        vitreous = near(centre, 5.0)
        assert vitreous.any() and np.median(f[vitreous]) < 0.4 * wm_f
        # Fat halfway from the globe to the apex, off the globe: as bright as a lesion.
        mid = tuple((np.array(centre) + np.array((side * APEX_MM[0], *APEX_MM[1:]))) / 2)
        fat = near(mid, 3.0)
        assert np.median(f[fat]) > 1.4 * wm_f
        for region in (vitreous, fat):
            assert not (region & brain).any() and not (region & (ph.lesion.data > 0)).any()


def test_other_contrasts_show_their_sequence_and_leave_flair_and_t1_unchanged(phantoms) -> None:
    plain = phantoms[("mild", 6.0, 0)]
    ph = make_phantom(PhantomConfig(seed=0, lesion_load="mild", slice_mm=6.0, other_contrasts=("t2", "pd", "dwi")))
    assert np.array_equal(ph.flair.data, plain.flair.data) and np.array_equal(ph.t1.data, plain.t1.data)
    assert sorted(ph.other) == ["dwi", "pd", "t2"]
    assert all(np.array_equal(v.affine, ph.flair.affine) for v in ph.other.values())
    brain = ph.brain.data > 0
    vent = ndi.binary_erosion(ph.ventricles.data > 0)
    tissue = brain & ~ndi.binary_dilation(ph.ventricles.data > 0, iterations=3) & (ph.lesion.data == 0)
    csf_over_tissue = {k: np.median(v.data[vent]) / np.median(v.data[tissue]) for k, v in ph.other.items()}
    assert csf_over_tissue["t2"] > 2.0  # CSF brightest
    assert 0.85 < csf_over_tissue["pd"] < 1.5  # CSF about as bright as tissue
    assert csf_over_tissue["dwi"] < 0.5  # CSF dark
    assert ph.other["t2"].source.endswith(" t2")


def test_bad_config_raises() -> None:
    for bad in (PhantomConfig(slice_mm=0.5), PhantomConfig(slice_mm=12.0), PhantomConfig(seed=-3),
                PhantomConfig(lesion_load="huge"), PhantomConfig(other_contrasts=("ct",))):  # type: ignore[arg-type]
        with pytest.raises(ConfigError):
            make_phantom(bad)


def test_write_phantom(phantoms, tmp_path) -> None:
    ph = phantoms[("mild", 6.0, 0)]
    paths = write_phantom(ph, tmp_path / "subject")
    expected = {"flair.nii.gz", "t1.nii.gz", "lesion.nii.gz", "lesion_class.nii.gz", "ventricles.nii.gz",
                "brainmask.nii.gz", "truth.json", "b12brain-manifest.json"}
    assert {p.name for p in paths.values()} == expected
    assert {p.name for p in (tmp_path / "subject").iterdir()} == expected
    flair = load_volume(paths["flair"])
    np.testing.assert_allclose(flair.affine, ph.flair.affine, atol=1e-5)
    np.testing.assert_array_equal(load_volume(paths["lesion_class"]).data, ph.lesion_class.data)
    assert json.loads(paths["truth"].read_text()) == ph.truth
    with pytest.raises(OutputError):
        write_phantom(ph, tmp_path / "subject")
    write_phantom(ph, tmp_path / "subject", overwrite=True)
