"""Compare the run folders of several visits of one patient: :func:`compare_visits`.

The latest visit is the reference: every earlier FLAIR (checked against its run's SHA-256) is
aligned to it (:mod:`b12brain.followup.register`), every earlier lesion label map is carried
onto its grid, lesions are grouped across visits and categorised
(:mod:`b12brain.followup.match`), and per-class volumes are compared. What makes volumes not
directly comparable (slice thickness, field strength, segmenter model, poor registration) is
reported as a warning, never hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.errors import InputFileError
from b12brain.followup.contrast import CONFIRM_RULE, seen_at_both
from b12brain.followup.match import ABSENCE_RULE, CATEGORY_RULE, MATCH_RULE, SIZE_CATEGORIES, LesionGroup, categorise, group_lesions
from b12brain.followup.register import QUALITY_RULE, Alignment, align_to_reference, load_checked_flair, resample_to_reference
from b12brain.followup.visits import Visit, read_visit
from b12brain.followup.volume_change import JOINT_RULE, add_caps_lining, joint_volumes, own_full_contrast
from b12brain.quantify.lesions import LESION_CLASSES
from b12brain.subject import PATIENT_FIELDS, differing_fields
from b12brain.types import QCWarning, Volume

#: Slice thicknesses that differ by more than this (mm) make volumes not directly comparable [U].
SLICE_TOLERANCE_MM = 0.5


@dataclass(frozen=True, eq=False)
class FollowupResult:
    """What :func:`compare_visits` found; :func:`~b12brain.followup.write.write_followup` writes it.

    ``alignments[k]`` aligns visit ``k`` to the reference (None for the reference itself);
    ``groups`` are the lesion groups; ``group_map`` and ``change_map`` lie on ``reference``'s grid
    (``change_map`` values: :data:`~b12brain.followup.match.CHANGE_LABELS`); ``aligned_flairs``
    and ``aligned_labels`` hold every visit's FLAIR and lesion labels on that grid;
    ``joint_caps_lining_ml`` the caps/lining volume of each visit measured on it.
    """

    visits: tuple[Visit, ...]
    reference: Volume
    alignments: tuple[Alignment | None, ...]
    groups: tuple[LesionGroup, ...]
    group_map: npt.NDArray[np.int32]
    change_map: npt.NDArray[np.uint8]
    aligned_flairs: tuple[npt.NDArray[np.float32], ...]
    aligned_labels: tuple[npt.NDArray[np.int32], ...]
    comparable: bool
    joint_caps_lining_ml: tuple[float, ...]
    warnings: tuple[QCWarning, ...] = field(default=())

    @property
    def dates(self) -> list[str]:
        return [v.date.isoformat() for v in self.visits]

    def ml_by_class(self) -> list[dict[str, float]]:
        """Lesion volume per class (and caps/lining apart) at each visit, mL, as each run measured it."""
        return [v.ml_by_class(LESION_CLASSES) for v in self.visits]

    def joint_ml_by_class(self) -> list[dict[str, float]]:
        """Lesion volume per class (and caps/lining apart) at each visit, mL, measured jointly on the
        reference grid (:data:`~b12brain.followup.volume_change.JOINT_RULE`; groups without a joint
        volume left out)."""
        totals = [dict.fromkeys(LESION_CLASSES, 0.0) | {"caps_lining": caps} for caps in self.joint_caps_lining_ml]
        for group in self.groups:
            if group.joint_ml and not np.isnan(group.joint_ml).any():
                for visit, ml in zip(totals, group.joint_ml):
                    visit[group.lesion_class] = visit.get(group.lesion_class, 0.0) + ml
        return totals

    def change_by_class(self) -> dict[str, dict[str, float]]:
        """Per-class lesion volume change (mL), caps/lining apart, ``since_previous`` and ``since_first``
        visit, from the joint volumes."""
        joint = self.joint_ml_by_class()
        return {name: {c: joint[-1][c] - joint[k][c] for c in joint[-1]} for name, k in (("since_previous", -2), ("since_first", 0))}

    def category_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("stable", "enlarging", "shrinking", "new", "resolved"), 0)
        for group in self.groups:
            if group.category in counts:
                counts[group.category] += 1
        return counts

    def rules(self) -> dict[str, str]:
        return {"registration": QUALITY_RULE, "matching": MATCH_RULE, "categories": CATEGORY_RULE, "absence": ABSENCE_RULE,
                "image_check": CONFIRM_RULE,
                "volume_change": JOINT_RULE + "; each visit's lesion_ml_by_class is as its run measured it",
                "comparability": f"b12brain's own rule [U]: volumes are not directly comparable when slice "
                f"thickness differs by more than {SLICE_TOLERANCE_MM} mm, field strength differs, the segmenter, "
                "its model SHA-256 or its settings differ, or registration is too poor"}


Progress = Callable[[str], None]


def compare_visits(
    run_dirs: Sequence[Path | str],
    *,
    dates: Sequence[date] | None = None,
    images: dict[Path, Path] | None = None,
    allow_different_ids: bool = False,
    progress: Progress | None = None,
) -> FollowupResult:
    """Compare two or more visits (run folders, earliest first; the last is the reference).

    Parameters
    ----------
    run_dirs : sequence of path
        Output folders of ``b12brain run``, in the order of the scans.
    dates : sequence of date, optional
        One per run; default: each folder's ``flair.json`` date.
    images : dict of Path to Path, optional
        Run folder -> where its FLAIR is now, when it moved since the run.
    allow_different_ids : bool
        Compare runs whose patient identifiers differ (with a warning) instead of refusing.

    Raises
    ------
    InputFileError
        A run folder is incomplete or inconsistent, a date is missing or out of order, patient
        identifiers differ, a FLAIR's checksum differs, or the scans do not overlap.
    RegistrationError
        An alignment failed.
    """
    say = progress or (lambda _: None)
    if len(run_dirs) < 2:
        raise InputFileError(str(run_dirs[0]) if run_dirs else "(runs)", "a follow-up needs at least two run folders")
    if dates is not None and len(dates) != len(run_dirs):
        raise InputFileError("--dates", f"gives {len(dates)} dates for {len(run_dirs)} run folders; give one per run")
    images = {Path(k).absolute(): Path(v) for k, v in (images or {}).items()}
    unknown = set(images) - {Path(run).absolute() for run in run_dirs}
    if unknown:
        raise InputFileError(sorted(unknown)[0], "is given with --image but is not one of the run folders compared; "
                             "write --image RUN=PATH with RUN as given on the command line")
    visits = [read_visit(run, visit_date=dates[i] if dates else None, image=images.get(Path(run).absolute()))
              for i, run in enumerate(run_dirs)]
    for earlier, later in zip(visits, visits[1:]):
        if later.date <= earlier.date:
            raise InputFileError(later.run_dir, f"visit date {later.date} ({later.date_source}) is not after "
                                 f"{earlier.date} of {earlier.run_dir}; give the runs earliest first, one per date")
    warnings = _identifier_warnings(visits, allow_different_ids) + _protocol_warnings(visits)
    reference = load_checked_flair(visits[-1])
    ref_labels = _load_labels(visits[-1], reference).astype(np.int32)
    labels: list[npt.NDArray[np.int32]] = []
    caps: list[npt.NDArray[np.bool_]] = []
    natives: list[tuple[Volume, npt.NDArray[np.int32], npt.NDArray[np.bool_]]] = []  # each visit on its own grid
    alignments: list[Alignment | None] = []
    flairs: list[npt.NDArray[np.float32]] = []
    for visit in visits[:-1]:
        say(f"aligning {visit.run_dir} to {visits[-1].run_dir}")
        moving = load_checked_flair(visit)
        alignment = align_to_reference(moving, reference)
        alignments.append(alignment)
        flairs.append(alignment.aligned)
        native = _load_labels(visit, moving).astype(np.int32)
        native_caps = _load_on_grid(visit.caps_lining_path, moving, visit.flair_path) > 0
        natives.append((moving, native, native_caps))
        carried = np.asarray(resample_to_reference(native, moving, reference, alignment.transform, nearest=True),
                             dtype=np.int32)
        labels.append(carried)
        caps.append(np.asarray(resample_to_reference(native_caps.astype(np.uint8), moving, reference, alignment.transform,
                                                     nearest=True)) > 0)
        lost = set(visit.lesion_ml) - set(np.flatnonzero(np.bincount(carried.ravel())).tolist())
        if lost:
            warnings.append(QCWarning("followup.lesions_off_grid", str(visit.run_dir), f"{len(lost)} lesion(s) of "
                            f"{visit.run_dir} ({sum(visit.lesion_ml[i] for i in lost):.3f} mL) fall between the "
                            "reference's slices or outside its field of view and are not matched"))
        if not alignment.good_enough:
            warnings.append(QCWarning("followup.registration_poor", str(visit.run_dir), f"registration of "
                            f"{visit.run_dir} to the reference is too poor to compare (normalised correlation "
                            f"{alignment.correlation:.2f}); its lesions are not categorised"))
    labels.append(ref_labels)
    caps.append(_load_on_grid(visits[-1].caps_lining_path, reference, visits[-1].flair_path) > 0)
    natives.append((reference, ref_labels, caps[-1]))
    alignments.append(None)
    flairs.append(reference.data.astype(np.float32))
    say("matching lesions across visits")
    groups, group_map = group_lesions(labels)
    usable = alignments[-2] is None or alignments[-2].good_enough
    result_groups = [_group(g, i, visits, usable) for i, g in enumerate(groups, start=1)]
    result_groups = _confirm_on_images(result_groups, group_map, labels, flairs)
    say("measuring volume change on the aligned scans")
    # Caps/lining pieces are measured with the lesion groups, by the same rule (see JOINT_RULE).
    with_caps = add_caps_lining(labels, [g.lesion_ids for g in result_groups], group_map, caps)
    own = [own_full_contrast(volume.data, native, [g.lesion_ids[k] for g in result_groups], (native > 0) | native_caps,
                             volume.spacing_mm) for k, (volume, native, native_caps) in enumerate(natives)]
    measured = joint_volumes(flairs, *with_caps[:3], reference.spacing_mm, reference.voxel_volume_ml,
                             lesion_groups=len(result_groups), own_contrasts=own)
    joint, caps_joint = measured[:len(result_groups)], measured[len(result_groups):]
    caps_ml = tuple(float(v) for v in caps_joint[~np.isnan(caps_joint).any(axis=1)].sum(axis=0))
    result_groups = [replace(g, joint_ml=tuple(float(v) for v in ml)) for g, ml in zip(result_groups, joint)]
    result_groups = [_size_change_on_aligned_scans(g, visits) for g in result_groups]
    unmeasured = [g for g in result_groups if np.isnan(g.joint_ml).any()]
    if unmeasured:
        share = sum(max(g.volume_ml) for g in unmeasured)
        warnings.append(QCWarning("followup.volume_change_partial", str(visits[-1].run_dir), f"{len(unmeasured)} "
                                  f"lesion group(s) ({share:.2f} mL at their largest) could not be measured on the "
                                  "aligned scans (out of an earlier scan's view, or no surroundings or contrast to "
                                  "measure against): the per-class change leaves them out"))
    change_map = _change_map(result_groups, group_map, labels)
    comparable = not any(w.code.startswith(("followup.protocol", "followup.model", "followup.registration"))
                         for w in warnings)
    return FollowupResult(tuple(visits), reference, tuple(alignments), tuple(result_groups), group_map,
                          change_map, tuple(flairs), tuple(labels), comparable, caps_ml, tuple(warnings))


def _load_on_grid(path: Path, flair: Volume, flair_path: Path) -> npt.NDArray[np.float32]:
    """A run's image on the grid of its FLAIR (refused if it is not)."""
    from b12brain.io import load_volume

    volume = load_volume(path, allow_constant=True)
    if volume.shape != flair.shape or not np.allclose(volume.affine, flair.affine, atol=1e-3):
        raise InputFileError(path, f"is not on the grid of the FLAIR {flair_path}; give the run's "
                             "own FLAIR (--image) or rerun `b12brain run`")
    return np.asarray(volume.data, dtype=np.float32)


