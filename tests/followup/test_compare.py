"""compare_visits on a synthetic two-visit follow-up with known change, and its refusals."""

from __future__ import annotations

import json
import shutil
from datetime import date

import nibabel as nib
import numpy as np
import pytest

from b12brain.errors import InputFileError
from b12brain.followup import CHANGE_LABELS, compare_visits, write_followup
from b12brain.followup.write import FILE_NAMES, describe

DATES = [date(2025, 1, 10), date(2025, 7, 2)]


def _by_change(result, pair):
    """Category of the group holding each named lesion (by the visit where it exists)."""
    out = {}
    for group in result.groups:
        for name, lesion_id in pair.ids_b.items():
            if lesion_id in group.lesion_ids[1]:
                out[name] = group.category
        for name, lesion_id in pair.ids_a.items():
            if lesion_id in group.lesion_ids[0] and name not in out:
                out[name] = group.category
    return out


def test_known_changes_are_found_after_the_head_moved(tmp_path, make_pair):
    pair = make_pair(tmp_path)
    result = compare_visits([pair.a, pair.b], dates=DATES)
    assert _by_change(result, pair) == {"stable": "stable", "enlarging": "enlarging", "shrinking": "shrinking",
                                        "new": "new", "resolved": "resolved"}
    alignment = result.alignments[0]
    assert alignment is not None and alignment.good_enough
    assert np.allclose(np.abs(alignment.shift_mm), [3.0, 2.0, 2.0], atol=0.5)
    # The change map carries each category where the lesion is (resolved: where it was).
    labels_b = np.asarray(nib.load(pair.b / "lesion_labels.nii.gz").dataobj)
    for name, category in (("new", "new"), ("enlarging", "enlarging"), ("stable", "stable")):
        assert set(np.unique(result.change_map[labels_b == pair.ids_b[name]])) == {CHANGE_LABELS[category]}
    assert np.count_nonzero(result.change_map == CHANGE_LABELS["resolved"]) > 0
    assert any(w.code == "followup.identifiers_absent" for w in result.warnings)


def test_outputs_are_written_with_their_manifest(tmp_path, make_pair):
    pair = make_pair(tmp_path)
    result = compare_visits([pair.a, pair.b], dates=DATES)
    paths = write_followup(result, tmp_path / "out", treatment_start=date(2025, 2, 1))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([*FILE_NAMES, "b12brain-manifest.json"])
    document = json.loads(paths["followup.json"].read_text())
    assert document["categories"] == {"stable": 1, "enlarging": 1, "shrinking": 1, "new": 1, "resolved": 1}
    assert document["visits"][0]["registration"]["good_enough"] is True
    assert "not a diagnosis" in document["disclaimer"].lower() or "decision" in document["disclaimer"].lower()
    assert set(document["rules"]) == {"registration", "matching", "categories", "absence", "image_check", "comparability",
                                      "volume_change"}
    rows = paths["followup_lesions.csv"].read_text().splitlines()
    assert rows[0] == ("group,category,event,lesion_class,note,ids_2025-01-10,ml_2025-01-10,joint_ml_2025-01-10,"
                       "ids_2025-07-02,ml_2025-07-02,joint_ml_2025-07-02")
    assert len(rows) == 6


def test_a_lesion_the_segmenter_missed_at_one_visit_is_not_called_new(tmp_path, make_pair):
    """The baseline FLAIR shows the "new" lesion as brightly as the follow-up; only its mask lacks it."""
    pair = make_pair(tmp_path, unsegmented_before="new")
    result = compare_visits([pair.a, pair.b], dates=DATES)
    changes = _by_change(result, pair)
    assert changes["new"] == "stable" and changes["resolved"] == "resolved"
    (group,) = [g for g in result.groups if pair.ids_b["new"] in g.lesion_ids[1]]
    assert "contrast shows at both" in group.note


