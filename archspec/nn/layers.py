"""Layers torch.nn lacks: the pad skip, the gate of highway and sparse skips, the
channel scale of squeeze-excitation, stochastic depth, and the "same" average pool of a
dilated ResNet-D skip. Every one works at any rank."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PadShortcut(nn.Module):
    """He et al. 2015 option A skip: keep every ``stride``-th pixel, then zero-pad the
    channels up to ``out_channels`` (split evenly before and after). No parameters. The
    stride is one int or one per spatial axis (``(1, 2, 2)`` keeps a clip's frames)."""

    def __init__(self, stride: int | tuple[int, ...], pad_before: int, pad_after: int) -> None:
        super().__init__()
        self.stride = stride
        # one int per axis up to 3-D: a list of ints, which TorchScript types by itself
        self.strides = [stride] * 3 if isinstance(stride, int) else list(stride)
        self.pad_before = pad_before
        self.pad_after = pad_after

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Any rank: (N, C, L), (N, C, H, W), (N, C, D, H, W), spelled out per rank so
        # TorchScript compiles it.
        s = self.strides
        if max(s) > 1:
            if x.dim() == 3:
                x = x[:, :, :: s[0]]
            elif x.dim() == 4:
                x = x[:, :, :: s[0], :: s[1]]
            else:
                x = x[:, :, :: s[0], :: s[1], :: s[2]]
        return F.pad(x, [0, 0] * (x.dim() - 2) + [self.pad_before, self.pad_after])

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad=({self.pad_before}, {self.pad_after})"


class Gate(nn.Module):
    """``T·v``, or ``(1 − T)·v`` with ``complement``: one side of a gated merge.

    With a ``threshold`` (sparse skips) the forward uses the hard gate, 1 where
    T > threshold and 0 elsewhere, while the gradient is the soft gate's (a straight-
    through estimate), so both the gate and the gated branch keep learning while the
    forward pass only ever takes or drops a branch whole."""

    def __init__(self, complement: bool, threshold: float | None) -> None:
        super().__init__()
        self.complement = complement
        self.threshold = threshold

    def forward(self, gate: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        soft = 1.0 - gate if self.complement else gate
        if self.threshold is None:
            return soft * value
        hard = (gate > self.threshold).to(gate.dtype)
        if self.complement:
            hard = 1.0 - hard
        out = soft * value
        return out + (hard * value - out).detach()

    def extra_repr(self) -> str:
        side = "1 - T" if self.complement else "T"
        return side if self.threshold is None else f"{side}, threshold={self.threshold}"


class Scale(nn.Module):
    """``x · s`` for per-channel weights ``s`` of shape (N, C, 1, ...) (squeeze-excitation)."""

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return x * s


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): in training, zero each sample with
    probability ``p`` and scale the kept ones by 1/(1 − p); in eval, the identity."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
        return x * mask.bernoulli_(keep).div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p:.4g}"


class AvgPoolSame(nn.Module):
    """An average pool at stride 1 over the map padded with ``pad_end`` zeros at the end
    of each axis, the zeros counted in the average, so the size stays: what timm's
    ResNet-D skip (AvgPool2dSame) does in a stage whose stride became dilation."""

    def __init__(self, kernel_size: int, rank: int = 2, pad_end: int = 1) -> None:
        super().__init__()
        self.kernel_size, self.rank, self.pad_end = kernel_size, rank, pad_end

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, [0, self.pad_end] * self.rank)
        if self.rank == 1:
            return F.avg_pool1d(x, self.kernel_size, 1)
        if self.rank == 2:
            return F.avg_pool2d(x, self.kernel_size, 1)
        return F.avg_pool3d(x, self.kernel_size, 1)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, rank={self.rank}, pad_end={self.pad_end}"
