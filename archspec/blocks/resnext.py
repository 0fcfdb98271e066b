"""The ResNeXt block (Xie et al. 2017, "Aggregated Residual Transformations"): the
bottleneck with its 3x3 conv split into ``groups`` parallel paths (the cardinality C)::

    conv1 1x1 - bn1 - relu - conv2 3x3, groups C (stride) - bn2 - relu - conv3 1x1 - bn3
    - (+ skip) - relu

Inner width as torchvision computes it: i = int(width · base_width / 64) · groups (at
least one channel per group), so ``resnext50_32x4d`` is groups 32, base_width 4 (a 3x3
of 128 channels in stage 1), and output channels stay width × expansion. With
``base_width: null`` the width is the inner width itself, as the paper's tables write it.
Parameters (norm: batch): c_in·i + 9·i·i/C + i·4w + 2·(i + i + 4w), plus the skip's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from archspec.blocks import bottleneck
from archspec.blocks.base import BlockType
from archspec.blocks.bottleneck import BottleneckConfig
from archspec.blocks.registry import register
from archspec.spec.limits import MAX_CHANNELS, MAX_GROUPS

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value


class ResNeXtConfig(BottleneckConfig):
    block: Literal["resnext"] = "resnext"
    groups: Annotated[int, Field(strict=True, ge=1, le=MAX_GROUPS)] = 32
    "Cardinality: parallel paths (conv groups) of the 3x3 conv."
    base_width: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] | None = 4
    """Channels of each path at width 64 (torchvision's width_per_group): the 3x3 conv has
    int(width × width_factor × base_width / 64) × groups channels; null: width × width_factor
    is the 3x3 conv's whole width and must divide by groups."""

    @model_validator(mode="after")
    def _groups_divide(self) -> ResNeXtConfig:
        inner = self.inner_width()
        if inner % self.groups:
            raise ValueError(
                f"the grouped 3x3 conv has {inner} channels, which do not divide into "
                f"{self.groups} groups"
            )
        self.check_channels(inner=inner)
        return self

    def inner_width(self) -> int:
        widened = self.width * self.width_factor
        if self.base_width is None:
            return widened
        # Integer floor, exactly torchvision's int(planes * (base_width / 64.0)).
        return max(widened * self.base_width // 64, 1) * self.groups

    def conv_groups(self) -> int:
        return self.groups


def lower(g: GraphBuilder, cfg: ResNeXtConfig, x: Value, stride: int) -> Value:
    # The bottleneck's lowering reads inner_width() and conv_groups(), which is all
    # that differs.
    return bottleneck.lower(g, cfg, x, stride)


register(
    BlockType(
        "resnext",
        ResNeXtConfig,
        lower,
        "bottleneck with a grouped 3x3 conv (ResNeXt, Xie et al. 2017)",
        class_name="Bottleneck",  # torchvision's ResNeXts use its Bottleneck
    )
)
