"""Weights of an exported ONNX model back in a :class:`UNet2D`, to fine-tune shipped weights.

The ONNX export folds every batch norm into the convolution before it: the graph holds
``W' = W * gamma / sigma`` and ``b' = beta - gamma * mu / sigma``. The folded layer is
``x -> conv(x, W') + b'``. :func:`load_onnx_weights` restores it as conv ``W'`` + a batch
norm that only adds ``b'``: exact, but with statistics (mean 0, variance 1) that batches never
have, so training would start from another function. :func:`recalibrate_batch_norms` then
gives each batch norm the mean ``m`` and variance ``v`` of its input on real batches, with
scale ``sqrt(v + eps)`` and shift ``m + b'``: still exactly the exported network in evaluation
mode, and close to it in training mode, where batch statistics replace ``m`` and ``v``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn


def load_onnx_weights(model: nn.Module, onnx_path: Path | str) -> None:
    """Set ``model`` (a :class:`~b12brain.train.model.UNet2D` with batch norm) to the weights of
    ``onnx_path``, its export. Each batch norm passes its input through with the folded shift
    (exact in evaluation mode); :func:`recalibrate_batch_norms` then makes it ready to train.

    Raises
    ------
    ValueError
        The file is not an ONNX export of a network of this shape.
    """
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(onnx_path)).graph
    except Exception as err:  # onnx raises DecodeError, OSError, ...: all mean "not a model"
        raise ValueError(f"{onnx_path}: not an ONNX model ({type(err).__name__})") from None
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    # The exporter shares equal tensors (e.g. zero shifts) between layers through Identity nodes.
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in weights:
            weights[node.output[0]] = weights[node.input[0]]
    folded = [(node.input[1], node.input[2] if len(node.input) > 2 else None) for node in graph.node if node.op_type == "Conv"]
    convs = _convs_in_order(model)
    if len(folded) != len(convs):
        raise ValueError(f"{onnx_path}: {len(folded)} convolutions, the network has {len(convs)}")
    transposed = {name: m for name, m in model.named_modules() if isinstance(m, nn.ConvTranspose2d)}
    missing = [f"{name}.{p}" for name in transposed for p in ("weight", "bias") if f"{name}.{p}" not in weights]
    if missing:
        raise ValueError(f"{onnx_path}: no weights {', '.join(missing)}")
    with torch.no_grad():
        for (conv, norm), (w_name, b_name) in zip(convs, folded, strict=True):
            _copy(conv.weight, weights[w_name], w_name, onnx_path)
            shift = torch.from_numpy(weights[b_name].copy()) if b_name else torch.zeros(conv.weight.shape[0])
            if norm is None:
                assert conv.bias is not None
                _copy(conv.bias, shift.numpy(), str(b_name), onnx_path)
                continue
            running_mean, running_var = _statistics(norm)
            norm.weight.fill_(1.0)
            norm.bias.copy_(shift)
            running_mean.zero_()
            running_var.fill_(1.0 - norm.eps)
        for name, module in transposed.items():
            _copy(module.weight, weights[f"{name}.weight"], f"{name}.weight", onnx_path)
            assert module.bias is not None
            _copy(module.bias, weights[f"{name}.bias"], f"{name}.bias", onnx_path)


def recalibrate_batch_norms(model: nn.Module, inputs: npt.NDArray[np.float32]) -> None:
    """Give every batch norm of ``model`` the mean and variance of its input on ``inputs``
    ``(N, CHANNELS, H, W)``, with scale and shift changed so that the network computes the
    same function in evaluation mode (and nearly the same in training mode)."""
    stats: dict[nn.BatchNorm2d, list[torch.Tensor]] = {}

    def record(norm: nn.Module, args: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        x = args[0].double()
        stats.setdefault(norm, []).append(torch.stack([x.mean(dim=(0, 2, 3)), (x * x).mean(dim=(0, 2, 3))]))  # type: ignore[arg-type]

    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    hooks = [norm.register_forward_hook(record) for norm in norms]
    model.eval()
    with torch.no_grad():
        for i in range(0, len(inputs), 8):
            model(torch.from_numpy(inputs[i : i + 8]))
    for hook in hooks:
        hook.remove()
    with torch.no_grad():
        for norm in norms:
            mean, square = torch.stack(stats[norm]).mean(dim=0)
            var = (square - mean * mean).clamp_min(1e-6)
            # The norm is y = a x + c; keep a and c with the new statistics.
            running_mean, running_var = _statistics(norm)
            a = norm.weight.double() / torch.sqrt(running_var.double() + norm.eps)
            c = norm.bias.double() - a * running_mean.double()
            running_mean.copy_(mean.float())
            running_var.copy_(var.float())
            norm.weight.copy_((a * torch.sqrt(var + norm.eps)).float())
            norm.bias.copy_((c + a * mean).float())


def _statistics(norm: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError("batch norm without running statistics")
    return norm.running_mean, norm.running_var


def _copy(target: torch.Tensor, value: npt.NDArray[np.floating], name: str, onnx_path: Path | str) -> None:
    if tuple(value.shape) != tuple(target.shape):
        raise ValueError(f"{onnx_path}: weight {name} is {tuple(value.shape)}, the network needs {tuple(target.shape)}")
    target.copy_(torch.from_numpy(np.array(value, dtype=np.float32)))


def _convs_in_order(model: nn.Module) -> list[tuple[nn.Conv2d, nn.BatchNorm2d | None]]:
    """The network's ``Conv2d`` layers in the order they run (the ONNX graph's order), each with
    the batch norm that follows it inside its block, if any."""
    follows: dict[nn.Conv2d, nn.BatchNorm2d] = {}
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            layers = list(module)
            for a, b in zip(layers, layers[1:]):
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    follows[a] = b
    order: list[nn.Conv2d] = []
    hooks = [m.register_forward_hook(lambda m, _i, _o: order.append(m)) for m in model.modules() if type(m) is nn.Conv2d]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, _in_channels(model), 32, 32))
    for hook in hooks:
        hook.remove()
    return [(conv, follows.get(conv)) for conv in order]


def _in_channels(model: nn.Module) -> int:
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    return int(first.in_channels)