def test_three_visits_chain_and_compare_the_last_two(tmp_path, make_pair, builders, write_run_folder):
    pair = make_pair(tmp_path)
    flair_b = np.asarray(nib.load(tmp_path / "visit_b_flair.nii.gz").dataobj)
    labels_b = np.asarray(nib.load(pair.b / "lesion_labels.nii.gz").dataobj)
    affine_b = nib.load(pair.b / "lesion_labels.nii.gz").affine
    c = write_run_folder(tmp_path / "visit_c", flair_b + builders.make_blob(seed=2) * 0.01, labels_b, affine=affine_b)
    result = compare_visits([pair.a, pair.b, c], dates=[*DATES, date(2026, 1, 5)])
    assert result.category_counts() == {"stable": 4, "enlarging": 0, "shrinking": 0, "new": 0, "resolved": 0}
    (resolved,) = [g for g in result.groups if not g.lesion_ids[1] and not g.lesion_ids[2]]
    assert resolved.category == "absent" and resolved.lesion_ids[0] == (pair.ids_a["resolved"],)
    document = describe(result)
    assert document["category_between"] == ["2025-07-02", "2026-01-05"]
    assert document["lesion_ml_change_by_class"]["since_first"]["deep"] != document["lesion_ml_change_by_class"]["since_previous"]["deep"]


def test_dates_come_from_the_sidecar(tmp_path, make_pair):
    pair = make_pair(tmp_path, sidecar_a={"StudyDate": "20250110"},
                     sidecar_b={"AcquisitionDateTime": "2025-07-02T10:11:12"})
    result = compare_visits([pair.a, pair.b])
    assert result.dates == ["2025-01-10", "2025-07-02"]


@pytest.mark.parametrize(
    ("kwargs", "dates", "field"),
    [
        ({}, None, "no visit date"),
        ({"sidecar_a": {"StudyDate": "20250801"}, "sidecar_b": {"StudyDate": "20250110"}}, None, "is not after"),
        ({}, [date(2025, 1, 10)], "--dates"),
        ({"subject_a": {"PatientID": "P1"}, "subject_b": {"PatientID": "P2"}}, DATES, "PatientID differs between"),
        ({"subject_a": {"visit_date": "2025-07-02"}, "subject_b": {"visit_date": "2025-01-10"}}, None, "is not after"),
        ({"schema_b": "1.1"}, DATES, "schema_version"),
    ],
)
def test_bad_input_is_refused_naming_the_field(tmp_path, make_pair, kwargs, dates, field):
    pair = make_pair(tmp_path, **kwargs)
    with pytest.raises(InputFileError, match=field):
        compare_visits([pair.a, pair.b], dates=dates)


def test_different_ids_are_compared_only_when_allowed(tmp_path, make_pair):
    pair = make_pair(tmp_path, subject_a={"PatientID": "P1", "PatientName": "DOE^JANE"},
                     subject_b={"PatientID": "P2", "PatientName": "Doe Jane"})
    with pytest.raises(InputFileError) as refused:
        compare_visits([pair.a, pair.b], dates=DATES)
    # The field and both folders are named; the values never (messages reach stderr and logs).
    message = str(refused.value)
    assert "PatientID differs between" in message and str(pair.a) in message and str(pair.b) in message
    assert "P1" not in message.replace(str(tmp_path), "") and "P2" not in message.replace(str(tmp_path), "")
    assert "PatientName" not in message  # the same name, written another way
    result = compare_visits([pair.a, pair.b], dates=DATES, allow_different_ids=True)
    assert [w.code for w in result.warnings] == ["followup.identifiers_differ"]
    assert "--allow-different-ids" in result.warnings[0].message


def test_the_same_patient_and_the_run_dates_need_no_options(tmp_path, make_pair):
    pair = make_pair(tmp_path, subject_a={"PatientID": "PSEUDO-9", "visit_date": "2025-01-10"},
                     subject_b={"PatientID": "PSEUDO-9", "PatientBirthDate": "19500101", "visit_date": "2025-07-02",
                                "sources": {"visit_date": "--date"}})
    result = compare_visits([pair.a, pair.b])
    assert result.dates == ["2025-01-10", "2025-07-02"]
    assert "--date" in result.visits[1].date_source
    assert not [w for w in result.warnings if w.code.startswith("followup.identifiers")]


