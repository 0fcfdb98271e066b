"""archspec.testing: the one call that checks a block type as the built-in ones are
checked, run on every registered type, and shown to fail on a broken one."""

from __future__ import annotations

from typing import Literal

import pytest

import archspec
from archspec.blocks import BlockConfig, BlockType, blocks
from archspec.blocks.registry import _BLOCKS, register
from archspec.blocks.skips import residual
from archspec.graph.builder import GraphBuilder, Value
from archspec.testing import check_block_type


@pytest.mark.parametrize("name", sorted(blocks()))
def test_every_registered_block_type_passes(name: str) -> None:
    check_block_type(name)


class _DeadConfig(BlockConfig):
    block: Literal["dead_weight"] = "dead_weight"


def _lower_dead(g: GraphBuilder, cfg: _DeadConfig, x: Value, stride: int) -> Value:
    g.conv(x, cfg.width, 1, padding=0, name="unused")  # computed, never read: no gradient
    out = g.norm(g.conv(x, cfg.width, 3, stride=stride, name="conv"), cfg.norm, name="bn")
    return g.act(residual(g, cfg, x, out, stride), cfg.act)


def test_a_broken_block_type_fails_the_check() -> None:
    register(BlockType("dead_weight", _DeadConfig, _lower_dead, "a conv nothing reads"))
    try:
        with pytest.raises(AssertionError, match=r"no gradient.*unused"):
            check_block_type("dead_weight")
    finally:
        _BLOCKS.pop("dead_weight")
    with pytest.raises(archspec.ArchSpecError, match="no block type 'nope'"):
        check_block_type("nope")
