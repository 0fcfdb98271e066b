"""Split-attention convolution (Zhang et al. 2020, "ResNeSt: Split-Attention Networks")
and the ``resnest`` bottleneck of timm's resnest14d/26d/50d.

A split-attention conv of r splits (the radix) and C groups (the cardinality) from i to
i channels is one 3x3 conv to r·i channels in C·r groups, whose r splits of i channels
are weighed per channel by attention over the splits::

    x_1 .. x_r = split(act(norm(conv(x))))      conv: i -> r·i, groups C·r
    z = relu(norm(fc1(avgpool(x_1 + ... + x_r))))  fc1: i -> a, groups C, with bias
    w = softmax over the splits of fc2(z)       fc2: a -> r·i, groups C, with bias
    y = w_1 · x_1 + ... + w_r · x_r

fc2's r·i logits come group by group (each group's r splits in turn, timm's
``RadixSoftmax`` layout); with C > 1 they are regrouped split by split (channel parts and
one concat, no arithmetic) before the softmax. With radix 1 the weight is the sigmoid of
fc2 and y = w · x (squeeze-excitation of the conv). The attention width is timm's
a = make_divisible(r·i / attn_reduction, attn_divisor), at least attn_min (4, 8, 32).

The ``resnest`` block is the bottleneck with that conv for its 3x3 and, with ``avd``,
the stride taken off the conv and given to a 3x3 average pool (padding 1) after it (or,
with ``avd_first``, before it)::

    conv1 1x1 - bn1 - act1 - conv2 split-attention 3x3 - [avd_last avg pool 3x3/s]
    - conv3 1x1 - bn3 - (+ skip) - act3

Inner width i = int(width · base_width / 64) · groups (timm's ``group_width``). Parameters
(norm: batch), with output o = width · expansion: c_in·i + 2i (conv1) + 9·i·r·i/(C·r) +
2·r·i (conv2.conv, conv2.bn0) + i·a/C + a + 2a + a·r·i/C + r·i (fc1, bn1, fc2) + i·o + 2o
(conv3), plus the skip's. Module names are timm's (``conv1``, ``bn1``, ``conv2.conv``,
``conv2.bn0``, ``conv2.fc1``, ``conv2.bn1``, ``conv2.fc2``, ``avd_last``, ``conv3``,
``bn3``), so timm's checkpoints load by name.

Example::

    import archspec
    archspec.stats("resnest14d").params  # 10611688, timm's
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from archspec.blocks.base import BlockConfig, BlockType, strided
from archspec.blocks.registry import register
from archspec.blocks.selective_kernel import make_divisible
from archspec.blocks.skips import residual
from archspec.spec.limits import MAX_CHANNELS, MAX_GROUPS

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value


def split_attention(
    g: GraphBuilder,
    x: Value,
    channels: int,
    *,
    stride: int | tuple[int, ...],
    radix: int,
    groups: int,
    attn_channels: int,
    dilation: int = 1,
    norm: object = "batch",
    act: object = "relu",
) -> Value:
    """A split-attention 3x3 conv from ``x`` to ``channels`` channels in the current
    scope: ``conv``, ``bn0``, ``act0``, ``fc1``, ``bn1``, ``act1``, ``fc2`` below it, as
    timm's ``SplitAttn``."""
    wide = radix * channels
    x = g.conv(
        x,
        wide,
        3,
        stride=stride,
        groups=groups * radix,
        dilation=dilation,
        bias=norm == "none",
        name="conv",
    )
    x = g.act(g.norm(x, norm, name="bn0"), act, name="act0")
    splits = [x]
    if radix > 1:
        splits = [
            g.op("channel_part", f"split{r}", [x], index=r, parts=radix) for r in range(radix)
        ]
    u = splits[0]
    for r, split in enumerate(splits[1:], 1):
        u = g.add(u, split, name=f"sum{r}")
    z = g.global_pool(u, "avg", name="pool")
    z = g.conv(z, attn_channels, 1, padding=0, groups=groups, bias=True, name="fc1")
    # The block's norm, as timm's norm_layer; on a 1x1 map instance norm has nothing to
    # normalize over, so it is refused rather than failing in training.
    if getattr(norm, "kind", norm) == "instance":
        raise g.refuse(
            "the split attention normalizes a 1x1 map, which instance norm cannot: use "
            "batch, group, layer or frozen_batch",
            shapes=[z.shape],
        )
    z = g.act(g.norm(z, norm, name="bn1"), "relu", name="act1")
    logits = g.conv(z, wide, 1, padding=0, groups=groups, bias=True, name="fc2")
    if radix == 1:
        weights = g.act(logits, "sigmoid", name="sigmoid")
        return g.op("scale", "scale", [x, weights], roles=["main", "gate"])
    if groups > 1:
        # fc2 writes group by group, each group's splits in turn: regroup split by split.
        parts = groups * radix
        chunks = [
            g.op("channel_part", f"logits{k}", [logits], index=k, parts=parts) for k in range(parts)
        ]
        order = [chunks[c * radix + r] for r in range(radix) for c in range(groups)]
        logits = g.concat(order, name="regroup")
    return g.op("select", "fuse", [*splits, logits])


