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
        # _conv_forward rather than super().forward, which TorchScript cannot compile
        y = self._conv_forward(x.reshape(x.shape[0], 1, x.shape[1]), self.weight, self.bias)
        return y.reshape(x.shape)


class SelectiveFuse(nn.Module):
    """Selective-kernel fusion (Li et al. 2019): given n path outputs ``(N, C, ...)`` and
    the attention's logits ``(N, n·C, 1, ...)``, a softmax across the n paths per channel
    weighs them, and their weighted sum is the output. No parameters.

    The paths come as one list, not as ``*paths``: TorchScript compiles no varargs."""

    def forward(self, paths: list[torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
        n = len(paths)
        weights = logits.unflatten(1, [n, paths[0].shape[1]]).softmax(1)
        out = paths[0] * weights[:, 0]
        for i in range(1, n):
            out = out + paths[i] * weights[:, i]
        return out


def channel_part(x: torch.Tensor, index: int, parts: int) -> torch.Tensor:
    """The ``index``-th of ``parts`` equal slices of ``x``'s channels (a view)."""
    share = x.shape[1] // parts
    return x.narrow(1, index * share, share)
