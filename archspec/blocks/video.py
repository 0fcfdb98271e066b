"""The basic block of torchvision's video ResNets (``r3d_18``, ``mc3_18``, ``r2plus1d_18``).

Two 3x3x3 convolutions as the basic block has them, with ``conv`` choosing how each is
made, per stage or in ``defaults``:

- ``full``: one 3-D conv, 3 on every axis (r3d; at rank 1 and 2 it is the basic block's
  conv, 3 and 3x3);
- ``spatial``: 1x3x3, frames kept apart (mc3's later stages, "mixed convolution");
- ``factorized``: (2+1)-D, a 1x3x3 spatial conv to ``m`` channels, norm, act, then a
  3x1x1 temporal conv (r2plus1d), ``m = (c_in·c_out·27) // (c_in·9 + 3·c_out)`` from the
  block's input and output channels, as torchvision computes it, so the factorised block
  has about the parameters of the full one.

``spatial`` and ``factorized`` need a 3-D input (``input.size: [D, H, W]``). The stride
is written per axis where the frames are kept (``stride: [1, 2, 2]``); a factorised
conv puts the spatial part of it on the 1x3x3 conv and the temporal part on the 3x1x1.

Module paths are torchvision's: ``layer2.0.conv1.0`` (the conv, or the factorised pair's
``conv1.0.0`` and ``conv1.0.3``), ``conv1.1`` (its norm), ``conv2.0``, ``conv2.1``,
``downsample.0``, so torchvision's checkpoints load by name::

    conv1.0 (stride) - conv1.1 norm - conv1.2 act - conv2.0 - conv2.1 norm - (+ skip) - relu
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from archspec.blocks.base import BlockConfig, BlockType
from archspec.blocks.registry import register
from archspec.blocks.skips import residual

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value

Conv = Literal["full", "spatial", "factorized"]


class VideoConfig(BlockConfig):
    block: Literal["video"] = "video"
    conv: Conv = "full"
    """How each 3x3x3 conv is made: full (3-D), spatial (1x3x3, frames kept apart) or
    factorized ((2+1)-D: 1x3x3 to mid channels, norm, act, 3x1x1)."""

    def normed_channels(self) -> dict[str, int]:
        # a factorised conv's mid norm depends on the block's input: checked when lowered
        return {"the block's convs": self.width}


def mid_channels(in_channels: int, out_channels: int) -> int:
    """torchvision's (2+1)-D rule: the factorised pair has about a full conv's parameters.

    Example::

        mid_channels(64, 64)   # 144
    """
    return (in_channels * out_channels * 27) // (in_channels * 9 + 3 * out_channels)


def _per_axis(stride: int | tuple[int, ...], rank: int) -> tuple[int, ...]:
    return (stride,) * rank if isinstance(stride, int) else tuple(stride)


def video_conv(
    g: GraphBuilder,
    cfg: VideoConfig,
    x: Value,
    out_channels: int,
    mid: int,
    stride: int | tuple[int, ...],
    name: str,
) -> Value:
    """One of the block's 3x3x3 convs, made as ``cfg.conv`` says, named ``name``."""
    bias = cfg.norm == "none"
    if cfg.conv == "full":
        return g.conv(x, out_channels, 3, stride=stride, bias=bias, name=name)
    t, h, w = _per_axis(stride, 3)
    if cfg.conv == "spatial":
        return g.conv(x, out_channels, (1, 3, 3), stride=(t, h, w), bias=bias, name=name)
    out = g.conv(x, mid, (1, 3, 3), stride=(1, h, w), bias=bias, name=f"{name}.0")
    out = g.act(g.norm(out, cfg.norm, name=f"{name}.1"), cfg.act, name=f"{name}.2")
    return g.conv(out, out_channels, (3, 1, 1), stride=(t, 1, 1), bias=bias, name=f"{name}.3")


def lower(g: GraphBuilder, cfg: VideoConfig, x: Value, stride: int) -> Value:
    width = cfg.width
    # One mid width for both convs, from the block's input: torchvision's BasicBlock.
    mid = mid_channels(x.channels, width)
    out = video_conv(g, cfg, x, width, mid, stride, "conv1.0")
    out = g.act(g.norm(out, cfg.norm, name="conv1.1"), cfg.act, name="conv1.2")
    out = video_conv(g, cfg, out, width, mid, 1, "conv2.0")
    out = g.norm(out, cfg.norm, name="conv2.1", init="zero" if cfg.zero_init_last else None)
    return g.act(residual(g, cfg, x, out, stride), cfg.act)


register(
    BlockType(
        "video",
        VideoConfig,
        lower,
        "two 3x3x3 convs, full, spatial (1x3x3) or (2+1)-D (torchvision's video ResNets)",
        class_name="BasicBlock",
    )
)