def _load_labels(visit: Visit, flair: Volume) -> npt.NDArray[np.integer]:
    data = np.rint(_load_on_grid(visit.labels_path, flair, visit.flair_path)).astype(np.int32)
    if data.min() < 0:
        raise InputFileError(visit.labels_path, "holds negative lesion ids; rerun `b12brain run`")
    unknown = set(np.flatnonzero(np.bincount(data.ravel())).tolist()) - set(visit.lesion_ml) - {0}
    if unknown:
        raise InputFileError(visit.labels_path, f"holds lesion ids {sorted(unknown)[:5]} that lesions.csv does not "
                             "list; the run folder was changed: rerun `b12brain run`")
    return data


def _group(ids: list[tuple[int, ...]], group_id: int, visits: list[Visit], usable: bool) -> LesionGroup:
    volumes = tuple(sum(v.lesion_ml[i] for i in lesion_ids) for v, lesion_ids in zip(visits, ids))
    category = categorise(volumes[-2], volumes[-1], visits[-2].voxel_ml, visits[-1].voxel_ml) if usable else "not compared"
    # The class of the group: its class at the latest visit that has it.
    latest = next(k for k in range(len(visits) - 1, -1, -1) if ids[k])
    classes = [visits[latest].lesion_class[i] for i in ids[latest]]
    return LesionGroup(group_id, tuple(ids), volumes, category, max(set(classes), key=classes.count))


