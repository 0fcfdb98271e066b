"""The basic block of ResNet-18/34 and the CIFAR ResNets (He et al. 2015).

Two 3x3 convs, each followed by norm, an activation after the merge::

    conv1 3x3 (stride) - bn1 - relu - [dropout] - conv2 3x3 - bn2 - (+ skip) - relu

``width_factor`` k widens both convs (Zagoruyko and Komodakis 2016): with w' = w·k,
parameters (norm: batch) are 9·c_in·w' + 9·w'·w'·e + 2·w' + 2·w'·e, plus the skip's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from archspec.blocks.base import BlockConfig, BlockType, Factor, Rate
from archspec.blocks.registry import register
from archspec.blocks.skips import residual
from archspec.spec.limits import MAX_CHANNELS

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value


class BasicConfig(BlockConfig):
    block: Literal["basic"] = "basic"
    expansion: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] = 1
    "Output channels are width × width_factor × expansion (1 in ResNet-18/34)."
    width_factor: Factor = 1
    "Widens both convs to width × width_factor channels (Wide ResNet's k)."
    dropout: Rate = 0.0
    "Dropout between the two convs (Wide ResNet's, 0.3 in the paper)."

    @model_validator(mode="after")
    def _channels_fit(self) -> BasicConfig:
        self.check_channels(output=self.out_channels(0))
        return self

    takes_dilation: ClassVar[bool] = True

    def normed_channels(self) -> dict[str, int]:
        return {"the first conv": self.inner_width(), "the block's output": self.out_channels(0)}

    def inner_width(self) -> int:
        """Channels of the first conv."""
        return self.width * self.width_factor

    def out_channels(self, in_channels: int) -> int:
        return self.inner_width() * self.expansion


def lower(g: GraphBuilder, cfg: BasicConfig, x: Value, stride: int) -> Value:
    bias = cfg.norm == "none"
    first, later = g.dilation  # timm's first_dilation and dilation
    out = g.conv(x, cfg.inner_width(), 3, stride=stride, dilation=first, bias=bias, name="conv1")
    out = g.act(g.norm(out, cfg.norm, name="bn1"), cfg.act)
    out = g.dropout(out, cfg.dropout)
    out = g.conv(out, cfg.out_channels(x.channels), 3, dilation=later, bias=bias, name="conv2")
    out = g.norm(out, cfg.norm, name="bn2", init="zero" if cfg.zero_init_last else None)
    return g.act(residual(g, cfg, x, out, stride), cfg.act)


register(
    BlockType(
        "basic",
        BasicConfig,
        lower,
        "two 3x3 convs (ResNet-18/34, CIFAR ResNets)",
        class_name="BasicBlock",
    )
)
