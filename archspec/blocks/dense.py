"""DenseNet (Huang et al. 2017, "Densely Connected Convolutional Networks"): each layer
reads every feature map of its stage so far, concatenated, and adds ``width`` new
channels to them (the growth rate k)::

    cat(x0, f1 .. f(l-1)) - norm1 - relu1 - conv1 1x1 (bn_size·k) - norm2 - relu2
    - conv2 3x3 (k)  ->  fl

A stage of n layers outputs cat(x0, f1 .. fn), c + n·k channels. A stage with a stride
starts with a transition (``transition.norm``, ``.relu``, ``.conv`` 1x1 to
int(c·compression) channels, ``.pool`` average by the stride), and a network of dense
stages ends with a norm and ReLU before the pool, as torchvision's DenseNet. With
``memory_efficient`` each layer's concat, norm1, relu1 and conv1 are recomputed in
backward instead of kept (torchvision's option of the same name).

Parameters (norm: batch) of a layer reading c_l channels, with b = bn_size·k:
2·c_l + c_l·b + 2·b + 9·b·k; of a transition from c channels: 2·c + c·int(c·compression).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from archspec.blocks.attachments import squeeze_excite
from archspec.blocks.base import BlockConfig, BlockType, Factor, Rate, strided
from archspec.blocks.eca import efficient_channel_attention
from archspec.blocks.registry import register
from archspec.spec.limits import MAX_CHANNELS

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value


class DenseConfig(BlockConfig):
    block: Literal["dense"] = "dense"
    width: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)]
    "The growth rate k: channels each layer adds (32 in torchvision's DenseNets)."
    growth: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] | None = None
    """The growth rate under DenseNet's own name: `growth: 32` is `width: 32` (give one of
    the two; the spec keeps what you wrote, the block config holds it as width)."""
    skip: str = "identity"
    """identity: each layer reads every earlier feature map of its stage, concatenated (the
    dense connection); none: only the layer before it (a plain network)."""
    bn_size: Factor | None = 4
    """The 1x1 bottleneck conv before each 3x3 has bn_size × width channels (DenseNet-B);
    null: no bottleneck, the 3x3 conv reads the concatenation itself."""
    compression: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = 0.5
    "A transition keeps int(channels × compression) channels (θ of DenseNet-BC)."
    dropout: Rate = 0.0
    "Dropout on each layer's new channels (0.2 in the paper without data augmentation)."
    memory_efficient: bool = False
    """Recompute each layer's concat, norm1, relu1 and conv1 in backward instead of keeping
    them: training memory grows linearly with a stage's depth instead of quadratically,
    for the compute of running them twice."""

    needs_final_norm: ClassVar[bool] = True
    skip_kinds: ClassVar[tuple[str, ...] | None] = ("identity", "none")

    @model_validator(mode="before")
    @classmethod
    def _growth_is_width(cls, data: object) -> object:
        # One setting, two names: resolved here so arch_id and every reader see width.
        if isinstance(data, dict) and data.get("growth") is not None:
            data = dict(data)
            growth = data.pop("growth")
            if "width" in data and data["width"] != growth:
                raise ValueError(
                    f"growth {growth!r} and width {data['width']!r} are the same setting for "
                    "dense blocks (the growth rate); give one of them"
                )
            data["width"] = growth
        return data

    @field_validator("drop_path")
    @classmethod
    def _no_residual(cls, value: float) -> float:
        if value > 0:
            raise ValueError(
                "drop_path does not apply to block 'dense': it drops a residual branch, "
                "and dense layers concatenate instead"
            )
        return value

    def normed_channels(self) -> dict[str, int]:
        return {"the 1x1 bottleneck conv": self.width * self.bn_size} if self.bn_size else {}

    @model_validator(mode="after")
    def _channels_fit(self) -> DenseConfig:
        self.check_channels(bottleneck=self.width * (self.bn_size or 1))
        return self


def transition(g: GraphBuilder, cfg: DenseConfig, x: Value) -> Value:
    """Between dense stages: norm, ReLU, 1x1 conv compressing the channels, average pool
    by the stride."""
    with g.scope("transition"):
        out = g.act(g.norm(x, cfg.norm, name="norm"), cfg.act, name="relu")
        keep = max(int(x.channels * cfg.compression), 1)
        out = g.conv(out, keep, 1, padding=0, bias=cfg.norm == "none", name="conv")
        return g.pool(out, "avg", cfg.stride, cfg.stride, name="pool")


def lower(g: GraphBuilder, cfg: DenseConfig, x: Value, stride: int) -> Value:
    """One dense layer on a single input (the first of a stage); it returns only the new
    channels. Stages go through :func:`lower_stage`, which feeds each layer them all."""
    return dense_layer(g, cfg, [x])


def dense_layer(g: GraphBuilder, cfg: DenseConfig, features: list[Value]) -> Value:
    bias = cfg.norm == "none"
    # The concat and the bottleneck grow with every layer; recomputing them in backward
    # is what keeps memory linear in depth.
    with g.checkpoint() if cfg.memory_efficient else nullcontext():
        x = g.concat(features, name="cat") if len(features) > 1 else features[0]
        out = g.act(g.norm(x, cfg.norm, name="norm1"), cfg.act, name="relu1")
        zero = "zero" if cfg.zero_init_last else None
        if cfg.bn_size is None:
            out = g.conv(out, cfg.width, 3, bias=bias, name="conv1", init=zero)
        else:
            out = g.conv(out, cfg.bn_size * cfg.width, 1, padding=0, bias=bias, name="conv1")
    if cfg.bn_size is not None:
        out = g.act(g.norm(out, cfg.norm, name="norm2"), cfg.act, name="relu2")
        out = g.conv(out, cfg.width, 3, bias=bias, name="conv2", init=zero)
    if cfg.se is not None:
        out = squeeze_excite(g, out, cfg.se)
    if cfg.eca:
        out = efficient_channel_attention(g, out)
    return g.dropout(out, cfg.dropout)


def lower_stage(g: GraphBuilder, cfg: DenseConfig, x: Value) -> Value:
    if strided(cfg.stride):
        x = transition(g, cfg, x)
    features = [x]
    for j in range(cfg.depth):
        reads = (sum(f.channels for f in features), *x.shape[1:])
        with g.block(
            str(j), replace(features[-1], shape=reads), kind=cfg.block, skip=cfg.skip, index=j
        ) as record:
            new = dense_layer(g, cfg, features)
            record.out_shape = new.shape
        features = [*features, new] if cfg.skip == "identity" else [new]
    return g.concat(features, name="cat") if len(features) > 1 else features[0]


register(
    BlockType(
        "dense",
        DenseConfig,
        lower,
        "densely connected layers and transitions (DenseNet, Huang et al. 2017)",
        lower_stage=lower_stage,
        class_name="DenseLayer",
    )
)
