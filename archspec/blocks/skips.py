"""Skip connections: how a residual block merges its branch with its input.

``SKIPS[kind](g, cfg, x, fx, stride, pre)`` returns the block's merged output (before
any post-merge activation), given the block input ``x``, the residual branch output
``fx`` and the block stride. ``pre`` is what a projection or pad skip should read when
it differs from ``x`` (pre-activation blocks project the pre-activated input).

``DOWNSAMPLES[kind](g, cfg, x, out_channels, stride)`` makes the skip side when the
block changes shape. New kinds register here; the config validators read these dicts,
so a registered kind is accepted in specs at once.

Gated and sparse skips learn how much of the branch to take: a 1x1 conv of the block
input (bias ``gate_bias``) and a sigmoid make the gate T(x), with the branch's shape; the
block's merge is T(x)·F(x) + (1 − T(x))·x (Srivastava et al. 2015's transform and carry
gates), still one ``add`` of a main and a skip side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from archspec.blocks.attachments import attach
from archspec.blocks.base import BlockConfig, strided

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value

SkipFn = Callable[["GraphBuilder", BlockConfig, "Value", "Value", int, "Value | None"], "Value"]
DownsampleFn = Callable[["GraphBuilder", BlockConfig, "Value", int, int], "Value"]


def projection(
    g: GraphBuilder, cfg: BlockConfig, x: Value, out_channels: int, stride: int
) -> Value:
    """1x1 conv and norm on the skip (torchvision's ``downsample.0`` / ``downsample.1``)."""
    with g.path("skip"):
        out = g.conv(
            x,
            out_channels,
            1,
            stride=stride,
            padding=0,
            name="downsample.0",
            bias=cfg.norm == "none",
        )
        return g.norm(out, cfg.norm, name="downsample.1")


def avgproj(g: GraphBuilder, cfg: BlockConfig, x: Value, out_channels: int, stride: int) -> Value:
    """ResNet-D (He et al. 2019, "Bag of Tricks"): average-pool by the stride, then a 1x1
    conv and norm, so the skip reads every pixel rather than one in stride² (modules
    ``downsample.0`` pool, ``.1`` conv, ``.2`` norm, as timm's ResNet-D). In a dilated
    stage, whose stride became dilation, the pool stays as timm keeps it: 2x2 at stride
    1 over the map padded by one zero row and column at the end ("same" size)."""
    with g.path("skip"):
        if strided(stride):
            x = g.op(
                "pool",
                "downsample.0",
                [x],
                kind="avg",
                kernel=stride,
                stride=stride,
                padding=0,
                ceil=True,
            )
        elif g.dilation[1] > 1:
            x = g.op(
                "pool", "downsample.0", [x], kind="avg", kernel=2, stride=1, padding=0, pad_end=1
            )
        out = g.conv(x, out_channels, 1, padding=0, name="downsample.1", bias=cfg.norm == "none")
        return g.norm(out, cfg.norm, name="downsample.2")


def pad(g: GraphBuilder, cfg: BlockConfig, x: Value, out_channels: int, stride: int) -> Value:
    """He et al. 2015 option A: subsample, then zero-pad the new channels; no parameters."""
    with g.path("skip"):
        return g.pad_skip(x, out_channels, stride, name="downsample")


def conv(g: GraphBuilder, cfg: BlockConfig, x: Value, out_channels: int, stride: int) -> Value:
    """A 1x1 conv alone, no norm (``downsample.0``): the projection of the pre-activation
    and Wide ResNet reference code, where the next block's own norm follows it."""
    with g.path("skip"):
        return g.conv(
            x,
            out_channels,
            1,
            stride=stride,
            padding=0,
            name="downsample.0",
            bias=cfg.norm == "none",
        )


DOWNSAMPLES: dict[str, DownsampleFn] = {
    "projection": projection,
    "avgproj": avgproj,
    "pad": pad,
    "conv": conv,
}


def _shortcut(
    g: GraphBuilder,
    cfg: BlockConfig,
    x: Value,
    fx: Value,
    stride: int,
    pre: Value | None,
    downsample: str,
    always: bool = False,
) -> Value:
    """The skip side: ``x`` itself where the shape is kept (unless ``always``), else the
    ``downsample`` kind applied to ``pre`` (or ``x``)."""
    if not always and x.shape == fx.shape and not strided(stride):
        return x
    return DOWNSAMPLES[downsample](g, cfg, pre or x, fx.channels, stride)


def identity(
    g: GraphBuilder, cfg: BlockConfig, x: Value, fx: Value, stride: int, pre: Value | None = None
) -> Value:
    """x + F(x); where the shape changes, the skip is ``cfg.downsample``."""
    return g.merge(fx, _shortcut(g, cfg, x, fx, stride, pre, cfg.downsample))


def projection_skip(
    g: GraphBuilder, cfg: BlockConfig, x: Value, fx: Value, stride: int, pre: Value | None = None
) -> Value:
    """A projection on every block, shape change or not (He et al. 2015 option C)."""
    return g.merge(fx, _shortcut(g, cfg, x, fx, stride, pre, "projection", always=True))


def pad_skip(
    g: GraphBuilder, cfg: BlockConfig, x: Value, fx: Value, stride: int, pre: Value | None = None
) -> Value:
    """Identity, and option A's parameter-free pad where the shape changes."""
    return g.merge(fx, _shortcut(g, cfg, x, fx, stride, pre, "pad"))


def no_skip(
    g: GraphBuilder, cfg: BlockConfig, x: Value, fx: Value, stride: int, pre: Value | None = None
) -> Value:
    """A plain block: the branch alone."""
    return fx


def _gated_merge(
    g: GraphBuilder,
    cfg: BlockConfig,
    x: Value,
    fx: Value,
    stride: int,
    pre: Value | None,
    threshold: float | None,
) -> Value:
    with g.path("gate"):
        logits = g.op(
            "conv",
            "gate.conv",
            [x],
            in_channels=x.channels,
            out_channels=fx.channels,
            kernel=1,
            stride=stride,
            padding=0,
            groups=1,
            bias=True,
            bias_init=cfg.gate_bias,
        )
        gate = g.act(logits, "sigmoid", name="gate.sigmoid")
    carry = _shortcut(g, cfg, x, fx, stride, pre, cfg.downsample)
    params = {"complement": False, "threshold": threshold}
    taken = g.op("gate", "gate.transform", [gate, fx], roles=["gate", "main"], **params)
    with g.path("skip"):
        params["complement"] = True
        kept = g.op("gate", "gate.carry", [gate, carry], roles=["gate", "skip"], **params)
    return g.merge(taken, kept)


def gated(
    g: GraphBuilder, cfg: BlockConfig, x: Value, fx: Value, stride: int, pre: Value | None = None
) -> Value:
    """Highway merge (Srivastava et al. 2015): T(x)·F(x) + (1 − T(x))·x, T the sigmoid of
    a 1x1 conv of the input whose bias starts at ``gate_bias``; where the shape changes,
    the carried x is ``cfg.downsample``. Parameters: c_in·c_out + c_out for the gate."""
    return _gated_merge(g, cfg, x, fx, stride, pre, None)


def sparse(
    g: GraphBuilder, cfg: BlockConfig, x: Value, fx: Value, stride: int, pre: Value | None = None
) -> Value:
    """The gated merge with T(x) rounded to 0 or 1 at ``threshold`` in forward, so each
    position takes the branch or its input whole; backward uses the soft gate's gradient
    (straight-through), so the gate and the branch still learn."""
    return _gated_merge(g, cfg, x, fx, stride, pre, cfg.threshold)


SKIPS: dict[str, SkipFn] = {
    "identity": identity,
    "projection": projection_skip,
    "pad": pad_skip,
    "gated": gated,
    "sparse": sparse,
    "none": no_skip,
}


def residual(
    g: GraphBuilder, cfg: BlockConfig, x: Value, fx: Value, stride: int, pre: Value | None = None
) -> Value:
    """Merge a block's branch with its input the way ``cfg.skip`` says, after the block's
    attachments (squeeze-excitation, stochastic depth) are applied to the branch."""
    return SKIPS[cfg.skip](g, cfg, x, attach(g, cfg, fx), stride, pre)
