"""The bottleneck block of ResNet-50/101/152 (He et al. 2015)::

    conv1 1x1 - bn1 - relu - conv2 3x3 - bn2 - relu - conv3 1x1 - bn3 - (+ skip) - relu

The stride sits on the 3x3 conv by default, as torchvision does ("ResNet v1.5", better
accuracy); ``stride_at: 1x1`` puts it on the first 1x1 conv, as the 2015 paper did.
Output channels are width × expansion (4). ``width_factor`` k widens the inner convs
only (torchvision's wide_resnet50_2 has k = 2): with inner width i = w·k, parameters
(norm: batch) are c_in·i + 9·i·i/groups + i·4w + 2·(i + i + 4w), plus the skip's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from archspec.blocks.base import BlockConfig, BlockType, Factor
from archspec.blocks.registry import register
from archspec.blocks.skips import residual
from archspec.spec.limits import MAX_CHANNELS

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value


class BottleneckConfig(BlockConfig):
    block: Literal["bottleneck"] = "bottleneck"
    expansion: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] = 4
    "Output channels are width × expansion."
    stride_at: Literal["3x3", "1x1"] = "3x3"
    "Which conv carries the stride: 3x3 (torchvision) or 1x1 (the 2015 paper)."
    width_factor: Factor = 1
    """Widens the first 1x1 and the 3x3 conv to width × width_factor channels; the output
    stays width × expansion (torchvision's wide_resnet50_2: 2)."""

    @model_validator(mode="after")
    def _channels_fit(self) -> BottleneckConfig:
        self.check_channels(inner=self.width * self.width_factor, output=self.out_channels(0))
        return self

    takes_dilation: ClassVar[bool] = True

    def normed_channels(self) -> dict[str, int]:
        return {"the 3x3 conv": self.inner_width(), "the block's output": self.out_channels(0)}

    def inner_width(self) -> int:
        """Channels of the 3x3 conv (ResNeXt and wide variants change this)."""
        return self.width * self.width_factor

    def conv_groups(self) -> int:
        return 1

    def out_channels(self, in_channels: int) -> int:
        return self.width * self.expansion


def lower(g: GraphBuilder, cfg: BottleneckConfig, x: Value, stride: int) -> Value:
    bias = cfg.norm == "none"
    s1, s3 = (stride, 1) if cfg.stride_at == "1x1" else (1, stride)
    w = cfg.inner_width()
    out = g.conv(x, w, 1, stride=s1, padding=0, bias=bias, name="conv1")
    out = g.act(g.norm(out, cfg.norm, name="bn1"), cfg.act)
    # The 3x3 conv has the dilation torchvision's Bottleneck gets (previous_dilation in a
    # dilated stage's first block).
    out = g.conv(
        out,
        w,
        3,
        stride=s3,
        groups=cfg.conv_groups(),
        dilation=g.dilation[0],
        bias=bias,
        name="conv2",
    )
    out = g.act(g.norm(out, cfg.norm, name="bn2"), cfg.act)
    out = g.conv(out, cfg.out_channels(x.channels), 1, padding=0, bias=bias, name="conv3")
    out = g.norm(out, cfg.norm, name="bn3", init="zero" if cfg.zero_init_last else None)
    return g.act(residual(g, cfg, x, out, stride), cfg.act)


register(
    BlockType(
        "bottleneck",
        BottleneckConfig,
        lower,
        "1x1-3x3-1x1 (ResNet-50/101/152)",
        class_name="Bottleneck",
    )
)
