"""Convolution at any rank: Conv1d, Conv2d or Conv3d by the input's rank."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

from archspec.graph.ops.base import (
    Op,
    Params,
    Shape,
    ShapeMismatch,
    axes_text,
    check_stride,
    feature_map,
    nd,
    out_size,
    per_axis,
    sized,
    square,
    stride_text,
)


def _axes(p: Params, rank: int) -> tuple[tuple[int, ...], ...]:
    return tuple(
        per_axis(p.get(key, default), rank, key)
        for key, default in (("kernel", 1), ("stride", 1), ("padding", 0), ("dilation", 1))
    )


def _shape(p: Params, ins: Sequence[Shape]) -> Shape:
    c, sizes = feature_map(ins[0], "conv")
    if c != p["in_channels"]:
        raise ShapeMismatch(f"conv expects {p['in_channels']} channels, got {c}")
    kernel, stride, padding, dilation = _axes(p, len(sizes))
    check_stride(sizes, stride, "conv")
    out = tuple(map(out_size, sizes, kernel, stride, padding, dilation))
    return sized((p["out_channels"], *out), "conv", "downsampling")


def _kernel_volume(p: Params, ins: Sequence[Shape]) -> int:
    return prod(per_axis(p["kernel"], len(ins[0]) - 1, "kernel"))


def _params(p: Params, ins: Sequence[Shape]) -> int:
    weight = p["out_channels"] * (p["in_channels"] // p["groups"]) * _kernel_volume(p, ins)
    return weight + (p["out_channels"] if p["bias"] else 0)


def _macs(p: Params, ins: Sequence[Shape], out: Shape) -> int:
    return prod(out) * (p["in_channels"] // p["groups"]) * _kernel_volume(p, ins)


def _module(p: Params, inplace: bool, in_shape: Shape) -> Any:
    return nd("Conv", in_shape)(
        p["in_channels"],
        p["out_channels"],
        square(p["kernel"]),
        stride=square(p["stride"]),
        padding=square(p["padding"]),
        dilation=square(p.get("dilation", 1)),  # the shape rule reads it too
        groups=p["groups"],
        bias=p["bias"],
    )


def _source(p: Params, in_shape: Shape, args: Sequence[str], inplace: bool) -> str:
    parts = [str(p["in_channels"]), str(p["out_channels"]), f"kernel_size={square(p['kernel'])}"]
    for key, default in (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1)):
        value = square(p.get(key, default))
        if value != default:
            parts.append(f"{key}={value}")
    if not p["bias"]:
        parts.append("bias=False")
    return f"nn.Conv{len(in_shape) - 1}d({', '.join(parts)})"


def _dilation_text(p: Params, sep: str) -> str:
    dilation = square(p.get("dilation", 1))
    if dilation == 1:
        return ""
    return f"{sep}dilation {dilation if isinstance(dilation, int) else axes_text(dilation)}"


def _label(p: Params) -> str:
    groups = f", groups {p['groups']}" if p.get("groups", 1) != 1 else ""
    return (
        f"conv {axes_text(p['kernel'])}{stride_text(p)}, {p['out_channels']}{groups}"
        f"{_dilation_text(p, ', ')}"
    )


def conv_text(p: Params) -> str:
    """A conv in a few characters, for block labels: ``3×3/2 128``, ``3×3 256 d2``."""
    groups = f" g{p['groups']}" if p.get("groups", 1) != 1 else ""
    dilation = _dilation_text(p, " ").replace("dilation ", "d")
    return f"{axes_text(p['kernel'])}{stride_text(p)} {p['out_channels']}{groups}{dilation}"


def _init(module: Any, p: Params, zero: bool) -> None:
    from torch import nn

    if zero:
        nn.init.zeros_(module.weight)
    else:  # torchvision's ResNet init
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    if module.bias is not None:  # gates start with a set bias (gate_bias)
        nn.init.constant_(module.bias, p.get("bias_init", 0.0))


CONV = Op(
    shape=_shape,
    params=_params,
    macs=_macs,
    counted=True,
    module=_module,
    source=_source,
    label=_label,
    style={"shape": "box", "style": "filled", "fillcolor": "#cfe2f3"},
    init=_init,
)
