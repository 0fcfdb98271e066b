"""The ``sk_bottleneck`` block of timm's skresnet50 and skresnext50_32x4d: the ResNeXt
bottleneck whose grouped 3x3 conv is a selective-kernel conv
(:mod:`archspec.blocks.selective_kernel`)::

    conv1 1x1 - bn - relu - conv2 SK 3x3, groups C (stride) - conv3 1x1 - bn - (+ skip)
    - relu

Each SK path is a grouped 3x3 conv over all i inner channels (no input split, as timm's
skresnet50 and skresnext50 have it); the attention width is make_divisible(i / 16, 32).
Parameters (norm: batch), with n paths and attention width a: c_in·i + 2i (conv1)
+ n·(9·i·i/C + 2i) + i·a + 2a + a·n·i (conv2) + i·4w + 8w (conv3), plus the skip's.
Module names are timm's (``conv1.conv``, ``conv2.paths.1.conv``,
``conv2.attn.fc_select``, ``conv3.bn``).

Example::

    import archspec
    archspec.stats("skresnext50_32x4d").params  # 27479784, timm's
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field

from archspec.blocks.base import BlockType
from archspec.blocks.registry import register
from archspec.blocks.resnext import ResNeXtConfig
from archspec.blocks.selective_kernel import make_divisible, selective_kernel
from archspec.blocks.skips import residual
from archspec.spec.limits import MAX_CHANNELS

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value


class SKBottleneckConfig(ResNeXtConfig):
    # Its paths already dilate (1, 2, ...): a stage's dilation has no place in them.
    takes_dilation: ClassVar[bool] = False
    block: Literal["sk_bottleneck"] = "sk_bottleneck"
    paths: Annotated[int, Field(strict=True, ge=2, le=4)] = 2
    "Paths of the selective-kernel conv: 3x3 convs of dilation 1, 2, ... (timm: 2)."
    attn_reduction: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] = 16
    "The attention's width is the inner channels / attn_reduction (timm: 16)."
    attn_divisor: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] = 32
    "... rounded to a multiple of this (timm: 32)."

    def attn_channels(self) -> int:
        return make_divisible(self.inner_width() / self.attn_reduction, self.attn_divisor)


def lower(g: GraphBuilder, cfg: SKBottleneckConfig, x: Value, stride: int) -> Value:
    bias = cfg.norm == "none"
    s1, s3 = (stride, 1) if cfg.stride_at == "1x1" else (1, stride)
    w = cfg.inner_width()
    with g.scope("conv1"):
        out = g.conv(x, w, 1, stride=s1, padding=0, bias=bias, name="conv")
        out = g.act(g.norm(out, cfg.norm, name="bn"), cfg.act, name="act")
    with g.scope("conv2"):
        out = selective_kernel(
            g,
            out,
            w,
            stride=s3,
            paths=cfg.paths,
            attn_channels=cfg.attn_channels(),
            split_input=False,
            groups=cfg.conv_groups(),
            norm=cfg.norm,
            act=cfg.act,
        )
    with g.scope("conv3"):
        out = g.conv(out, cfg.out_channels(x.channels), 1, padding=0, bias=bias, name="conv")
        out = g.norm(out, cfg.norm, name="bn", init="zero" if cfg.zero_init_last else None)
    return g.act(residual(g, cfg, x, out, stride), cfg.act, name="act")


register(
    BlockType(
        "sk_bottleneck",
        SKBottleneckConfig,
        lower,
        "ResNeXt bottleneck whose 3x3 is a selective-kernel conv (skresnext50_32x4d)",
        class_name="SelectiveKernelBottleneck",
    )
)
