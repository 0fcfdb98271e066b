"""A toy block type living outside archspec: two parallel 3x3 convs whose outputs are
summed, then norm, the block's skip, and the activation::

    left 3x3 (stride) + right 3x3 (stride) - bn - (+ skip) - relu

Parameters (norm: batch): 2·9·c_in·w + 2·w, plus the skip's.
"""

from __future__ import annotations

from typing import Literal

from archspec.blocks import BlockConfig, BlockType
from archspec.blocks.skips import residual
from archspec.graph.builder import GraphBuilder, Value


class TwinConfig(BlockConfig):
    block: Literal["twin"] = "twin"


def lower(g: GraphBuilder, cfg: TwinConfig, x: Value, stride: int) -> Value:
    left = g.conv(x, cfg.width, 3, stride=stride, name="left")
    right = g.conv(x, cfg.width, 3, stride=stride, name="right")
    out = g.norm(g.add(left, right, name="sum"), cfg.norm, name="bn")
    return g.act(residual(g, cfg, x, out, stride), cfg.act)


BLOCK = BlockType("twin", TwinConfig, lower, "two parallel 3x3 convs, summed (a plugin)")
