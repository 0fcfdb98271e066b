"""Channel attention at ranks 1 and 3: every registered block type with ECA (squeeze-
excitation is covered at every rank and skip by test_block_families.py) on a 1-D signal
and a 3-D volume, with its default skip; the selective-kernel blocks with each attention
emitted as standalone source. Registry-driven: a new block type is covered as it lands."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch
from helpers import RANK_SIZES, block_default_skip
from test_block_families import assert_trains_as_counted, spec_of, tiny, x_of

import archspec
from archspec.blocks import blocks

ATTENTION = {"eca": {"eca": True}, "se": {"se": 4}}


@pytest.mark.parametrize("rank", [1, 3])
@pytest.mark.parametrize("block", sorted(blocks()))
def test_eca_at_ranks_1_and_3(block: str, rank: int) -> None:
    size = RANK_SIZES[rank]
    spec = spec_of(tiny(block, size, skip=block_default_skip(block), eca=True))
    graph = archspec.lower(spec)
    assert "channel_conv" in {d["op"] for _, d in graph.nodes(data=True)}
    assert_trains_as_counted(archspec.build(spec, seed=0), archspec.stats(spec), x_of(size))


@pytest.mark.parametrize("rank", [1, 3])
@pytest.mark.parametrize("attention", sorted(ATTENTION))
@pytest.mark.parametrize("block", ["sk_basic", "sk_bottleneck"])
def test_selective_kernel_with_attention_emits_at_ranks_1_and_3(
    block: str, attention: str, rank: int
) -> None:
    size = RANK_SIZES[rank]
    spec = spec_of(tiny(block, size, **ATTENTION[attention]))
    model = archspec.build(spec, seed=0).eval()
    source = archspec.emit_python(spec)
    namespace: dict[str, Any] = {"__name__": "emitted"}
    exec(compile(source, "<emitted>", "exec"), namespace)
    top = re.search(r"^def load\(.*\) -> (\w+):", source, re.MULTILINE)
    assert top is not None
    emitted = namespace[top.group(1)]().eval()
    emitted.load_state_dict(model.state_dict(), strict=True)
    x = x_of(size)
    with torch.no_grad():
        torch.testing.assert_close(emitted(x), model(x), rtol=0, atol=0)


def test_selective_kernel_split_input_refusal_names_the_block() -> None:
    # layer2.0 reads layer1's 33 channels, which two split paths cannot share.
    spec = archspec.ArchSpec(
        name="odd_split",
        input={"channels": 3, "size": 16},
        stem=[{"conv": 16, "kernel": 3}],
        defaults={"block": "sk_basic", "split_input": True},
        stages=[{"depth": 1, "width": 33}, {"depth": 1, "width": 66, "stride": 2}],
        head={"pool": "avg", "classes": 3},
    )
    with pytest.raises(archspec.GraphError) as info:
        archspec.lower(spec)
    assert info.value.scope == "layer2.0"
    assert str(info.value).startswith("block layer2.0: layer2.0.conv1: the selective-kernel")
    assert "33 input channels among 2 paths" in str(info.value)
    assert "\n" not in str(info.value)
