"""RegNetY blocks (``block: regnet`` with ``se_ratio``) beyond what the registry-driven
tests cover (they build the block without SE, its default): the SE squeezes to a share
of the block's input channels, and the block counts, runs and trains with every skip
kind and at every rank. The presets are checked against timm and torchvision in
test_reference_libs.py."""

from __future__ import annotations

import pytest
from helpers import RANK_SIZES, assert_ir_shapes, n_params, sample, spec_of, tiny_spec
from test_block_families import assert_trains_as_counted

import archspec
from archspec.blocks.regnet import RegNetConfig
from archspec.blocks.skips import SKIPS
from archspec.errors import SpecError

Y = {"group_width": 8, "se_ratio": 0.25}
CASES = [(skip, 2) for skip in SKIPS] + [("identity", 1), ("identity", 3)]


@pytest.mark.parametrize(("skip", "rank"), CASES)
def test_regnety_block_counts_runs_and_trains(skip: str, rank: int) -> None:
    spec = spec_of(tiny_spec("regnet", skip=skip, size=RANK_SIZES[rank], extra=Y))
    graph = archspec.lower(spec)
    model = archspec.build(spec, seed=0)
    assert n_params(model) == archspec.stats(spec).params
    x = sample(RANK_SIZES[rank], seed=1)
    assert_ir_shapes(graph, model, x)
    # An SE unit may start dead (its ReLU shut for the whole batch), as in any SE.
    assert_trains_as_counted(model, archspec.stats(spec), x)


def test_the_se_squeezes_a_quarter_of_the_blocks_input() -> None:
    graph = archspec.lower(spec_of(tiny_spec("regnet", extra=Y)))
    squeezed = {
        d["scope"]: d["params"]["out_channels"]
        for _, d in graph.nodes(data=True)
        if d["scope"].endswith("f.se.fc1")
    }
    # stem 8 -> layer1 (32, 32) -> layer2 (64, 64): round(0.25 · c_in)
    assert squeezed == {
        "layer1.0.f.se.fc1": 2,
        "layer1.1.f.se.fc1": 8,
        "layer2.0.f.se.fc1": 8,
        "layer2.1.f.se.fc1": 16,
    }


def test_groups_come_from_the_group_width() -> None:
    cfg = RegNetConfig(depth=1, width=104, group_width=8)
    assert (cfg.inner_width(), cfg.conv_groups()) == (104, 13)
    assert RegNetConfig(depth=1, width=48, bottle_ratio=0.5, group_width=8).inner_width() == 24
    assert RegNetConfig(depth=1, width=12).conv_groups() == 12  # by default depthwise
    with pytest.raises(SpecError, match="do not divide into groups of 16"):
        spec_of(tiny_spec("regnet", extra={"group_width": 16, "bottle_ratio": 0.75}))
