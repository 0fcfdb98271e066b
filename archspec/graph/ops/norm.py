"""Normalization layers: one op, ``norm``, whose ``kind`` picks the layer.

A kind is a row of :data:`NORMS` (its module, its source, its parameter count), so a new
norm is one entry here and nothing elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from archspec.graph.ops.base import Op, Params, Shape, ShapeMismatch, nd


@dataclass(frozen=True)
class NormKind:
    module: Callable[[Params, Shape], Any]
    source: Callable[[Params, Shape], str]
    params: Callable[[Params], int]


NORMS: dict[str, NormKind] = {
    "batch": NormKind(
        module=lambda p, s: nd("BatchNorm", s)(p["channels"]),
        source=lambda p, s: f"nn.BatchNorm{len(s) - 1}d({p['channels']})",
        params=lambda p: 2 * p["channels"],
    ),
}


def _kind(p: Params) -> NormKind:
    kind = NORMS.get(p.get("kind", "batch"))
    if kind is None:
        raise ShapeMismatch(f"no norm of kind {p.get('kind')!r}; known: {', '.join(NORMS)}")
    return kind


def _shape(p: Params, ins: Sequence[Shape]) -> Shape:
    if ins[0][0] != p["channels"]:
        raise ShapeMismatch(f"norm expects {p['channels']} channels, got {ins[0][0]}")
    _kind(p)
    return ins[0]


def _init(module: Any, p: Params, zero: bool) -> None:
    from torch import nn

    if hasattr(module, "reset_running_stats"):
        module.reset_running_stats()
    if getattr(module, "weight", None) is not None:
        # zero: the last norm of a residual branch (zero_init_last), so a block starts
        # as the identity.
        nn.init.constant_(module.weight, 0.0 if zero else 1.0)
        nn.init.zeros_(module.bias)


NORM = Op(
    shape=_shape,
    params=lambda p, ins: _kind(p).params(p),
    module=lambda p, inplace, s: _kind(p).module(p, s),
    source=lambda p, s, args, inplace: _kind(p).source(p, s),
    label=lambda p: f"{p['kind']} norm",
    style={"shape": "box", "style": "filled", "fillcolor": "#fff2cc"},
    init=_init,
)