def _size_change_on_aligned_scans(group: LesionGroup, visits: list[Visit]) -> LesionGroup:
    """A group's change by its volumes measured on the aligned scans
    (:data:`~b12brain.followup.volume_change.JOINT_RULE`) where they were measured: a group present
    at both visits is enlarging, shrinking or stable by them, as the runs' own volumes also differ
    by where two separate segmentations put its edge (on thick slices often by half a small
    lesion); a group that one run missed (new, resolved by the runs) is new or resolved only when
    the aligned scans find it absent there too (:data:`~b12brain.followup.match.ABSENCE_RULE`),
    else it takes its size change. The aligned scans never make a group new or resolved."""
    if group.category not in (*SIZE_CATEGORIES, "new", "resolved") or len(group.joint_ml) < 2 \
            or np.isnan(group.joint_ml[-2:]).any():
        return group
    category = categorise(group.joint_ml[-2], group.joint_ml[-1], visits[-2].voxel_ml, visits[-1].voxel_ml)
    if category not in SIZE_CATEGORIES or category == group.category:
        return group
    note = (f"{group.category} by the runs' own volumes, {category} on the aligned scans"
            + (" (the run that missed it: present on its aligned scan)" if group.category in ("new", "resolved") else ""))
    return replace(group, category=category, note="; ".join(n for n in (group.note, note) if n))


