"""Per-class volume change measured jointly on the aligned visits (b12brain.followup.volume_change)."""

from __future__ import annotations

from datetime import date

import numpy as np
from scipy import ndimage as ndi

from b12brain.followup import compare_visits
from b12brain.followup.match import group_lesions
from b12brain.followup.volume_change import add_caps_lining, joint_volumes, measure_groups, own_full_contrast
from b12brain.followup.write import describe
from b12brain.phantom import PhantomConfig
from b12brain.phantom.followup import FollowupConfig, make_followup
from b12brain.phantom.generate import CLASS_NAMES

SHAPE = (48, 40, 24)


def _sphere(centre: tuple[int, int, int], radius: float) -> np.ndarray:
    """Lesion fraction of each 1 mm voxel: a ball blurred a little (its sum stays its volume)."""
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in SHAPE], indexing="ij"), axis=-1)
    ball = (np.linalg.norm(grid - np.asarray(centre), axis=-1) <= radius).astype(np.float64)
    return ndi.gaussian_filter(ball, 0.7)


def _scan(fraction: np.ndarray, seed: int) -> np.ndarray:
    """White matter at 100 (noise SD 3), lesion at 200."""
    rng = np.random.default_rng(seed)
    return (100.0 + 100.0 * fraction + rng.normal(0.0, 3.0, SHAPE)).astype(np.float32)


def test_a_known_change_is_measured_whatever_each_visit_segmented():
    grow_before, grow_after = _sphere((14, 20, 12), 4.0), _sphere((14, 20, 12), 6.0)
    stable = _sphere((34, 20, 12), 4.5)
    flairs = [_scan(grow_before + stable, 1), _scan(grow_after + stable, 2)]
    # The segmentations disagree on the stable lesion's edge: generous before, tight after.
    labels = []
    for grow, level in ((grow_before, 0.3), (grow_after, 0.8)):
        lab = np.zeros(SHAPE, dtype=np.int32)
        lab[grow >= 0.5] = 1
        lab[stable >= level] = 2
        labels.append(lab)
    groups, group_map = group_lesions(labels)
    joint = joint_volumes(flairs, labels, groups, group_map, (1.0, 1.0, 1.0), 0.001)
    by_name = {("grow" if 1 in ids[-1] else "stable"): ml for ids, ml in zip(groups, joint)}
    true_change = 4.0 / 3.0 * np.pi * (6.0**3 - 4.0**3) / 1000.0
    assert abs((by_name["grow"][1] - by_name["grow"][0]) - true_change) <= 0.1 * true_change
    stable_ml = 4.0 / 3.0 * np.pi * 4.5**3 / 1000.0
    assert abs(by_name["stable"][0] - stable_ml) <= 0.1 * stable_ml
    # The runs' own volumes would differ by a third; measured alike, the stable lesion stays.
    run_change = (np.count_nonzero(labels[1] == 2) - np.count_nonzero(labels[0] == 2)) / 1000.0
    assert abs(run_change) > 0.25 * stable_ml
    assert abs(by_name["stable"][1] - by_name["stable"][0]) <= 0.05 * stable_ml


def test_a_lesion_classified_differently_at_the_two_visits_is_no_change_of_class(tmp_path, builders, write_run_folder):
    blob = builders.make_blob()
    lesion = (slice(20, 24), slice(20, 24), slice(18, 21))
    labels = np.zeros(blob.shape, dtype=np.uint16)
    labels[lesion] = 1
    flairs = []
    for seed in (0, 1):
        flair = builders.make_blob(seed=seed)
        flair[lesion] += 600.0
        flairs.append(flair)
    a = write_run_folder(tmp_path / "a", flairs[0], labels, classes={1: "periventricular"})
    b = write_run_folder(tmp_path / "b", flairs[1], labels, classes={1: "deep"})
    result = compare_visits([a, b], dates=[date(2025, 1, 10), date(2025, 7, 2)])
    runs = result.ml_by_class()
    assert runs[1]["periventricular"] - runs[0]["periventricular"] < -0.3  # what each run's own figures say
    change = result.change_by_class()["since_previous"]
    lesion_ml = 4 * 4 * 3 * 0.008
    assert abs(change["periventricular"]) < 1e-9 and abs(change["deep"]) <= 0.05 * lesion_ml
    (group,) = result.groups
    assert group.lesion_class == "deep" and group.joint_ml[0] > 0.5 * lesion_ml
    document = describe(result)
    assert document["lesion_ml_change_by_class"]["since_previous"]["periventricular"] == 0.0
    assert [v["joint_lesion_ml_by_class"]["periventricular"] for v in document["visits"]] == [0.0, 0.0]
    assert "jointly" in document["rules"]["volume_change"]


