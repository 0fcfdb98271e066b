"""Ops of skips and attachments: the pad skip, gates, channel scaling, stochastic depth.
Their modules are archspec's own (archspec/nn/layers.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archspec.graph.ops.base import (
    Op,
    Params,
    Shape,
    ShapeMismatch,
    feature_map,
    per_axis,
    same,
    stride_text,
)


def _pad_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    c, sizes = feature_map(ins[0], "pad skip")
    if p["out_channels"] < c:
        raise ShapeMismatch(f"a pad skip cannot reduce {c} channels to {p['out_channels']}")
    stride = per_axis(p["stride"], len(sizes), "stride")
    return (p["out_channels"], *(-(-n // s) for n, s in zip(sizes, stride, strict=True)))


def _pad_split(p: Params, in_shape: Shape) -> tuple[int, int]:
    extra = p["out_channels"] - in_shape[0]
    return extra // 2, extra - extra // 2


def _pad_module(p: Params, inplace: bool, in_shape: Shape) -> Any:
    from archspec.nn import PadShortcut

    stride = p["stride"] if isinstance(p["stride"], int) else tuple(p["stride"])
    return PadShortcut(stride, *_pad_split(p, in_shape))


def _pad_source(p: Params, in_shape: Shape, args: Sequence[str], inplace: bool) -> str:
    before, after = _pad_split(p, in_shape)
    stride = p["stride"] if isinstance(p["stride"], int) else tuple(p["stride"])
    return f"PadShortcut({stride}, {before}, {after})"


PAD_SKIP = Op(
    shape=_pad_shape,
    counted=True,  # copies and zeros, no arithmetic
    module=_pad_module,
    source=_pad_source,
    label=lambda p: f"pad skip{stride_text(p)} → {p['out_channels']}",
    style={"shape": "box", "style": "filled", "fillcolor": "#f9cb9c"},
)


def _gate_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    gate, value = ins
    if gate != value:
        raise ShapeMismatch(f"a gate of shape {gate} cannot scale a tensor of shape {value}")
    return value


def _gate_module(p: Params, inplace: bool, in_shape: Shape) -> Any:
    from archspec.nn import Gate

    return Gate(p["complement"], p["threshold"])


def _gate_label(p: Params) -> str:
    side = "1 − T" if p["complement"] else "T"
    return f"gate {side}" if p["threshold"] is None else f"gate {side} > {p['threshold']:g}"


_PRODUCT = {"shape": "circle", "style": "filled", "width": "0.3", "fixedsize": "true"}

# gate(T, v): T·v, or (1 − T)·v with complement; with a threshold, T is 0/1 in forward
# and the gradient the soft gate's (gated and sparse skips, highway blocks).
GATE = Op(
    shape=_gate_shape,
    arity=2,
    module=_gate_module,
    source=lambda p, s, args, inplace: (
        f"Gate(complement={p['complement']!r}, threshold={p['threshold']!r})"
    ),
    label=_gate_label,
    style={**_PRODUCT, "fillcolor": "#e4d7f5"},
)


def _scale_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    x, s = ins
    if s != (x[0], *(1 for _ in x[1:])):
        raise ShapeMismatch(f"channel weights of shape {s} cannot scale a tensor of shape {x}")
    return x


def _scale_module(p: Params, inplace: bool, in_shape: Shape) -> Any:
    from archspec.nn import Scale

    return Scale()


# scale(x, s): x times per-channel weights s of shape (C, 1, ...) (squeeze-excitation).
SCALE = Op(
    shape=_scale_shape,
    arity=2,
    module=_scale_module,
    source=lambda p, s, args, inplace: "Scale()",
    label=lambda p: "×",
    style={**_PRODUCT, "fillcolor": "#ffffff"},
)


def _drop_path_module(p: Params, inplace: bool, in_shape: Shape) -> Any:
    from archspec.nn import DropPath

    return DropPath(p["p"])


# Stochastic depth: zero the whole sample with probability p in training.
DROP_PATH = Op(
    shape=same,
    counted=True,  # a mask, no multiply-adds
    module=_drop_path_module,
    source=lambda p, s, args, inplace: f"DropPath({p['p']!r})",
    label=lambda p: f"drop path {p['p']:.3g}",
    style={"shape": "box", "style": "rounded,filled", "fillcolor": "#eeeeee"},
)
