"""The derivative dataset's names follow the BIDS schema's derivative rules; its folder is b12brain's own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from b12brain.cohort.bids_derivative import (
    BIDSIGNORE,
    dataset_description,
    derivative_names,
    prepare_derivative,
)
from b12brain.cohort.bids_index import ScanJob
from b12brain.errors import OutputError


@pytest.fixture(scope="module")
def derivative_rules() -> list[re.Pattern[str]]:
    """The file-name rules of BIDS derivatives and of every dataset, from the official schema
    (bidsschematools; the PyPI bids-validator checks raw datasets only)."""
    from bidsschematools import rules, schema

    bids = schema.load_schema()
    found = rules.regexify_filename_rules(bids.rules.files.deriv, bids, level=2)
    found += rules.regexify_filename_rules(bids.rules.files.common, bids, level=2)
    return [re.compile(rule["regex"]) for rule in found]


@pytest.mark.parametrize("job", [ScanJob("sub-01"), ScanJob("sub-tom2", "baseline")], ids=["no session", "session"])
def test_every_image_and_table_has_a_bids_derivative_name(job: ScanJob, derivative_rules: list[re.Pattern[str]]) -> None:
    folder = f"{job.participant_id}/" + (f"ses-{job.session_id}/" if job.session_id else "")
    names = derivative_names(job)
    for role, name in names.items():
        path = folder + name
        if name.startswith("figures/"):  # BIDS has no rule for figures: listed in .bidsignore
            assert "figures" in BIDSIGNORE.splitlines()
            continue
        assert any(rule.match(path) for rule in derivative_rules), f"{role}: {path} is not a BIDS derivative name"
        assert Path(name).name.startswith(job.key + "_space-orig_")
    assert any(rule.match("dataset_description.json") for rule in derivative_rules)
    assert not any(rule.match(folder + "anat/" + job.key + "_desc-lesions_table.tsv") for rule in derivative_rules)


def test_dataset_description_declares_a_derivative_with_its_generator(tmp_path: Path) -> None:
    document = dataset_description(tmp_path / "raw", is_bids=True, segmenter="learned", model_sha256="ab" * 32)
    assert document["DatasetType"] == "derivative"
    generated = document["GeneratedBy"][0]
    assert generated["Name"] == "b12brain" and generated["ModelSHA256"] == "ab" * 32 and generated["Version"]
    assert document["SourceDatasets"] == [{"URL": (tmp_path / "raw").as_uri()}]
    classical = dataset_description(tmp_path, is_bids=False, segmenter="classical", model_sha256=None)["GeneratedBy"][0]
    assert "ModelSHA256" not in classical and "classical segmenter" in classical["Description"]


def test_output_folder_must_be_empty_or_b12brains_own(tmp_path: Path) -> None:
    description = dataset_description(tmp_path / "raw", is_bids=True, segmenter="classical", model_sha256=None)
    out = tmp_path / "out"
    prepare_derivative(out, description)
    assert json.loads((out / "dataset_description.json").read_text()) == description
    assert (out / ".bidsignore").read_text() == BIDSIGNORE
    prepare_derivative(out, description)  # its own: accepted again
    learned = dataset_description(tmp_path / "raw", is_bids=True, segmenter="learned", model_sha256="ab" * 32)
    with pytest.raises(OutputError, match="another b12brain version, segmenter, model"):
        prepare_derivative(out, learned)  # never mixes results of two models
    assert json.loads((out / "dataset_description.json").read_text()) == description

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="no dataset_description.json"):
        prepare_derivative(foreign, description)
    other = tmp_path / "fmriprep"
    other.mkdir()
    (other / "dataset_description.json").write_text('{"GeneratedBy": [{"Name": "fMRIPrep"}]}')
    with pytest.raises(OutputError, match="another derivative dataset"):
        prepare_derivative(other, description)
    assert (foreign / "notes.txt").read_text() == "mine" and not (foreign / "dataset_description.json").exists()
