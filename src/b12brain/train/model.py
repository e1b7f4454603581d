"""The learned segmenter's network: a small 2D U-Net on the 2.5D stacks of ``segment.slices``.

Input ``(B, CHANNELS, H, W)`` normalised FLAIR stacks (H and W multiples of 16), output
``(B, 1, H, W)`` lesion logits of the centre slice. Four poolings; widths ``w, 2w, 4w, 8w`` with
an ``8w`` bottleneck (capping the bottleneck keeps the default at ~1.2 M parameters, ~5 MB of
ONNX).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from b12brain.segment.slices import CHANNELS

Norm = Literal["batch", "instance"]


def _block(c_in: int, c_out: int, norm: Norm) -> nn.Sequential:
    layers: list[nn.Module] = []
    for c in (c_in, c_out):
        layers.append(nn.Conv2d(c, c_out, 3, padding=1, bias=False))
        layers.append(nn.BatchNorm2d(c_out) if norm == "batch" else nn.InstanceNorm2d(c_out, affine=True))
        layers.append(nn.LeakyReLU(0.01, inplace=True))
    return nn.Sequential(*layers)


class UNet2D(nn.Module):
    """2D U-Net: ``(B, in_channels, H, W) -> (B, 1, H, W)`` logits.

    Parameters
    ----------
    width : int
        Channels of the first level (16 gives ~1.2 M parameters).
    in_channels : int
        Slices per stack (``segment.slices.CHANNELS``).
    norm : {"batch", "instance"}
        Normalisation layer after each convolution.

    Examples
    --------
    >>> net = UNet2D(width=4)
    >>> tuple(net(torch.zeros(1, 3, 32, 48)).shape)
    (1, 1, 32, 48)
    """

    levels = 4

    def __init__(self, width: int = 16, in_channels: int = CHANNELS, norm: Norm = "batch") -> None:
        super().__init__()
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.encoders = nn.ModuleList()
        c_prev = in_channels
        for c in widths:
            self.encoders.append(_block(c_prev, c, norm))
            c_prev = c
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = _block(widths[-1], widths[-1], norm)
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        c_prev = widths[-1]
        for c in reversed(widths):
            self.ups.append(nn.ConvTranspose2d(c_prev, c, 2, stride=2))
            self.decoders.append(_block(2 * c, c, norm))
            c_prev = c
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = decoder(torch.cat([up(x), skip], dim=1))
        logits: torch.Tensor = self.head(x)
        return logits


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