def test_a_lesion_out_of_the_earlier_scans_view_is_not_measured_as_absent():
    lesion = _sphere((14, 20, 12), 4.0)
    flairs = [_scan(lesion, 1), _scan(lesion, 2)]
    flairs[0][:20] = 0.0  # the earlier scan did not cover this side (aligned, 0 outside its view)
    labels = [np.where(lesion >= 0.5, 1, 0).astype(np.int32)] * 2
    groups, group_map = group_lesions(labels)
    joint = joint_volumes(flairs, labels, groups, group_map, (1.0, 1.0, 1.0), 0.001)
    assert np.isnan(joint).all()


def _truth_labels(phantom) -> tuple[np.ndarray, dict[int, str]]:
    """A phantom's truth lesions as a run would list them: 26-connected lesions and their truth class."""
    labels, n = ndi.label(phantom.lesion.data > 0, structure=np.ones((3, 3, 3), dtype=bool))
    classes = {}
    for lesion_id in range(1, n + 1):
        values = phantom.lesion_class.data[labels == lesion_id]
        classes[lesion_id] = CLASS_NAMES[int(np.bincount(values[values > 0]).argmax())]
    return labels, classes


def test_a_phantom_pairs_per_class_change_is_measured_within_tolerance(tmp_path, write_run_folder):
    # A treatment response on 6 mm slices, the head moved, each visit "segmented" as its reader truth.
    pair = make_followup(FollowupConfig(PhantomConfig(seed=2, slice_mm=6.0)))
    runs = []
    for name, phantom in (("a", pair.baseline), ("b", pair.followup)):
        labels, classes = _truth_labels(phantom)
        runs.append(write_run_folder(tmp_path / name, phantom.flair.data, labels, affine=phantom.flair.affine,
                                     classes=classes))
    result = compare_visits(runs, dates=[date(2025, 1, 10), date(2025, 7, 2)])
    change = result.change_by_class()["since_previous"]
    # The segmentations are the reader truths, classed by the location rule (a fragment of the band
    # that the slices detach from the ventricles is deep): their change is the truth to meet here.
    truth = pair.truth["lesion_ml_change_by_class"]
    assert truth["deep"] < -1.0 and truth["periventricular"] < -1.0
    for name in ("periventricular", "deep"):
        assert abs(change[name] - truth[name]) <= 0.2 * abs(truth[name])
    # The runs' own volumes would be the reader truths themselves: the joint measurement is a
    # measurement of the images, not a copy of the masks.
    runs = result.ml_by_class()
    assert abs(change["deep"] - (runs[1]["deep"] - runs[0]["deep"])) > 0.01


def test_on_thick_slices_a_thin_lesion_is_measured_against_the_typical_full_contrast():
    # Three lesions filling their voxels (contrast 1), and one thinner than the slice: its voxels
    # hold half lesion, so its own brightest voxels show half the full contrast.
    shape = (60, 40, 8)
    fraction = np.zeros(shape)
    for x in (4, 18, 32):
        fraction[x:x + 7, 4:11, 3:5] = 1.0
    fraction[44:49, 20:25, 4] = 0.5
    rng = np.random.default_rng(0)
    flairs = [(100.0 + 100.0 * fraction + rng.normal(0.0, 2.0, shape)).astype(np.float32) for _ in range(2)]
    labels = np.zeros(shape, dtype=np.int32)
    for lesion_id, x in enumerate((4, 18, 32), start=1):
        labels[x:x + 7, 4:11, 3:5] = lesion_id
    labels[44:49, 20:25, 4] = 4
    groups, group_map = group_lesions([labels, labels])
    thin = next(i for i, ids in enumerate(groups) if ids[-1] == (4,))
    thin_ml = 25 * 0.5 * 0.006
    thick = measure_groups(flairs, [labels] * 2, groups, group_map, (1.0, 1.0, 6.0), 0.006)[thin]
    assert thick is not None and thick.typical
    assert abs(thick.volume_ml[0] - thin_ml) <= 0.15 * thin_ml
    # On thin slices a lesion's own estimate stands (there it would be a lesion of half the contrast).
    fine = measure_groups(flairs, [labels] * 2, groups, group_map, (1.0, 1.0, 1.0), 0.001)[thin]
    assert fine is not None and not fine.typical and fine.volume_ml[0] > 1.6 * 25 * 0.5 * 0.001


def test_a_lesion_whose_two_segmentations_differ_in_size_is_stable_on_the_aligned_scans(tmp_path, write_run_folder):
    lesion = _sphere((24, 20, 12), 5.0)
    runs = []
    # The same lesion, segmented generously at the first visit and tightly at the second: by the
    # runs' own volumes it shrank by more than a third.
    for name, level, seed in (("a", 0.1, 1), ("b", 0.9, 2)):
        flair = _scan(lesion, seed)
        flair[:4] = flair[-4:] = 0.0  # some air, so that the head has an edge to align
        labels = np.where(lesion >= level, 1, 0).astype(np.uint16)
        runs.append(write_run_folder(tmp_path / name, flair, labels, affine=np.diag([2.0, 2.0, 2.0, 1.0])))
    result = compare_visits(runs, dates=[date(2025, 1, 10), date(2025, 7, 2)])
    (group,) = result.groups
    assert group.volume_ml[1] < (1 - 1 / 3) * group.volume_ml[0]
    assert group.category == "stable" and "shrinking by the runs' own volumes" in group.note


