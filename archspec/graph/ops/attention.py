"""Channel-attention ops: ECA's conv across channels, and the selective-kernel conv's
share of the channels and softmax fusion of its paths (blocks/eca.py and
blocks/selective_kernel.py lower with them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archspec.graph.ops.base import Op, Params, Shape, ShapeMismatch

_PLAIN = {"shape": "box", "style": "rounded,filled", "fillcolor": "#eeeeee"}


def _channel_conv_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    x = ins[0]
    if len(x) < 2 or any(d != 1 for d in x[1:]):
        raise ShapeMismatch(f"a conv across channels needs pooled values (C, 1, ...), got {x}")
    return x


def _channel_conv_module(p: Params, inplace: bool, in_shape: Shape) -> Any:
    from archspec.nn import ChannelConv

    return ChannelConv(p["kernel"])


def _channel_conv_init(module: Any, p: Params, zero: bool) -> None:
    # timm leaves this conv at PyTorch's default (its ResNet init covers 2-D convs only).
    module.reset_parameters()


# channel_conv(s): a 1-D conv of `kernel` taps across the C values of s, shape (C, 1, ...).
CHANNEL_CONV = Op(
    shape=_channel_conv_shape,
    params=lambda p, ins: p["kernel"],
    macs=lambda p, ins, out: out[0] * p["kernel"],
    counted=True,
    module=_channel_conv_module,
    source=lambda p, s, args, inplace: f"ChannelConv({p['kernel']})",
    label=lambda p: f"conv across channels, k {p['kernel']}",
    style={"shape": "box", "style": "filled", "fillcolor": "#cfe2f3"},
    init=_channel_conv_init,
)


def _part_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    x = ins[0]
    if x[0] % p["parts"]:
        raise ShapeMismatch(f"{x[0]} channels do not split into {p['parts']} equal parts")
    return (x[0] // p["parts"], *x[1:])


def _part_call(p: Params, args: list[Any], inplace: bool) -> tuple[Any, tuple, dict]:
    from archspec.nn import channel_part

    return channel_part, (args[0], p["index"], p["parts"]), {}


# channel_part(x): the index-th of `parts` equal slices of x's channels (a view). Written
# by position, not by channel numbers, so blocks of every width share one emitted class.
CHANNEL_PART = Op(
    shape=_part_shape,
    counted=True,  # a view, no arithmetic
    call=_part_call,
    source=lambda p, s, args, inplace: f"channel_part({args[0]}, {p['index']}, {p['parts']})",
    label=lambda p: f"channels {p['index'] + 1}/{p['parts']}",
    style=_PLAIN,
)


def _fuse_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    *paths, logits = ins
    if len(set(paths)) != 1:
        raise ShapeMismatch(f"selective fusion of paths of shapes {paths}")
    c = paths[0][0]
    if logits != (len(paths) * c, *(1 for _ in paths[0][1:])):
        raise ShapeMismatch(f"{len(paths)} paths of {paths[0]} need logits, got {logits}")
    return paths[0]


def _fuse_module(p: Params, inplace: bool, in_shape: Shape) -> Any:
    from archspec.nn import SelectiveFuse

    return SelectiveFuse()


# select(path_0, ..., path_n-1, logits): the softmax-weighted sum of the paths, its module
# called as SelectiveFuse()([path_0, ..., path_n-1], logits).
SELECT = Op(
    shape=_fuse_shape,
    arity=0,
    module=_fuse_module,
    module_args=lambda args: (list(args[:-1]), args[-1]),
    source=lambda p, s, args, inplace: "SelectiveFuse()",
    label=lambda p: "select",
    style={"shape": "circle", "style": "filled", "width": "0.45", "fillcolor": "#e4d7f5"},
)
