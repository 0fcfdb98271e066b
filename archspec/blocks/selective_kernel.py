"""Selective-kernel convolution (Li, Wang, Hu and Yang 2019, "Selective Kernel Networks")
and the ``sk_basic`` block of timm's skresnet18/34.

A selective-kernel conv runs n paths over its input, each a 3x3 conv + norm + act, the
i-th dilated i times (timm keeps every kernel 3x3 and dilates instead of growing it:
3x3 and "5x5" are dilation 1 and 2). Channel attention fuses them::

    u = sum_i path_i(x_i)                      x_i: the i-th n-th of the channels (split)
    z = act(norm(fc_reduce(avgpool(u))))       c -> a channels, 1x1 conv without bias
    w = softmax over paths of fc_select(z)     a -> n·c, one logit per path and channel
    y = sum_i w_i · path_i(x_i)

With ``split_input`` (timm's skresnet18) each path reads only its share of the input
channels; without it every path reads all of them. The attention width is timm's
``make_divisible(c / attn_reduction, attn_divisor)``: c/r rounded to the nearest multiple
of the divisor, at least the divisor, and never below 90 % of c/r.

Parameters of one SK conv from c_in to c channels with n paths, attention width a (norm:
batch): n·(9·(c_in/n)·c + 2c) with split input (n·(9·c_in·c + 2c) without), plus
c·a + 2a + a·n·c. MACs: the convs' k²·c_in'·c per output pixel and c·a + a·n·c for the
attention's 1x1 convs on one pixel.

``sk_basic`` is the basic block with its first conv a selective-kernel conv::

    conv1 SK 3x3 (stride) - conv2 3x3 - bn - (+ skip) - relu

named as timm names it (``conv1.paths.0.conv``, ``conv1.attn.fc_select``,
``conv2.conv``, ``conv2.bn``), so timm's checkpoints load by name.

Example::

    import archspec
    archspec.stats("skresnet18").params  # 11958056, timm's
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from archspec.blocks.base import BlockConfig, BlockType
from archspec.blocks.registry import register
from archspec.blocks.skips import residual
from archspec.spec.limits import MAX_CHANNELS

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value


def make_divisible(value: float, divisor: int, *, minimum: int | None = None) -> int:
    """``value`` to the nearest multiple of ``divisor``, at least ``minimum`` (by default
    ``divisor``) and never below 90 % of ``value`` (timm's and MobileNet's rounding):
    ``make_divisible(8, 16)`` is 16."""
    out = max(minimum or divisor, int(value + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * value else out


# -- the selective-kernel conv --------------------------------------------------------------


def selective_kernel(
    g: GraphBuilder,
    x: Value,
    out_channels: int,
    *,
    stride: int,
    paths: int,
    attn_channels: int,
    split_input: bool,
    groups: int = 1,
    norm: str = "batch",
    act: str = "relu",
) -> Value:
    """A selective-kernel conv of ``paths`` 3x3 paths (dilations 1 .. paths) in the
    current scope: ``paths.i.{conv, bn, act}`` and ``attn.{fc_reduce, bn, act,
    fc_select}`` below it, as timm's ``SelectiveKernel``."""
    share = x.channels // paths if split_input else x.channels
    if split_input and x.channels % paths:
        raise g.refuse(
            f"the selective-kernel conv splits its {x.channels} input channels among {paths} "
            f"paths, which do not divide them; use split_input: false or another width",
            shapes=[x.shape],
        )
    if share % groups or out_channels % groups:
        raise g.refuse(
            f"the selective-kernel conv's paths take {share} -> {out_channels} channels, "
            f"which do not divide into {groups} groups",
            shapes=[x.shape],
        )
    outs = []
    for i in range(paths):
        xi = x
        if split_input:
            xi = g.op("channel_part", f"split{i}", [x], index=i, parts=paths)
        with g.scope(f"paths.{i}"):
            d = i + 1
            conv = dict(in_channels=share, out_channels=out_channels, kernel=3, stride=stride)
            out = g.op(
                "conv",
                "conv",
                [xi],
                **conv,
                padding=d,
                dilation=d,
                groups=groups,
                bias=norm == "none",
            )
            outs.append(g.act(g.norm(out, norm, name="bn"), act, name="act"))
    u = outs[0]
    for i, out in enumerate(outs[1:], 1):
        u = g.add(u, out, name=f"sum{i}")
    with g.scope("attn"):
        z = g.global_pool(u, "avg", name="pool")
        z = g.conv(z, attn_channels, 1, padding=0, name="fc_reduce")
        # The block's norm, as timm's norm_layer; on a 1x1 map instance norm has nothing
        # to normalize over, so it is refused rather than failing in training.
        if norm == "instance":
            raise g.refuse(
                "the selective-kernel attention normalizes a 1x1 map, which instance norm "
                "cannot: use batch, group, layer or frozen_batch",
                shapes=[z.shape],
            )
        z = g.act(g.norm(z, norm, name="bn"), "relu", name="act")
        z = g.conv(z, paths * out_channels, 1, padding=0, name="fc_select")
    return g.op("select", "select", [*outs, z])


class SKBasicConfig(BlockConfig):
    block: Literal["sk_basic"] = "sk_basic"
    paths: Annotated[int, Field(strict=True, ge=2, le=4)] = 2
    "Paths of the selective-kernel conv: 3x3 convs of dilation 1, 2, ... (timm: 2)."
    attn_reduction: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] = 8
    "The attention's width is the conv's channels / attn_reduction (skresnet18: 8)."
    attn_divisor: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] = 16
    "... rounded to a multiple of this (skresnet18: 16)."
    split_input: bool = True
    "Each path reads its n-th of the input channels (timm's skresnet18), not all."

    @model_validator(mode="after")
    def _channels_fit(self) -> SKBasicConfig:
        self.check_channels(attention=self.paths * self.width)
        return self

    def attn_channels(self) -> int:
        return make_divisible(self.width / self.attn_reduction, self.attn_divisor)


def lower(g: GraphBuilder, cfg: SKBasicConfig, x: Value, stride: int) -> Value:
    bias = cfg.norm == "none"
    with g.scope("conv1"):
        out = selective_kernel(
            g,
            x,
            cfg.width,
            stride=stride,
            paths=cfg.paths,
            attn_channels=cfg.attn_channels(),
            split_input=cfg.split_input,
            norm=cfg.norm,
            act=cfg.act,
        )
    with g.scope("conv2"):
        out = g.conv(out, cfg.width, 3, bias=bias, name="conv")
        out = g.norm(out, cfg.norm, name="bn", init="zero" if cfg.zero_init_last else None)
    return g.act(residual(g, cfg, x, out, stride), cfg.act, name="act")


register(
    BlockType(
        "sk_basic",
        SKBasicConfig,
        lower,
        "basic block whose first conv is a selective-kernel conv (skresnet18/34)",
        class_name="SelectiveKernelBasic",
    )
)
