"""Normalization layers: one op, ``norm``, whose ``kind`` picks the layer.

A kind is a row of :data:`NORMS` (its module, its source, its parameter count, its init
and label), so a new norm is one entry here and nothing elsewhere. Every kind works at
any rank: the module is picked by the input's shape.

- ``batch``: BatchNorm1d/2d/3d.
- ``group``: GroupNorm with ``groups`` groups (32 unless the params say).
- ``layer``: layer norm over the channels at each position (timm's LayerNorm2d, eps
  1e-6), archspec.nn.ChannelLayerNorm.
- ``instance``: InstanceNorm1d/2d/3d with an affine (so a block's last norm can start at
  zero), no running statistics.
- ``frozen_batch``: batch norm whose statistics and affine are fixed buffers
  (torchvision's FrozenBatchNorm2d), archspec.nn.FrozenBatchNorm: no parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from archspec.graph.ops.base import Op, Params, Shape, ShapeMismatch, nd

DEFAULT_GROUPS = 32  # the GroupNorm paper's and timm's default


def groups_of(p: Params) -> int:
    return int(p.get("groups") or DEFAULT_GROUPS)


def _affine_init(module: Any, p: Params, zero: bool) -> None:
    from torch import nn

    if hasattr(module, "reset_running_stats"):
        module.reset_running_stats()
    # zero: the last norm of a residual branch (zero_init_last), so a block starts as
    # the identity.
    nn.init.constant_(module.weight, 0.0 if zero else 1.0)
    nn.init.zeros_(module.bias)


def _frozen_init(module: Any, p: Params, zero: bool) -> None:
    # Buffers, not parameters: the statistics of an untrained batch norm, so the layer
    # starts as the identity (or as zero, for zero_init_last).
    import torch

    with torch.no_grad():
        module.weight.fill_(0.0 if zero else 1.0)
        module.bias.zero_()
        module.running_mean.zero_()
        module.running_var.fill_(1.0)


@dataclass(frozen=True)
class NormKind:
    module: Callable[[Params, Shape], Any]
    source: Callable[[Params, Shape], str]
    params: Callable[[Params], int]
    label: Callable[[Params], str]
    init: Callable[[Any, Params, bool], None] = _affine_init


def _group_module(p: Params, s: Shape) -> Any:
    from torch import nn

    return nn.GroupNorm(groups_of(p), p["channels"])


def _layer_module(p: Params, s: Shape) -> Any:
    from archspec.nn import ChannelLayerNorm

    return ChannelLayerNorm(p["channels"])


def _frozen_module(p: Params, s: Shape) -> Any:
    from archspec.nn import FrozenBatchNorm

    return FrozenBatchNorm(p["channels"])


NORMS: dict[str, NormKind] = {
    "batch": NormKind(
        module=lambda p, s: nd("BatchNorm", s)(p["channels"]),
        source=lambda p, s: f"nn.BatchNorm{len(s) - 1}d({p['channels']})",
        params=lambda p: 2 * p["channels"],
        label=lambda p: "batch norm",
    ),
    "group": NormKind(
        module=_group_module,
        source=lambda p, s: f"nn.GroupNorm({groups_of(p)}, {p['channels']})",
        params=lambda p: 2 * p["channels"],
        label=lambda p: f"group norm, {groups_of(p)} groups",
    ),
    "layer": NormKind(
        module=_layer_module,
        source=lambda p, s: f"ChannelLayerNorm({p['channels']})",
        params=lambda p: 2 * p["channels"],
        label=lambda p: "layer norm",
    ),
    "instance": NormKind(
        module=lambda p, s: nd("InstanceNorm", s)(p["channels"], affine=True),
        source=lambda p, s: f"nn.InstanceNorm{len(s) - 1}d({p['channels']}, affine=True)",
        params=lambda p: 2 * p["channels"],
        label=lambda p: "instance norm",
    ),
    "frozen_batch": NormKind(
        module=_frozen_module,
        source=lambda p, s: f"FrozenBatchNorm({p['channels']})",
        params=lambda p: 0,  # statistics and affine are buffers
        label=lambda p: "frozen batch norm",
        init=_frozen_init,
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
    if len(ins[0]) < 2:
        raise ShapeMismatch(f"norm needs a (C, ...) feature map, got {ins[0]}")
    _kind(p)
    if p.get("kind") == "group" and p["channels"] % groups_of(p):
        raise ShapeMismatch(
            f"group norm of {groups_of(p)} groups gets {p['channels']} channels, which do "
            f"not divide into {groups_of(p)} groups (set norm.groups to a divisor)"
        )
    return ins[0]


NORM = Op(
    shape=_shape,
    params=lambda p, ins: _kind(p).params(p),
    module=lambda p, inplace, s: _kind(p).module(p, s),
    source=lambda p, s, args, inplace: _kind(p).source(p, s),
    label=lambda p: _kind(p).label(p),
    style={"shape": "box", "style": "filled", "fillcolor": "#fff2cc"},
    init=lambda module, p, zero: _kind(p).init(module, p, zero),
)
