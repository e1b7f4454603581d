"""``b12brain run`` (the packaged model, and ``--model``) on a 6 mm phantom in a Python that
cannot import torch.

Inference needs onnxruntime only; torch is a training extra. The run happens in a subprocess
whose import system refuses (and records) every attempt to import torch, so a passing run
proves that neither b12brain nor onnxruntime reached for it. The error paths of ``--model``
run in-process through ``main([...])``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from b12brain.cli.main import main
from b12brain.phantom import PhantomConfig, make_phantom, write_phantom
from b12brain.segment.learned import PACKAGED_MODEL, write_checksum

pytestmark = pytest.mark.slow

#: The child: block torch at the import system (recording attempts), run the CLI, report.
CHILD = textwrap.dedent(
    """
    import json, sys

    attempts = []

    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                attempts.append(name)
                raise ImportError(f"torch is blocked in this test ({name})")
            return None

    sys.modules.pop("torch", None)
    sys.meta_path.insert(0, NoTorch())
    from b12brain.cli.main import main

    code = main(sys.argv[1:])
    print(json.dumps({"torch_attempts": attempts, "onnxruntime": "onnxruntime" in sys.modules}))
    sys.exit(code)
    """
)


def save_threshold_model(path: Path) -> Path:
    """A 1×1 convolution: logit = 12 × (centre-slice normalised FLAIR − 1.3); with its .sha256."""
    weight = np.zeros((1, 3, 1, 1), np.float32)
    weight[0, 1] = 12.0
    graph = helper.make_graph(
        [helper.make_node("Conv", ["stacks", "w", "b"], ["logits"])],
        "threshold",
        [helper.make_tensor_value_info("stacks", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1, "height", "width"])],
        [helper.make_tensor("w", TensorProto.FLOAT, weight.shape, weight.ravel()),
         helper.make_tensor("b", TensorProto.FLOAT, [1], [-12.0 * 1.3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    write_checksum(path)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    phantom = make_phantom(PhantomConfig(seed=5, lesion_load="moderate", slice_mm=6.0))
    flair = write_phantom(phantom, folder / "phantom")["flair"]
    return flair, save_threshold_model(folder / "threshold.onnx")


@pytest.mark.parametrize("packaged", [True, False], ids=["packaged-model", "--model"])
def test_run_needs_no_torch(inputs: tuple[Path, Path], tmp_path: Path, packaged: bool) -> None:
    flair, model = inputs
    out = tmp_path / "result"
    argv = ["run", "--flair", str(flair), "--out", str(out), "--quiet"] + ([] if packaged else ["--model", str(model)])
    child = subprocess.run(
        [sys.executable, "-c", CHILD, *argv], check=False, capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report == {"torch_attempts": [], "onnxruntime": True}
    for name in ("lesion_mask.nii.gz", "lesion_prob.nii.gz", "lesion_labels.nii.gz", "lesions.csv", "summary.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["segmenter"] == "learned"  # the default, and implied by --model
    assert summary["settings"]["model"] == str(PACKAGED_MODEL if packaged else model.resolve())
    # The packaged model's own threshold (its JSON record); 0.5 for a model that has none.
    expected = json.loads(PACKAGED_MODEL.with_suffix(".json").read_text())["threshold"] if packaged else 0.5
    assert summary["settings"]["threshold"] == expected
    assert summary["lesions"]["lesion_count"] > 0  # the phantom's lesions are bright: a cut finds them


def test_missing_model_is_exit_2_before_any_work(
    inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flair, _ = inputs
    out = tmp_path / "result"
    missing = tmp_path / "absent.onnx"
    assert main(["run", "--flair", str(flair), "--out", str(out), "--model", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{missing}: model file not found" in err
    assert not out.exists()


def test_model_file_without_checksum_is_exit_2(inputs: tuple[Path, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    flair, model = inputs
    unsigned = tmp_path / "unsigned.onnx"
    unsigned.write_bytes(model.read_bytes())
    assert main(["run", "--flair", str(flair), "--out", str(tmp_path / "r"), "--model", str(unsigned)]) == 2
    assert "unsigned.onnx.sha256: checksum file missing" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_model_with_classical_segmenter_is_exit_2(inputs: tuple[Path, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    flair, model = inputs
    argv = ["run", "--flair", str(flair), "--out", str(tmp_path / "r"),
            "--segmenter", "classical", "--model", str(model)]
    assert main(argv) == 2
    assert "takes no model file; use --segmenter learned" in capsys.readouterr().err


def test_learned_without_shipped_weights_is_exit_2(inputs: tuple[Path, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from b12brain.segment import learned

    monkeypatch.setattr(learned, "PACKAGED_MODEL", tmp_path / "wmh_unet.onnx")  # a wheel built without it
    flair, _ = inputs
    assert main(["run", "--flair", str(flair), "--out", str(tmp_path / "r"), "--segmenter", "learned"]) == 2
    err = capsys.readouterr().err
    assert "no trained weights shipped" in err and "--segmenter classical or --model PATH" in err
    assert not (tmp_path / "r").exists()