def test_a_run_without_identifiers_does_not_stop_the_others_being_compared(tmp_path, make_pair):
    pair = make_pair(tmp_path, subject_b={"PatientID": "P1"})
    third = shutil.copytree(pair.b, tmp_path / "visit_c")
    summary = json.loads((third / "summary.json").read_text())
    (third / "summary.json").write_text(json.dumps(summary | {"subject": {"PatientID": "P2"}}))
    with pytest.raises(InputFileError, match="PatientID differs between"):
        compare_visits([pair.a, pair.b, third], dates=[*DATES, date(2025, 12, 1)])
    result = compare_visits([pair.a, pair.b], dates=DATES)
    absent = [w for w in result.warnings if w.code == "followup.identifiers_absent"]
    assert len(absent) == 1 and absent[0].source == str(pair.a)


def test_a_different_model_is_reported_not_hidden(tmp_path, make_pair):
    pair = make_pair(tmp_path, settings_b={"segmenter": "learned", "model_sha256": "ab" * 32})
    result = compare_visits([pair.a, pair.b], dates=DATES)
    assert not result.comparable
    assert any(w.code == "followup.model_differs" and "model_sha256" in w.message for w in result.warnings)


@pytest.mark.parametrize("damage", ["missing_labels", "missing_caps", "caps_off_grid", "corrupt_summary", "changed_flair",
                                    "missing_flair"])
def test_a_damaged_run_folder_is_refused(tmp_path, make_pair, damage):
    pair = make_pair(tmp_path)
    if damage == "missing_labels":
        (pair.a / "lesion_labels.nii.gz").unlink()
        expected = "lesion_labels.nii.gz: is missing"
    elif damage == "missing_caps":
        (pair.a / "caps_lining_mask.nii.gz").unlink()
        expected = "caps_lining_mask.nii.gz: is missing"
    elif damage == "caps_off_grid":
        nib.save(nib.Nifti1Image(np.zeros((48, 48, 48), dtype=np.uint8), np.eye(4)), pair.a / "caps_lining_mask.nii.gz")
        expected = "caps_lining_mask.nii.gz: is not on the grid of the FLAIR"
    elif damage == "corrupt_summary":
        (pair.a / "summary.json").write_text('{"schema_version": "1.3", "inputs": [')
        expected = "summary.json: is not valid JSON"
    elif damage == "changed_flair":
        flair = tmp_path / "visit_a_flair.nii.gz"
        flair.write_bytes(flair.read_bytes() + b"\0")
        expected = "SHA-256 differs"
    else:
        (tmp_path / "visit_a_flair.nii.gz").rename(tmp_path / "moved.nii.gz")
        expected = "--image"
    with pytest.raises(InputFileError, match=expected):
        compare_visits([pair.a, pair.b], dates=DATES)


def test_a_moved_flair_is_accepted_when_checksums_match(tmp_path, make_pair):
    pair = make_pair(tmp_path)
    moved = tmp_path / "elsewhere.nii.gz"
    (tmp_path / "visit_a_flair.nii.gz").rename(moved)
    result = compare_visits([pair.a, pair.b], dates=DATES, images={pair.a: moved})
    assert result.visits[0].flair_path == moved
    with pytest.raises(InputFileError, match="not one of the run folders"):
        compare_visits([pair.a, pair.b], dates=DATES, images={tmp_path / "other": moved})


def test_scans_that_do_not_overlap_are_refused(tmp_path, make_pair, builders, write_run_folder):
    """An earlier scan that covers a small part of the head cannot be compared with the whole head."""
    pair = make_pair(tmp_path)
    slab = builders.make_blob()[:22, :22, :]
    early = write_run_folder(tmp_path / "slab", slab, np.zeros(slab.shape, dtype=np.uint16))
    with pytest.raises(InputFileError, match="does not overlap the reference scan"):
        compare_visits([early, pair.b], dates=DATES)
