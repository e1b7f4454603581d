"""``b12brain run`` does each thing once: every scan read once, the segmenter built once, the
T1's overlap with the FLAIR checked once (the pipeline uses the scans and segmenter it is given)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import b12brain
from b12brain.cli.main import main
from b12brain.errors import ConfigError
from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.pipeline import PipelineConfig, read_scans, run_pipeline
from b12brain.segment import SEGMENTERS, get_segmenter

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scans_on_disk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("scan")
    phantom = make_phantom(PhantomConfig(seed=3, lesion_load="mild", slice_mm=6.0))
    flair = b12brain.save_nifti(phantom.flair.data, phantom.flair.affine, folder / "flair.nii.gz")
    t1 = b12brain.save_nifti(phantom.t1.data, phantom.t1.affine, folder / "t1.nii.gz")
    return flair, t1


def _counting(calls: Counter[str], key: str, function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[key] += 1
        return function(*args, **kwargs)

    return wrapper


def test_run_reads_each_scan_builds_the_segmenter_and_checks_overlap_once(
    scans_on_disk: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import b12brain.io.load
    import b12brain.pipeline

    flair, t1 = scans_on_disk
    calls: Counter[str] = Counter()
    reader = b12brain.io.load.load_nifti
    monkeypatch.setattr(b12brain.io.load, "load_nifti", lambda path, **kw: _counting(calls, Path(path).name, reader)(path, **kw))
    monkeypatch.setattr(b12brain.pipeline, "check_overlap", _counting(calls, "overlap", b12brain.pipeline.check_overlap))
    monkeypatch.setitem(SEGMENTERS, "classical", _counting(calls, "segmenter", SEGMENTERS["classical"]))

    code = main(["run", "--flair", str(flair), "--t1", str(t1), "--out", str(tmp_path / "out"), "--segmenter", "classical"])

    assert code == 0, capsys.readouterr().err
    assert calls == {"flair.nii.gz": 1, "t1.nii.gz": 1, "overlap": 1, "segmenter": 1}


def test_pipeline_refuses_a_segmenter_other_than_the_configured_one(scans_on_disk: tuple[Path, Path]) -> None:
    scans = read_scans(scans_on_disk[0])
    with pytest.raises(ConfigError, match="'classical' given for a configuration naming 'learned'"):
        run_pipeline(scans, config=PipelineConfig(segmenter="learned"), segmenter=get_segmenter("classical"))
    with pytest.raises(ConfigError, match="T1 was given beside Scans"):
        run_pipeline(scans, scans_on_disk[1], config=PipelineConfig(segmenter="classical"))
