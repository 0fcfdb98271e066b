"""The primitive ops of the graph IR: shape inference, parameter count and MACs.

Shapes exclude the batch dimension: ``(C, H, W)`` for feature maps, ``(F,)`` after
flatten. Each rule is pure arithmetic on shapes, so the whole network is checked and
counted before any weight exists.

MACs count one multiply-add as one, over convolutions and linear layers only: the
convention of torchvision's published "GFLOPS" and of ``torch.utils.flop_counter``
(which reports 2 FLOPs per MAC). Ops that do arithmetic but are not counted under that
convention (norms, activations, pools, adds) are marked ``counted=False`` so reports can
say so instead of silently claiming zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

Shape = tuple[int, ...]
Params = dict[str, Any]


class ShapeMismatch(Exception):
    """Raised by a shape rule; the builder turns it into a GraphError naming the block."""


def _spatial(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _feature_map(shape: Shape, op: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeMismatch(f"{op} needs a (C, H, W) feature map, got {shape}")
    return shape[0], shape[1], shape[2]


def _check_stride(h: int, w: int, stride: int, op: str) -> None:
    # A strided op on a 1-pixel map cannot downsample: the network was designed for a
    # larger input than the spec gives it.
    if stride > 1 and (h == 1 or w == 1):
        raise ShapeMismatch(
            f"a stride-{stride} {op} gets a {h}x{w} feature map: the input is too small "
            "for the network's downsampling"
        )


def _sized(shape: Shape, op: str, what: str) -> Shape:
    if any(d < 1 for d in shape):
        raise ShapeMismatch(f"{op} would produce {shape}: the input is too small for the {what}")
    return shape


def _conv_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    c, h, w = _feature_map(ins[0], "conv")
    if c != p["in_channels"]:
        raise ShapeMismatch(f"conv expects {p['in_channels']} channels, got {c}")
    k, s, pad, d = p["kernel"], p["stride"], p["padding"], p.get("dilation", 1)
    _check_stride(h, w, s, "conv")
    out = (p["out_channels"], _spatial(h, k, s, pad, d), _spatial(w, k, s, pad, d))
    return _sized(out, "conv", "downsampling")


def _conv_params(p: Params, ins: Sequence[Shape]) -> int:
    k = p["kernel"]
    weight = p["out_channels"] * (p["in_channels"] // p["groups"]) * k * k
    return weight + (p["out_channels"] if p["bias"] else 0)


def _conv_macs(p: Params, ins: Sequence[Shape], out: Shape) -> int:
    k = p["kernel"]
    return prod(out) * (p["in_channels"] // p["groups"]) * k * k


def _same(p: Params, ins: Sequence[Shape]) -> Shape:
    return ins[0]


def _norm_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    if ins[0][0] != p["channels"]:
        raise ShapeMismatch(f"norm expects {p['channels']} channels, got {ins[0][0]}")
    return ins[0]


def _ceil_spatial(size: int, kernel: int, stride: int, padding: int) -> int:
    # PyTorch's ceil_mode: round up, but a window may not start in the right padding.
    out = -(-(size + 2 * padding - kernel) // stride) + 1
    return out - 1 if (out - 1) * stride >= size + padding else out


def _pool_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    c, h, w = _feature_map(ins[0], "pool")
    k, s, pad = p["kernel"], p["stride"], p["padding"]
    _check_stride(h, w, s, "pool")
    size = _ceil_spatial if p.get("ceil") else _spatial
    return _sized((c, size(h, k, s, pad), size(w, k, s, pad)), "pool", "downsampling")


def _global_pool_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    c, _, _ = _feature_map(ins[0], "global pool")
    return (c, 1, 1)


def _flatten_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    return (prod(ins[0]),)


def _linear_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    if ins[0] != (p["in_features"],):
        raise ShapeMismatch(f"linear expects ({p['in_features']},), got {ins[0]}")
    return (p["out_features"],)


def _linear_params(p: Params, ins: Sequence[Shape]) -> int:
    return p["in_features"] * p["out_features"] + (p["out_features"] if p["bias"] else 0)


def _linear_macs(p: Params, ins: Sequence[Shape], out: Shape) -> int:
    return p["in_features"] * p["out_features"]


def _add_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    if len(set(ins)) != 1:
        shapes = " vs ".join(str(s) for s in ins)
        raise ShapeMismatch(f"cannot add tensors of shapes {shapes}")
    return ins[0]


def _concat_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    rest = {s[1:] for s in ins}
    if len(rest) != 1:
        shapes = " vs ".join(str(s) for s in ins)
        raise ShapeMismatch(f"cannot concatenate along channels tensors of shapes {shapes}")
    return (sum(s[0] for s in ins), *ins[0][1:])


def _pad_skip_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    c, h, w = _feature_map(ins[0], "pad skip")
    s = p["stride"]
    if p["out_channels"] < c:
        raise ShapeMismatch(f"a pad skip cannot reduce {c} channels to {p['out_channels']}")
    return (p["out_channels"], -(-h // s), -(-w // s))


def _gate_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    gate, value = ins
    if gate != value:
        raise ShapeMismatch(f"a gate of shape {gate} cannot scale a tensor of shape {value}")
    return value


def _scale_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    x, s = ins
    if s != (x[0], 1, 1):
        raise ShapeMismatch(f"channel weights of shape {s} cannot scale a tensor of shape {x}")
    return x


def _none(p: Params, ins: Sequence[Shape]) -> int:
    return 0


def _no_macs(p: Params, ins: Sequence[Shape], out: Shape) -> int:
    return 0


@dataclass(frozen=True)
class OpRule:
    """How one op transforms shapes and what it costs."""

    shape: Callable[[Params, Sequence[Shape]], Shape]
    params: Callable[[Params, Sequence[Shape]], int] = _none
    macs: Callable[[Params, Sequence[Shape], Shape], int] = _no_macs
    # Whether `macs` is this op's true cost under the conv+linear convention, or the op
    # does arithmetic that convention leaves out.
    counted: bool = False
    arity: int = 1  # inputs it takes; 0 means any number >= 2


OPS: dict[str, OpRule] = {
    "input": OpRule(_same, counted=True),
    "conv": OpRule(_conv_shape, _conv_params, _conv_macs, counted=True),
    "norm": OpRule(_norm_shape, lambda p, ins: 2 * p["channels"]),
    "act": OpRule(_same),
    "pool": OpRule(_pool_shape),
    "global_pool": OpRule(_global_pool_shape),
    "flatten": OpRule(_flatten_shape, counted=True),
    "linear": OpRule(_linear_shape, _linear_params, _linear_macs, counted=True),
    "dropout": OpRule(_same, counted=True),
    "add": OpRule(_add_shape, arity=0),
    # The residual merge of a block, main + skip: its own op, so that a sum inside a
    # block's branch is never taken for a skip connection.
    "merge": OpRule(_add_shape, arity=2),
    "concat": OpRule(_concat_shape, arity=0, counted=True),
    "pad_skip": OpRule(_pad_skip_shape, counted=True),
    # gate(T, v): T·v, or (1 − T)·v with complement; with a threshold, T is 0/1 in forward
    # and the gradient the soft gate's (gated and sparse skips, highway blocks).
    "gate": OpRule(_gate_shape, arity=2),
    # scale(x, s): x times per-channel weights s of shape (C, 1, 1) (squeeze-excitation).
    "scale": OpRule(_scale_shape, arity=2),
    # Stochastic depth: zero the whole sample with probability p in training.
    "drop_path": OpRule(_same, counted=True),
}


def register_op(name: str, rule: OpRule) -> None:
    """Add an op kind (for block types that need a primitive the core lacks)."""
    if name in OPS and OPS[name] != rule:
        raise ValueError(f"op {name!r} is already registered")
    OPS[name] = rule
