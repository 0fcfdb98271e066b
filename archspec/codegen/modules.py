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
        groups=p["groups"],
        bias=p["bias"],
    )


def _norm(p: dict[str, Any], inplace: bool, in_shape: tuple[int, ...]) -> nn.Module:
    return nn.BatchNorm2d(p["channels"])


def _pool(p: dict[str, Any], inplace: bool, in_shape: tuple[int, ...]) -> nn.Module:
    cls = nn.MaxPool2d if p["kind"] == "max" else nn.AvgPool2d
    return cls(p["kernel"], stride=p["stride"], padding=p["padding"])


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
}
"""op name -> factory(params, inplace, input shape) for ops that become modules."""


def register_module(op: str, factory: ModuleFactory) -> None:
    """The module a block type's own op becomes (see ``archspec.graph.ops.register_op``)."""
    MODULES[op] = factory