def _confirm_on_images(groups: list[LesionGroup], group_map: npt.NDArray[np.int32],
                       labels: Sequence[npt.NDArray[np.integer]],
                       flairs: Sequence[npt.NDArray[np.float32]]) -> list[LesionGroup]:
    """New/resolved calls that the images contradict become stable (:mod:`b12brain.followup.contrast`)."""
    boxes = ndi.find_objects(group_map)
    out = []
    for group in groups:
        box = boxes[group.id - 1] if group.id <= len(boxes) else None
        if group.category not in ("new", "resolved") or box is None:
            out.append(group)
            continue
        box = tuple(slice(max(s.start - 3, 0), s.stop + 3) if k < 2 else s for k, s in enumerate(box))
        ids = group.lesion_ids
        footprint = np.isin(labels[-1][box], ids[-1]) | np.isin(labels[-2][box], ids[-2])
        before, after = flairs[-2][box], flairs[-1][box]
        without, with_ = (before, after) if group.category == "new" else (after, before)
        if seen_at_both(without, with_, footprint):
            out.append(replace(group, category="stable", note=f"segmented at one visit only, but its FLAIR "
                               f"contrast shows at both: not called {group.category}"))
        else:
            out.append(group)
    return out


def _change_map(groups: list[LesionGroup], group_map: npt.NDArray[np.int32],
                labels: Sequence[npt.NDArray[np.integer]]) -> npt.NDArray[np.uint8]:
    from b12brain.followup.match import CHANGE_LABELS

    lookup = np.zeros(len(groups) + 1, dtype=np.uint8)
    for group in groups:
        lookup[group.id] = CHANGE_LABELS.get(group.category, 0)
    change = lookup[group_map]
    # A resolved lesion shows where it was at the previous visit; the others where they are now.
    where_now = (labels[-1] > 0) | (change == CHANGE_LABELS["resolved"])
    if len(labels) > 1:
        where_now &= (labels[-1] > 0) | (labels[-2] > 0)
    return np.where(where_now, change, 0).astype(np.uint8)


