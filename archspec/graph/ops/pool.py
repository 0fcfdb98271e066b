"""Pooling at any rank: windowed max/avg pools and the global pool before a head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archspec.graph.ops.base import (
    Op,
    Params,
    Shape,
    ShapeMismatch,
    axes_text,
    ceil_out_size,
    check_stride,
    feature_map,
    nd,
    out_size,
    per_axis,
    sized,
    square,
    stride_text,
)

_STYLE = {"shape": "box", "style": "filled", "fillcolor": "#fce5cd"}


def _shape(p: Params, ins: Sequence[Shape]) -> Shape:
    c, sizes = feature_map(ins[0], "pool")
    rank = len(sizes)
    kernel, stride, padding = (per_axis(p[k], rank, k) for k in ("kernel", "stride", "padding"))
    check_stride(sizes, stride, "pool")
    if rank == 3 and p["kind"] == "avg" and any(n < k for n, k in zip(sizes, kernel, strict=True)):
        # torch's AvgPool3d (unlike its 1-D and 2-D pools and max pools) refuses it
        raise ShapeMismatch(
            f"a 3-D average pool of kernel {'x'.join(map(str, kernel))} gets a "
            f"{'x'.join(map(str, sizes))} feature map: torch's 3-D average pool needs each "
            "axis at least its kernel, padding or not"
        )
    rule = ceil_out_size if p.get("ceil") else out_size
    # pad_end: zeros after each axis's end, averaged like pixels (a "same" pool at stride
    # 1: timm's dilated ResNet-D skip pools 2x2 over the map padded by one).
    sizes = [n + p.get("pad_end", 0) for n in sizes]
    return sized((c, *map(rule, sizes, kernel, stride, padding)), "pool", "downsampling")


def _class(p: Params) -> str:
    return "MaxPool" if p["kind"] == "max" else "AvgPool"


def _module(p: Params, inplace: bool, in_shape: Shape) -> Any:
    if p.get("pad_end"):
        from archspec.nn import AvgPoolSame

        return AvgPoolSame(p["kernel"], len(in_shape) - 1, p["pad_end"])
    # ceil: a window cut by the border still makes an output (ResNet-D's pooled skip on
    # odd sizes), so the pool matches the strided conv beside it.
    return nd(_class(p), in_shape)(
        square(p["kernel"]),
        stride=square(p["stride"]),
        padding=square(p["padding"]),
        ceil_mode=bool(p.get("ceil", False)),
    )


def _source(p: Params, in_shape: Shape, args: Sequence[str], inplace: bool) -> str:
    if p.get("pad_end"):
        return f"AvgPoolSame({p['kernel']}, {len(in_shape) - 1}, {p['pad_end']})"
    parts = [f"kernel_size={square(p['kernel'])}", f"stride={square(p['stride'])}"]
    if square(p["padding"]) != 0:
        parts.append(f"padding={square(p['padding'])}")
    if p.get("ceil"):
        parts.append("ceil_mode=True")
    return f"nn.{_class(p)}{len(in_shape) - 1}d({', '.join(parts)})"


POOL = Op(
    shape=_shape,
    module=_module,
    source=_source,
    label=lambda p: (
        f"{p['kind']} pool {axes_text(p['kernel'])}{stride_text(p)}"
        + (" same" if p.get("pad_end") else "")
    ),
    style=_STYLE,
)


def _global_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    c, sizes = feature_map(ins[0], "global pool")
    return (c, *(1 for _ in sizes))


def _global_class(p: Params) -> str:
    return "AdaptiveAvgPool" if p["kind"] == "avg" else "AdaptiveMaxPool"


def _global_size(s: Shape) -> int | tuple[int, ...]:
    """The output size as torchvision writes it, ``(1, 1)`` and ``(1, 1, 1)`` (1 at rank 1),
    so the module prints as theirs does."""
    return 1 if len(s) == 2 else (1,) * (len(s) - 1)


GLOBAL_POOL = Op(
    shape=_global_shape,
    module=lambda p, inplace, s: nd(_global_class(p), s)(_global_size(s)),
    source=lambda p, s, args, inplace: f"nn.{_global_class(p)}{len(s) - 1}d({_global_size(s)})",
    label=lambda p: f"global {p['kind']} pool",
    style=_STYLE,
)
