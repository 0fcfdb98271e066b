"""The RegNet block (Radosavovic et al. 2020, "Designing Network Design Spaces"): the
ResNeXt bottleneck with a fixed group width instead of a fixed cardinality, and in
RegNetY a squeeze-excitation between its 3x3 conv and its last 1x1 conv::

    f.a 1x1 - bn - relu - f.b 3x3, groups i / group_width (stride) - bn - relu
    - f.se (squeezed to round(se_ratio · c_in)) - f.c 1x1 - bn - (+ skip) - relu

``width`` is the block's output channels w; its inner width is i = round(w · bottle_ratio)
(1 in the paper's RegNets, so i = w), cut into i / group_width groups. The SE's squeezed
width comes from the block's input channels c_in, not from i (the paper's and both
libraries' choice), and its activation is the block's. Without ``se_ratio`` (the
default) the block is RegNetX's. Parameters (norm: batch), with s = round(se_ratio · c_in):
c_in·i + 2i + 9·i·group_width + 2i + (2·i·s + s + i) + i·w + 2w, plus the skip's
(c_in·w + 2w for a projection).

The modules inside a block are torchvision's (the branch ``f``: ``f.a.0`` conv,
``f.a.1`` norm, ``f.b.0``, ``f.b.1``, ``f.se.fc1``, ``f.se.fc2``, ``f.c.0``, ``f.c.1``),
the skip archspec's (``downsample.0``, ``downsample.1``). The stem, stage and block
paths are archspec's (``conv1``, ``layer2.0``), so neither library's checkpoint loads by
name as a whole: both load through :func:`archspec.port_state_dict`, which pairs
modules whose paths end alike first (torchvision's ``...block2-0.f.a.0`` with
``layer2.0.f.a.0``) and the rest by order and shape (timm's ``s2.b1.conv1.conv``).

:func:`regnet_stages` derives the stages from the design space's parameters (w0, wa,
wm, depth, group width)::

    from archspec.blocks.regnet import regnet_stages
    regnet_stages(w0=48, wa=27.89, wm=2.09, depth=16, group_width=8)
    # [(48, 1), (104, 3), (208, 6), (440, 6)]: RegNetY-400MF's (width, depth)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from archspec.blocks.attachments import squeeze_excite
from archspec.blocks.base import BlockConfig, BlockType
from archspec.blocks.registry import register
from archspec.blocks.skips import residual
from archspec.spec.limits import MAX_CHANNELS

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value


class RegNetConfig(BlockConfig):
    block: Literal["regnet"] = "regnet"
    width: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)]
    "The block's output channels (the paper's w_i); the inner width is w · bottle_ratio."
    group_width: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] = 1
    """Channels of each group of the 3x3 conv (the paper's g): the conv has inner width /
    group_width groups, so the inner width must divide by it. 1 (the default, which fits
    any width) makes the 3x3 conv depthwise; the paper's RegNets set 8 to 528 (8 in
    RegNetY-400MF)."""
    bottle_ratio: Annotated[float, Field(gt=0.0, le=64.0, allow_inf_nan=False)] = 1.0
    """The inner width (of the 1x1 and 3x3 convs) is round(width × bottle_ratio) (the
    paper's b; 1 in every RegNet of the paper)."""
    se_ratio: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] | None = None
    """RegNetY's squeeze-excitation after the 3x3 conv, squeezed to round(se_ratio × the
    block's input channels), not of its inner width (the paper's 0.25); null: no SE, a
    RegNetX block."""

    @model_validator(mode="after")
    def _groups_divide(self) -> RegNetConfig:
        inner = self.inner_width()
        self.check_channels(inner=inner)
        if inner % self.group_width:
            raise ValueError(
                f"the grouped 3x3 conv has {inner} channels, which do not divide into "
                f"groups of {self.group_width}"
            )
        return self

    def inner_width(self) -> int:
        """Channels of the 1x1 and 3x3 convs: round(width × bottle_ratio), at least 1."""
        return max(1, round(self.width * self.bottle_ratio))

    def conv_groups(self) -> int:
        return self.inner_width() // self.group_width

    def se_width(self, in_channels: int) -> int:
        """The SE's squeezed width for a block of ``in_channels`` inputs (0: no SE)."""
        if self.se_ratio is None:
            return 0
        # Python's round (halves to even), as the paper's code and both libraries round.
        return max(1, round(self.se_ratio * in_channels))

    def normed_channels(self) -> dict[str, int]:
        return {"the 3x3 conv": self.inner_width(), "the block's output": self.width}


def lower(g: GraphBuilder, cfg: RegNetConfig, x: Value, stride: int) -> Value:
    bias = cfg.norm == "none"
    inner = cfg.inner_width()
    with g.scope("f"):  # the residual branch (torchvision's BottleneckTransform)
        with g.scope("a"):
            out = g.conv(x, inner, 1, padding=0, bias=bias, name="0")
            out = g.act(g.norm(out, cfg.norm, name="1"), cfg.act, name="2")
        with g.scope("b"):
            out = g.conv(
                out, inner, 3, stride=stride, groups=cfg.conv_groups(), bias=bias, name="0"
            )
            out = g.act(g.norm(out, cfg.norm, name="1"), cfg.act, name="2")
        if cfg.se_ratio is not None:
            out = squeeze_excite(g, out, squeezed=cfg.se_width(x.channels), act=cfg.act)
        with g.scope("c"):
            out = g.conv(out, cfg.width, 1, padding=0, bias=bias, name="0")
            out = g.norm(out, cfg.norm, name="1", init="zero" if cfg.zero_init_last else None)
    return g.act(residual(g, cfg, x, out, stride), cfg.act, name="activation")


def regnet_stages(
    w0: int, wa: float, wm: float, depth: int, group_width: int, quant: int = 8
) -> list[tuple[int, int]]:
    """The stages, as (width, depth), of the RegNet with these design-space parameters.

    Block j (of ``depth``) gets the linear width u_j = w0 + wa·j, snapped to the
    nearest power of wm times w0, w0·wm^round(log(u_j / w0) / log(wm)), and rounded to
    a multiple of ``quant``; blocks of one width form a stage. Each stage's width is then
    rounded to a multiple of its group width (the group width capped at the width), as
    the paper's code does. torchvision rounds that last step up at halves and never
    below 90 % of the width; for the RegNets of the paper the two agree.
    """
    if not (w0 > 0 and w0 % quant == 0 and wa >= 0 and wm > 1 and depth >= 1):
        raise ValueError("RegNet needs w0 > 0 (a multiple of quant), wa >= 0, wm > 1")
    widths = []
    for j in range(depth):
        exponent = round(math.log((w0 + wa * j) / w0) / math.log(wm))
        widths.append(round(w0 * wm**exponent / quant) * quant)
    stages: list[tuple[int, int]] = []
    for w in widths:
        if stages and stages[-1][0] == w:
            stages[-1] = (w, stages[-1][1] + 1)
        else:
            stages.append((w, 1))
    fitted = []
    for w, d in stages:
        gw = min(group_width, w)
        fitted.append((round(w / gw) * gw, d))
    return fitted


register(
    BlockType(
        "regnet",
        RegNetConfig,
        lower,
        "bottleneck of fixed group width (RegNetX); se_ratio: SE from the block input (RegNetY)",
        class_name="RegNetBottleneck",
    )
)
