"""One real run (6 mm phantom, classical segmenter, the example labs and answers) shared by the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from b12brain.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory, pango: None) -> Path:
    """The output folder of `b12brain run` with --labs and --symptoms (made once, about 20 s)."""
    root = tmp_path_factory.mktemp("report")
    assert main(["phantom", "--out", str(root / "phantom"), "--seed", "7", "--slice-mm", "6"]) == 0
    assert main(["run", "--flair", str(root / "phantom" / "flair.nii.gz"), "--out", str(root / "run"),
                 "--segmenter", "classical", "--labs", str(EXAMPLES / "panel.json"),
                 "--symptoms", str(EXAMPLES / "answers.json"), "--quiet"]) == 0
    return root / "run"
