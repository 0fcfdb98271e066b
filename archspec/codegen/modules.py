"""The torch module for each module-backed op of the graph IR."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class PadShortcut(nn.Module):
    """He et al. 2015 option A skip: keep every ``stride``-th pixel, then zero-pad the
    channels up to ``out_channels`` (split evenly before and after). No parameters."""

    def __init__(self, stride: int, pad_before: int, pad_after: int) -> None:
        super().__init__()
        self.stride = stride
        self.pad_before = pad_before
        self.pad_after = pad_after

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))

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
    """``x · s`` for per-channel weights ``s`` of shape (N, C, 1, 1) (squeeze-excitation)."""

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


_ACTS: dict[str, Callable[[bool], nn.Module]] = {
    "relu": lambda inplace: nn.ReLU(inplace=inplace),
    "relu6": lambda inplace: nn.ReLU6(inplace=inplace),
    "silu": lambda inplace: nn.SiLU(inplace=inplace),
    "gelu": lambda inplace: nn.GELU(),
    "tanh": lambda inplace: nn.Tanh(),
    "sigmoid": lambda inplace: nn.Sigmoid(),
}


def _conv(p: dict[str, Any], inplace: bool, in_shape: tuple[int, ...]) -> nn.Module:
    return nn.Conv2d(
        p["in_channels"],
        p["out_channels"],
        p["kernel"],
        stride=p["stride"],
        padding=p["padding"],
        dilation=p.get("dilation", 1),  # the IR's shape rule reads it too
        groups=p["groups"],
        bias=p["bias"],
    )


def _norm(p: dict[str, Any], inplace: bool, in_shape: tuple[int, ...]) -> nn.Module:
    return nn.BatchNorm2d(p["channels"])


def _pool(p: dict[str, Any], inplace: bool, in_shape: tuple[int, ...]) -> nn.Module:
    cls = nn.MaxPool2d if p["kind"] == "max" else nn.AvgPool2d
    # ceil: a window cut by the border still makes an output (ResNet-D's pooled skip on
    # odd sizes), so the pool matches the strided conv beside it.
    ceil = bool(p.get("ceil", False))
    return cls(p["kernel"], stride=p["stride"], padding=p["padding"], ceil_mode=ceil)


def _global_pool(p: dict[str, Any], inplace: bool, in_shape: tuple[int, ...]) -> nn.Module:
    return nn.AdaptiveAvgPool2d(1) if p["kind"] == "avg" else nn.AdaptiveMaxPool2d(1)


def _pad_skip(p: dict[str, Any], inplace: bool, in_shape: tuple[int, ...]) -> nn.Module:
    extra = p["out_channels"] - in_shape[0]
    return PadShortcut(p["stride"], extra // 2, extra - extra // 2)


ModuleFactory = Callable[[dict[str, Any], bool, tuple[int, ...]], nn.Module]

MODULES: dict[str, ModuleFactory] = {
    "conv": _conv,
    "norm": _norm,
    "act": lambda p, inplace, s: _ACTS[p["kind"]](inplace),
    "pool": _pool,
    "global_pool": _global_pool,
    "linear": lambda p, inplace, s: nn.Linear(p["in_features"], p["out_features"], bias=p["bias"]),
    "dropout": lambda p, inplace, s: nn.Dropout(p["p"]),
    "pad_skip": _pad_skip,
    "gate": lambda p, inplace, s: Gate(p["complement"], p["threshold"]),
    "scale": lambda p, inplace, s: Scale(),
    "drop_path": lambda p, inplace, s: DropPath(p["p"]),
}
"""op name -> factory(params, inplace, input shape) for ops that become modules."""


def register_module(op: str, factory: ModuleFactory) -> None:
    """The module a block type's own op becomes (see ``archspec.graph.ops.register_op``)."""
    MODULES[op] = factory