def _identifier_warnings(visits: list[Visit], allow_different: bool) -> list[QCWarning]:
    """Refuse runs whose patient identifiers differ (warn instead with ``allow_different``); warn
    about runs that record none. Values are never quoted: the messages reach stderr."""
    out = []
    absent = ", ".join(str(v.run_dir) for v in visits if not v.identifiers)
    if absent:
        out.append(QCWarning("followup.identifiers_absent", absent, f"no patient identifiers ({', '.join(PATIENT_FIELDS)}) "
                             f"recorded in {absent}: b12brain cannot check that these scans are of one patient "
                             "(`b12brain run --patient-id` records one for a NIfTI scan)"))
    present = [v for v in visits if v.identifiers]
    for k, later in enumerate(present):
        for earlier in present[:k]:
            differing = differing_fields(earlier.identifiers, later.identifiers)
            if not differing:
                continue
            problem = (f"{' and '.join(differing)} differ{'s' if len(differing) == 1 else ''} between "
                       f"{earlier.run_dir} and {later.run_dir} (values not shown)")
            if not allow_different:
                raise InputFileError(later.run_dir / "summary.json", f"{problem}: these may be scans of different "
                                     "patients; check the run folders, or pass --allow-different-ids if they are of "
                                     "the same person (e.g. a new hospital number)")
            out.append(QCWarning("followup.identifiers_differ", str(later.run_dir), f"{problem}; compared anyway "
                                 "(--allow-different-ids): check that these are scans of one patient"))
    return out


def _protocol_warnings(visits: list[Visit]) -> list[QCWarning]:
    out = []
    ref = visits[-1]
    for visit in visits[:-1]:
        if abs(visit.slice_mm - ref.slice_mm) > SLICE_TOLERANCE_MM:
            out.append(QCWarning("followup.protocol_slice", str(visit.run_dir), f"slice thickness {visit.slice_mm:g} mm "
                       f"differs from the reference's {ref.slice_mm:g} mm: volumes not directly comparable"))
        if visit.field_t is not None and ref.field_t is not None and abs(visit.field_t - ref.field_t) > 0.1:
            out.append(QCWarning("followup.protocol_field", str(visit.run_dir), f"field strength {visit.field_t:g} T "
                       f"differs from the reference's {ref.field_t:g} T: volumes not directly comparable"))
        differing = [k for k in ("segmenter", "model_sha256", "threshold", "min_lesion_ml")
                     if visit.model.get(k) != ref.model.get(k)]
        if differing:
            detail = ", ".join(f"{k} {visit.model.get(k)!r} vs {ref.model.get(k)!r}" for k in differing)
            out.append(QCWarning("followup.model_differs", str(visit.run_dir), f"segmentation differs from the "
                       f"reference's ({detail}): volumes not directly comparable"))
    return out
