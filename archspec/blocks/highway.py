"""The highway block (Srivastava et al. 2015, "Training Very Deep Networks"): one conv
layer H whose output a learned gate mixes with the block input::

    y = T(x)·H(x) + (1 − T(x))·x,  H = relu(bn1(conv1 3x3(x))),  T = sigmoid(gate 1x1(x) + b)

The gate is the ``gated`` skip kind, this block's default, its bias starting at
``gate_bias`` (−2) so the block starts near carry. ``skip: sparse`` makes the gate 0/1,
``identity`` a one-conv residual block, ``none`` a plain conv layer. Parameters (norm:
batch): 9·c_in·w + 2·w for H, c_in·w + w for the gate, plus the carry's downsample where
the shape changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from archspec.blocks.base import BlockConfig, BlockType
from archspec.blocks.registry import register
from archspec.blocks.skips import residual

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value


class HighwayConfig(BlockConfig):
    block: Literal["highway"] = "highway"
    skip: str = "gated"
    """How H(x) meets x: gated (the highway gate, the default), sparse, identity,
    projection, pad or none."""

    takes_dilation: ClassVar[bool] = True

    def normed_channels(self) -> dict[str, int]:
        return {"the conv": self.width}


def lower(g: GraphBuilder, cfg: HighwayConfig, x: Value, stride: int) -> Value:
    bias = cfg.norm == "none"
    out = g.conv(x, cfg.width, 3, stride=stride, dilation=g.dilation[0], bias=bias, name="conv1")
    out = g.norm(out, cfg.norm, name="bn1", init="zero" if cfg.zero_init_last else None)
    out = g.act(out, cfg.act)
    return residual(g, cfg, x, out, stride)


register(
    BlockType("highway", HighwayConfig, lower, "one gated conv layer (Srivastava et al. 2015)")
)