class ResNeStConfig(BlockConfig):
    block: Literal["resnest"] = "resnest"
    expansion: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] = 4
    "Output channels are width × expansion."
    groups: Annotated[int, Field(strict=True, ge=1, le=MAX_GROUPS)] = 1
    "Cardinality: groups of the split-attention conv and of its attention (timm: 1)."
    base_width: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] | None = 64
    """Channels of each group at width 64: the split-attention conv has
    int(width × base_width / 64) × groups channels per split (timm: 64); null: width is
    that whole width."""
    radix: Annotated[int, Field(strict=True, ge=1, le=8)] = 2
    """Splits of the split-attention conv, weighed by a softmax across them (timm: 2); 1:
    one split scaled by a sigmoid."""
    avd: bool = True
    """A strided block takes its stride in a 3x3 average pool (padding 1) after the
    split-attention conv instead of in the conv (timm's avd)."""
    avd_first: bool = False
    "With avd, the pool comes before the split-attention conv instead (timm's avd_first)."
    attn_reduction: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] = 4
    "The attention's width is radix × the inner channels / attn_reduction (timm: 4) ..."
    attn_divisor: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] = 8
    "... rounded to a multiple of this (timm: 8) ..."
    attn_min: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] = 32
    "... and at least this (timm: 32)."

    takes_dilation: ClassVar[bool] = True

    @model_validator(mode="after")
    def _channels_fit(self) -> ResNeStConfig:
        inner = self.inner_width()
        self.check_channels(inner=inner, split=self.radix * inner, output=self.out_channels(0))
        if self.avd_first and not self.avd:
            raise ValueError("avd_first places the avd pool: it needs avd: true")
        if inner % (self.groups * self.radix):
            raise ValueError(
                f"the split-attention conv has {inner} channels per split, which do not "
                f"divide into groups × radix = {self.groups} × {self.radix}"
            )
        attn = self.attn_channels()
        if attn % self.groups:
            raise ValueError(
                f"the split attention's width is {attn} channels, which do not divide "
                f"into {self.groups} groups: change attn_divisor or attn_min"
            )
        return self

    def inner_width(self) -> int:
        """Channels of one split of the split-attention conv (timm's group_width)."""
        if self.base_width is None:
            return self.width
        # Integer floor, exactly timm's int(planes * (base_width / 64.)) * cardinality.
        return max(self.width * self.base_width // 64, 1) * self.groups

    def attn_channels(self) -> int:
        value = self.radix * self.inner_width() / self.attn_reduction
        return make_divisible(value, self.attn_divisor, minimum=self.attn_min)

    def normed_channels(self) -> dict[str, int]:
        inner = self.inner_width()
        return {
            "the first 1x1 conv": inner,
            "the split-attention conv": self.radix * inner,
            "the split attention": self.attn_channels(),
            "the block's output": self.out_channels(0),
        }

    def out_channels(self, in_channels: int) -> int:
        return self.width * self.expansion


def _avd(g: GraphBuilder, x: Value, stride: int | tuple[int, ...], name: str) -> Value:
    """timm's avd pool: 3x3 average, padding 1, with the block's stride (an axis that
    keeps its size gets a window of 1, so it is not blurred)."""
    if isinstance(stride, int):
        return g.pool(x, "avg", 3, stride, 1, name=name)
    kernel = tuple(3 if s > 1 else 1 for s in stride)
    padding = tuple(1 if s > 1 else 0 for s in stride)
    return g.pool(x, "avg", kernel, stride, padding, name=name)


def lower(g: GraphBuilder, cfg: ResNeStConfig, x: Value, stride: int) -> Value:
    bias = cfg.norm == "none"
    w = cfg.inner_width()
    avd = cfg.avd and strided(stride)
    out = g.conv(x, w, 1, padding=0, bias=bias, name="conv1")
    out = g.act(g.norm(out, cfg.norm, name="bn1"), cfg.act, name="act1")
    if avd and cfg.avd_first:
        out = _avd(g, out, stride, "avd_first")
    with g.scope("conv2"):
        out = split_attention(
            g,
            out,
            w,
            stride=1 if avd else stride,
            radix=cfg.radix,
            groups=cfg.groups,
            attn_channels=cfg.attn_channels(),
            dilation=g.dilation[0],
            norm=cfg.norm,
            act=cfg.act,
        )
    if avd and not cfg.avd_first:
        out = _avd(g, out, stride, "avd_last")
    out = g.conv(out, cfg.out_channels(x.channels), 1, padding=0, bias=bias, name="conv3")
    out = g.norm(out, cfg.norm, name="bn3", init="zero" if cfg.zero_init_last else None)
    return g.act(residual(g, cfg, x, out, stride), cfg.act, name="act3")


register(
    BlockType(
        "resnest",
        ResNeStConfig,
        lower,
        "bottleneck whose 3x3 is a split-attention conv (ResNeSt, Zhang et al. 2020)",
        class_name="ResNestBottleneck",
    )
)
