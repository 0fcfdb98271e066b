"""Cross-stage partial stages (Wang et al. 2020, "CSPNet: A New Backbone that can Enhance
Learning Capability of CNN"), in timm's CspNet layout: a stage splits its feature map in
two halves, runs its residual blocks on one, and merges the other back in after them, so
only half the channels pass through the blocks::

    conv_down 3x3/stride (strided stages only) - conv_exp 1x1 (e = width·expand_ratio)
    - split: xs (first e/2 channels), xb (the other e/2)
    xb - blocks (depth bottlenecks) - conv_transition_b 1x1 (e/2)
    cat(xs, xb) - conv_transition 1x1 (width)

Each of conv_down, conv_exp and the transitions is conv, norm and act (``conv_exp.conv``,
``conv_exp.bn``, ``conv_exp.act``, as timm's ConvNormAct); with ``cross_linear`` the
expansion has no act. Each block is timm's bottleneck (``blocks.0``)::

    conv1 1x1 (m) - conv2 3x3 (m, groups) - conv3 1x1 (b, no act) - (+ skip) - act3

with b = round(width·block_ratio) and m = round(b·bottle_ratio). Module paths follow
timm's inside each stage (``layer1.conv_exp.conv``, ``layer1.blocks.0.conv1.conv``); the
stem, the stages (``layer1`` for timm's ``stages.0``) and the head keep archspec's names.

Parameters (norm: batch) of a stage from c channels, with h = e/2 and d the channels
conv_down gives (c; the width with ``down_growth``; c where the stage does not stride):
9·c·d/groups + 2·d (strided stages only) + d·e + 2·e (conv_exp), per block h·m +
9·m·m/groups + m·b + 2·(m + m + b) (plus the skip's where h differs from b), b·h + 2·h
(conv_transition_b) and e·width + 2·width (conv_transition).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from archspec.blocks.base import BlockConfig, BlockType, strided
from archspec.blocks.registry import register
from archspec.blocks.skips import residual
from archspec.spec.limits import MAX_CHANNELS, MAX_GROUPS

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value

Ratio = Annotated[float, Field(gt=0.0, le=16.0, allow_inf_nan=False)]


def _channels(n: int, ratio: float) -> int:
    # timm's int(round(n * ratio)): Python's round, halves to even.
    return round(n * ratio)


class CspConfig(BlockConfig):
    block: Literal["csp"] = "csp"
    width: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)]
    "The stage's output channels (timm's out_chs): what conv_transition gives."
    expand_ratio: Ratio = 2.0
    """conv_exp gives round(width × expand_ratio) channels, split in two equal halves (so
    the count must be even): one runs through the blocks, the other crosses the stage."""
    block_ratio: Ratio = 1.0
    "The blocks' output channels are round(width × block_ratio)."
    bottle_ratio: Ratio = 0.5
    """The blocks' inner channels (their 3x3 conv) are round(block output ×
    bottle_ratio)."""
    groups: Annotated[int, Field(strict=True, ge=1, le=MAX_GROUPS)] = 1
    "Conv groups of the blocks' 3x3 convs and of conv_down (32 in cspresnext50)."
    cross_linear: bool = True
    "No activation after conv_exp (its norm only), as timm's cspresnet50 has it."
    down_growth: bool = False
    """conv_down gives the stage's width instead of keeping its input's channels (timm's
    down_growth, as in cspdarknet53)."""

    def expanded(self) -> int:
        return _channels(self.width, self.expand_ratio)

    def block_width(self) -> int:
        return _channels(self.width, self.block_ratio)

    def inner_width(self) -> int:
        return _channels(self.block_width(), self.bottle_ratio)

    def normed_channels(self) -> dict[str, int]:
        return {
            "conv_exp": self.expanded(),
            "the blocks' 3x3 conv": self.inner_width(),
            "the blocks' output": self.block_width(),
            "conv_transition_b": self.expanded() // 2,
            "conv_transition": self.width,
        }

    @model_validator(mode="after")
    def _channels_fit(self) -> CspConfig:
        e, b, m = self.expanded(), self.block_width(), self.inner_width()
        if e < 2 or e % 2:
            raise ValueError(
                f"conv_exp would give {e} channels (width {self.width} × expand_ratio "
                f"{self.expand_ratio:g}), which do not split into two equal halves"
            )
        if b < 1 or m < 1:
            raise ValueError(
                f"the blocks would have {b} output and {m} inner channels: block_ratio "
                "and bottle_ratio must leave at least one"
            )
        if m % self.groups:
            raise ValueError(
                f"the blocks' grouped 3x3 conv has {m} channels, which do not divide into "
                f"{self.groups} groups"
            )
        self.check_channels(expanded=e, block=b)
        return self


def conv_norm_act(
    g: GraphBuilder,
    cfg: CspConfig,
    x: Value,
    channels: int,
    kernel: int,
    name: str,
    *,
    stride: int | tuple[int, ...] = 1,
    groups: int = 1,
    act: bool = True,
    init: str | None = None,
) -> Value:
    """timm's ConvNormAct: ``name.conv``, ``name.bn`` and (unless ``act`` is off)
    ``name.act``."""
    out = g.conv(
        x,
        channels,
        kernel,
        stride=stride,
        padding=kernel // 2,
        groups=groups,
        bias=cfg.norm == "none",
        name=f"{name}.conv",
    )
    out = g.norm(out, cfg.norm, name=f"{name}.bn", init=init)
    return g.act(out, cfg.act, name=f"{name}.act") if act else out


def lower(g: GraphBuilder, cfg: CspConfig, x: Value, stride: int) -> Value:
    """One block of a stage's split half (the stride is the stage's, on conv_down, so a
    block never strides). Stages go through :func:`lower_stage`."""
    out = conv_norm_act(g, cfg, x, cfg.inner_width(), 1, "conv1")
    out = conv_norm_act(g, cfg, out, cfg.inner_width(), 3, "conv2", groups=cfg.groups)
    zero = "zero" if cfg.zero_init_last else None
    out = conv_norm_act(g, cfg, out, cfg.block_width(), 1, "conv3", act=False, init=zero)
    return g.act(residual(g, cfg, x, out, 1), cfg.act, name="act3")


def lower_stage(g: GraphBuilder, cfg: CspConfig, x: Value) -> Value:
    if strided(cfg.stride):
        down = cfg.width if cfg.down_growth else x.channels
        x = conv_norm_act(g, cfg, x, down, 3, "conv_down", stride=cfg.stride, groups=cfg.groups)
    e = cfg.expanded()
    x = conv_norm_act(g, cfg, x, e, 1, "conv_exp", act=not cfg.cross_linear)
    cross = g.op("channel_part", "cross", [x], index=0, parts=2)
    out = g.op("channel_part", "part", [x], index=1, parts=2)
    for j in range(cfg.depth):
        with g.block(f"blocks.{j}", out, kind=cfg.block, skip=cfg.skip, index=j) as record:
            out = lower(g, cfg, out, 1)
            record.out_shape = out.shape
    out = conv_norm_act(g, cfg, out, e // 2, 1, "conv_transition_b")
    out = g.concat([cross, out], name="cat")
    return conv_norm_act(g, cfg, out, cfg.width, 1, "conv_transition")


register(
    BlockType(
        "csp",
        CspConfig,
        lower,
        "cross-stage partial stages of bottlenecks (CSPNet, Wang et al. 2020)",
        lower_stage=lower_stage,
        class_name="BottleneckBlock",  # timm's
    )
)
