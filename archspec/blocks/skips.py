"""Skip connections: how a residual block merges its branch with its input.

``SKIPS[kind](g, cfg, x, fx, stride, pre)`` returns the block's merged output (before
any post-merge activation), given the block input ``x``, the residual branch output
``fx`` and the block stride. ``pre`` is what a projection or pad skip should read when
it differs from ``x`` (pre-activation blocks project the pre-activated input).

``DOWNSAMPLES[kind](g, cfg, x, out_channels, stride)`` makes the skip side when the
block changes shape. New kinds register here; the config validators read these dicts,
so a registered kind is accepted in specs at once.
"""

from __future__ import annotations

from collections.abc import Callable

from archspec.blocks.base import BlockConfig
from archspec.graph.builder import GraphBuilder, Value

SkipFn = Callable[[GraphBuilder, BlockConfig, Value, Value, int, Value | None], Value]
DownsampleFn = Callable[[GraphBuilder, BlockConfig, Value, int, int], Value]


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


def pad(g: GraphBuilder, cfg: BlockConfig, x: Value, out_channels: int, stride: int) -> Value:
    """He et al. 2015 option A: subsample, then zero-pad the new channels; no parameters."""
    with g.path("skip"):
        return g.pad_skip(x, out_channels, stride, name="downsample")


DOWNSAMPLES: dict[str, DownsampleFn] = {"projection": projection, "pad": pad}


def _shortcut(
    g: GraphBuilder,
    cfg: BlockConfig,
    x: Value,
    fx: Value,
    stride: int,
    pre: Value | None,
    kind: str | None,
) -> Value:
    if kind is None and x.shape == fx.shape and stride == 1:
        return x
    return DOWNSAMPLES[kind or cfg.downsample](g, cfg, pre or x, fx.channels, stride)


def identity(
    g: GraphBuilder, cfg: BlockConfig, x: Value, fx: Value, stride: int, pre: Value | None = None
) -> Value:
    """x + F(x); where the shape changes, the skip is ``cfg.downsample``."""
    return g.add(fx, _shortcut(g, cfg, x, fx, stride, pre, None))


def projection_skip(
    g: GraphBuilder, cfg: BlockConfig, x: Value, fx: Value, stride: int, pre: Value | None = None
) -> Value:
    """A projection on every block, shape change or not (He et al. 2015 option C)."""
    return g.add(fx, _shortcut(g, cfg, x, fx, stride, pre, "projection"))


def pad_skip(
    g: GraphBuilder, cfg: BlockConfig, x: Value, fx: Value, stride: int, pre: Value | None = None
) -> Value:
    """Identity, and option A's parameter-free pad where the shape changes."""
    if x.shape == fx.shape and stride == 1:
        return g.add(fx, x)
    return g.add(fx, _shortcut(g, cfg, x, fx, stride, pre, "pad"))


def no_skip(
    g: GraphBuilder, cfg: BlockConfig, x: Value, fx: Value, stride: int, pre: Value | None = None
) -> Value:
    """A plain block: the branch alone."""
    return fx


SKIPS: dict[str, SkipFn] = {
    "identity": identity,
    "projection": projection_skip,
    "pad": pad_skip,
    "none": no_skip,
}


def residual(
    g: GraphBuilder, cfg: BlockConfig, x: Value, fx: Value, stride: int, pre: Value | None = None
) -> Value:
    """Merge a block's branch with its input the way ``cfg.skip`` says."""
    return SKIPS[cfg.skip](g, cfg, x, fx, stride, pre)
