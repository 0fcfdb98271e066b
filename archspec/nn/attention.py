"""Layers of the attention family that torch.nn lacks: ECA's conv across channels.
Like every file of archspec/nn it imports torch only, so emit_python can copy it."""

from __future__ import annotations

import torch
from torch import nn


class ChannelConv(nn.Conv1d):
    """ECA (Wang et al. 2020): a 1-D conv sliding across the channels of pooled
    per-channel values ``(N, C, 1, ...)`` at any rank, one weight of ``kernel`` taps
    shared by every channel, no bias; the output has the input's shape.

    It is an ``nn.Conv1d`` itself, so its weight is named as timm's ``se.conv.weight``.
    """

    def __init__(self, kernel: int) -> None:
        super().__init__(1, 1, kernel, padding=(kernel - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x.reshape(x.shape[0], 1, x.shape[1]))
        return y.reshape(x.shape)
