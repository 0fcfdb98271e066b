"""The pre-activation block of He et al. 2016 ("Identity Mappings in Deep Residual
Networks"): norm and activation come before each conv, nothing follows the merge, so
the skip path is a pure identity from block to block::

    basic:      bn1 - relu - conv1 3x3 (stride) - bn2 - relu - [dropout] - conv2 3x3
                - (+ skip)
    bottleneck: bn1 - relu - conv1 1x1 - bn2 - relu - conv2 3x3 (stride) - bn3 - relu
                - [dropout] - conv3 1x1 - (+ skip)

Where the shape changes, the projection reads the pre-activated input (the paper's
code does the same). A network of these blocks ends with norm and activation before
the pool (``final_norm``, ``final_act``).

The Wide ResNets of Zagoruyko and Komodakis 2016 are these blocks in basic form with
``width_factor`` k (both convs of width w·k) and optional dropout between the convs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from archspec.blocks.base import BlockConfig, BlockType, Factor, Rate
from archspec.blocks.registry import register
from archspec.blocks.skips import residual
from archspec.spec.limits import MAX_CHANNELS

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value


class PreactConfig(BlockConfig):
    block: Literal["preact"] = "preact"
    form: Literal["basic", "bottleneck"] = "basic"
    "Two 3x3 convs, or 1x1-3x3-1x1."
    expansion: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] | None = None
    "Output channels are width × expansion; default 1 (basic) or 4 (bottleneck)."
    stride_at: Literal["3x3", "1x1"] = "3x3"
    "Bottleneck form: which conv carries the stride."
    width_factor: Factor = 1
    """Widens the inner convs to width × width_factor channels: both convs of the basic
    form, and so its output too (Wide ResNet's k); the first two of the bottleneck form."""
    dropout: Rate = 0.0
    """Dropout before the last conv: between the two convs of the basic form (Wide
    ResNet's, 0.3 in the paper)."""

    needs_final_norm: ClassVar[bool] = True
    takes_dilation: ClassVar[bool] = True

    def normed_channels(self) -> dict[str, int]:
        return {"the inner convs": self.inner_width()}

    @model_validator(mode="after")
    def _channels_fit(self) -> PreactConfig:
        self.check_channels(inner=self.inner_width(), output=self.out_channels(0))
        return self

    def inner_width(self) -> int:
        return self.width * self.width_factor

    def implied(self) -> dict[str, Any]:
        return {"expansion": 4 if self.form == "bottleneck" else 1}

    def out_channels(self, in_channels: int) -> int:
        widened = self.inner_width() if self.form == "basic" else self.width
        return widened * (self.expansion or self.implied()["expansion"])


def lower(g: GraphBuilder, cfg: PreactConfig, x: Value, stride: int) -> Value:
    bias = cfg.norm == "none"
    last = "zero" if cfg.zero_init_last else None
    pre = g.act(g.norm(x, cfg.norm, name="bn1"), cfg.act)
    out_c = cfg.out_channels(x.channels)
    inner = cfg.inner_width()
    if cfg.form == "basic":
        out = g.conv(pre, inner, 3, stride=stride, dilation=g.dilation[0], bias=bias, name="conv1")
        out = g.act(g.norm(out, cfg.norm, name="bn2"), cfg.act)
        out = g.dropout(out, cfg.dropout)
        out = g.conv(out, out_c, 3, dilation=g.dilation[1], bias=bias, name="conv2", init=last)
    else:
        s1, s3 = (stride, 1) if cfg.stride_at == "1x1" else (1, stride)
        out = g.conv(pre, inner, 1, stride=s1, padding=0, bias=bias, name="conv1")
        out = g.act(g.norm(out, cfg.norm, name="bn2"), cfg.act)
        out = g.conv(out, inner, 3, stride=s3, dilation=g.dilation[0], bias=bias, name="conv2")
        out = g.act(g.norm(out, cfg.norm, name="bn3"), cfg.act)
        out = g.dropout(out, cfg.dropout)
        out = g.conv(out, out_c, 1, padding=0, bias=bias, name="conv3", init=last)
    return residual(g, cfg, x, out, stride, pre=pre)


register(
    BlockType(
        "preact",
        PreactConfig,
        lower,
        "pre-activation, basic or bottleneck (He 2016)",
        class_name="PreActBlock",
    )
)