def test_a_lesion_one_run_missed_but_its_aligned_scan_shows_is_enlarging_not_new(tmp_path, write_run_folder):
    # The first scan shows a small lesion that its run did not segment; the second shows it
    # larger. Its contrast over the second visit's footprint is faint at the first visit (the
    # image check leaves the call alone), but the aligned scans measure it present: not new.
    # A stable lesion beside it gives the alignment something to match.
    stable = _sphere((14, 20, 12), 5.0)
    runs = []
    for name, radius, seed in (("a", 2.5, 1), ("b", 5.0, 2)):
        grown = _sphere((34, 20, 12), radius)
        flair = _scan(stable + grown, seed)
        flair[:4] = flair[-4:] = 0.0
        labels = np.where(stable >= 0.5, 1, 0) + np.where((grown >= 0.5) & (name == "b"), 2, 0)
        runs.append(write_run_folder(tmp_path / name, flair, labels.astype(np.uint16), affine=np.diag([2.0, 2.0, 2.0, 1.0])))
    result = compare_visits(runs, dates=[date(2025, 1, 10), date(2025, 7, 2)])
    (group,) = [g for g in result.groups if g.lesion_ids == ((), (2,))]
    assert group.joint_ml[0] > 0.2
    assert group.category == "enlarging" and "new by the runs' own volumes" in group.note
    assert "absence" in result.rules()



def test_a_thickening_band_counts_the_lining_it_grew_from():
    # A pencil-thin band, which a run sets apart as lining, thickens: its middle into a
    # periventricular lesion, its ends a little (they stay lining). By the runs' own figures the
    # lesion gained the whole middle and the lining lost it; measured jointly, each gained what grew.
    def band(ends: int, middle: int) -> np.ndarray:
        drawn = np.zeros(SHAPE)
        drawn[8:40, 18:18 + ends, 8:16] = 1.0
        drawn[14:34, 18:18 + middle, 8:16] = 1.0
        return ndi.gaussian_filter(drawn, 0.7)

    before, after = band(2, 2), band(4, 6)
    flairs = [_scan(before, 1), _scan(after, 2)]
    lesion = (after >= 0.5) & (np.arange(SHAPE[0]) >= 14)[:, None, None] & (np.arange(SHAPE[0]) < 34)[:, None, None]
    labels = [np.zeros(SHAPE, dtype=np.int32), lesion.astype(np.int32)]
    caps = [before >= 0.5, (after >= 0.5) & ~lesion]
    groups, group_map = group_lesions(labels)
    with_caps = add_caps_lining(labels, groups, group_map, caps)
    assert with_caps[3] == 2  # the two ends
    joint = joint_volumes(flairs, *with_caps[:3], (1.0, 1.0, 1.0), 0.001, lesion_groups=len(groups))
    change = joint[:, 1] - joint[:, 0]
    lesion_change, lining_change = change[:len(groups)].sum(), change[len(groups):].sum()
    drawn, drawn_ends = 20 * 4 * 8 / 1000.0, 12 * 2 * 8 / 1000.0
    assert abs(lesion_change - drawn) <= 0.1 * drawn and abs(lining_change - drawn_ends) <= 0.25 * drawn_ends
    runs_lesion = (np.count_nonzero(labels[1]) - np.count_nonzero(labels[0])) / 1000.0
    runs_lining = (np.count_nonzero(caps[1]) - np.count_nonzero(caps[0])) / 1000.0
    assert runs_lesion > 1.3 * drawn and runs_lining < 0  # a loss of lining where it grew


def test_a_lesions_full_contrast_is_taken_on_its_own_grid_not_after_resampling():
    # A lesion filling two 6 mm slices, twice as bright as white matter. Carried half a slice
    # through-plane (linear interpolation), its slices mix with their neighbours and its core reads
    # lower: the estimate on the scan's own grid is the drawn contrast.
    shape, spacing = (48, 48, 12), (1.0, 1.0, 6.0)
    lesion = np.zeros(shape, dtype=bool)
    lesion[18:30, 18:30, 4:6] = True
    rng = np.random.default_rng(0)
    flair = (100.0 + 100.0 * lesion + rng.normal(0.0, 2.0, shape)).astype(np.float32)
    labels = lesion.astype(np.int32)
    ((own, from_core),) = own_full_contrast(flair, labels, [[1]], lesion, spacing)
    assert from_core and abs(own - 1.0) < 0.03
    moved = 0.5 * (flair + np.roll(flair, 1, axis=2))
    ((carried, _),) = own_full_contrast(moved, labels, [[1]], lesion, spacing)
    assert carried < 0.9 * own
    assert own_full_contrast(flair, labels, [[], [7]], lesion, spacing) == [None, None]  # absent at this visit
