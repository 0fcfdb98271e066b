"""The head's ops: flatten, dropout and the linear classifier."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

import archspec.graph.ops.base as base
from archspec.graph.ops.base import Op, Params, Shape, ShapeMismatch

_PLAIN = {"shape": "box", "style": "rounded,filled", "fillcolor": "#eeeeee"}


def _shape(p: Params, ins: Sequence[Shape]) -> Shape:
    if ins[0] != (p["in_features"],):
        raise ShapeMismatch(f"linear expects ({p['in_features']},), got {ins[0]}")
    return (p["out_features"],)


def _module(p: Params, inplace: bool, in_shape: Shape) -> Any:
    from torch import nn

    return nn.Linear(p["in_features"], p["out_features"], bias=p["bias"])


def _source(p: Params, in_shape: Shape, args: Sequence[str], inplace: bool) -> str:
    bias = "" if p["bias"] else ", bias=False"
    return f"nn.Linear({p['in_features']}, {p['out_features']}{bias})"


LINEAR = Op(
    shape=_shape,
    params=lambda p, ins: p["in_features"] * p["out_features"] + (p["out_features"] * p["bias"]),
    macs=lambda p, ins, out: p["in_features"] * p["out_features"],
    counted=True,
    module=_module,
    source=_source,
    label=lambda p: f"linear {p['in_features']}→{p['out_features']}",
    style={"shape": "box", "style": "filled", "fillcolor": "#d9d2e9"},
    init=base.default_init,  # PyTorch's default, as torchvision leaves its fc
)


def _flatten_call(p: Params, args: list[Any], inplace: bool) -> tuple[Any, tuple, dict]:
    import torch

    return torch.flatten, (args[0], 1), {}


FLATTEN = Op(
    shape=lambda p, ins: (prod(ins[0]),),
    counted=True,  # no arithmetic
    call=_flatten_call,
    source=lambda p, s, args, inplace: f"torch.flatten({args[0]}, 1)",
    label=lambda p: "flatten",
    style=_PLAIN,
)


def _dropout(p: Params, inplace: bool, in_shape: Shape) -> Any:
    from torch import nn

    return nn.Dropout(p["p"])


DROPOUT = Op(
    shape=base.same,
    counted=True,  # no multiply-adds
    module=_dropout,
    source=lambda p, s, args, inplace: f"nn.Dropout({p['p']!r})",
    label=lambda p: f"dropout {p['p']:g}",
    style=_PLAIN,
)
