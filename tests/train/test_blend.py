"""Weight-space blend of a fine-tuning's start and end (b12brain.train.blend)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from b12brain.segment.slices import CHANNELS
from b12brain.train import UNet2D, export_onnx
from b12brain.train.blend import blend_onnx
from b12brain.train.blend import main as blend_main


def _export(tmp_path, name: str, seed: int):
    torch.manual_seed(seed)
    model = UNet2D(width=4).eval()
    with torch.no_grad():  # batch norms with statistics of their own, as after training
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return export_onnx(model, tmp_path / name, name).onnx_path


def _onnx_logits(path, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("blend")
    return _export(folder, "start", 0), _export(folder, "tuned", 1)


def test_blend_ends_are_the_two_models_and_its_middle_their_mean(pair) -> None:
    start, tuned = pair
    x = np.random.default_rng(3).uniform(0, 2, (2, CHANNELS, 48, 64)).astype(np.float32)
    for alpha, path in ((0.0, start), (1.0, tuned)):
        with torch.no_grad():
            got = blend_onnx(start, tuned, alpha=alpha, width=4)(torch.from_numpy(x)).numpy()
        assert np.abs(got - _onnx_logits(path, x)).max() < 1e-4
    ends = [blend_onnx(start, tuned, alpha=a, width=4).state_dict() for a in (0.0, 1.0)]
    middle = blend_onnx(start, tuned, alpha=0.5, width=4).state_dict()
    for key in ("encoders.0.0.weight", "encoders.0.1.bias", "head.weight", "ups.0.weight"):
        assert torch.allclose(middle[key], 0.5 * (ends[0][key] + ends[1][key]), atol=1e-6)
    assert not torch.allclose(ends[0]["encoders.0.0.weight"], ends[1]["encoders.0.0.weight"])
    with pytest.raises(ValueError, match="alpha 1.5 is outside"):
        blend_onnx(start, tuned, alpha=1.5, width=4)


def test_blend_command_writes_a_model_with_its_threshold_and_sources(pair, tmp_path, capsys) -> None:
    start, tuned = pair
    out = tmp_path / "blend"
    assert blend_main([str(start), str(tuned), "--out", str(out), "--width", "4", "--val-phantoms", "1"]) == 0
    meta = json.loads((out / "b12brain_wmh_unet2d.json").read_text())
    assert 0.2 <= meta["threshold"] <= 0.8 and meta["threshold"] in {float(k) for k in meta["dice_by_threshold"]}
    assert meta["blend"]["alpha"] == 0.5 and meta["blend"]["tuned"]["file"] == str(tuned)
    assert len(meta["blend"]["start"]["sha256"]) == 64
    assert meta["blend"]["start"]["training"]["opset"] == 17  # the sidecar of each model is kept
    assert (out / "b12brain_wmh_unet2d.onnx.sha256").is_file()
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(tuned.read_bytes())
    (tmp_path / "broken.json").write_text("{not json")
    for args, problem in (([str(tmp_path / "absent.onnx"), str(tuned)], "absent.onnx: not found"),
                          ([str(start), str(tuned), "--width", "8"], "the network needs"),
                          ([str(start), str(broken)], "broken.json: not a readable JSON training record")):  # fmt: skip
        with pytest.raises(SystemExit) as exit_info:
            blend_main([*args, "--out", str(tmp_path / "no")])
        assert exit_info.value.code == 2 and problem in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
