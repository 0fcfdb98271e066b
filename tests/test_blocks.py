"""Every registered block type x every skip kind it takes x every downsample kind, on a
tiny two-stage network: builds, runs forward and backward, counts right, inits right.

The cases come from the registries (``archspec.blocks.blocks()``, ``skips.SKIPS``,
``skips.DOWNSAMPLES``) and from each block config's own options, so a new block type,
skip kind, downsample kind or block option is covered without editing this file."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from helpers import (
    RANK_SIZES,
    TreeRun,
    assert_ir_shapes,
    block_default_skip,
    block_skips,
    block_variants,
    n_params,
    rank_refused,
    sample,
    spec_of,
    tiny_spec,
)
from torch import fx

import archspec
from archspec.blocks import blocks
from archspec.blocks.skips import DOWNSAMPLES, SKIPS
from archspec.errors import SpecError
from archspec.graph.stats import node_cost

BLOCKS = sorted(blocks())


def _id(block: str, extra: dict[str, Any], skip: str, down: str) -> str:
    options = "".join(f"-{k}={v}" for k, v in extra.items())
    return f"{block}{options}-{skip}-{down}"


# every block x every skip kind it takes x every downsample kind, default options; then
# each of a block's own options with its default skip and downsample
CASES = [
    pytest.param(block, {}, skip, down, id=_id(block, {}, skip, down))
    for block in BLOCKS
    for skip in block_skips(block)
    for down in DOWNSAMPLES
] + [
    pytest.param(
        block,
        extra,
        block_default_skip(block),
        "projection",
        id=_id(block, extra, block_default_skip(block), "projection"),
    )
    for block in BLOCKS
    for extra in block_variants(block)
]
# At ranks 1 and 3: every block x every skip kind it takes, each downsample kind once, and
# each block option (rank 2 has the whole product above); in all, the suite's time.
RANK_CASES = [
    pytest.param(*p.values, rank, id=f"{p.id}-{rank}d")
    for p in CASES
    for rank in sorted(RANK_SIZES)
    if rank == 2
    or p.values[3] == "projection"
    or (p.values[0] == "basic" and p.values[2] == "identity")
]
# Skip kinds whose structure leaves some parameter without a gradient at init. None of
# the current kinds do: plain, identity, projection, pad, gated and sparse (whose 0/1
# gate passes the soft gate's gradient) merges all train every weight.
NO_GRAD_EXPECTED: dict[str, set[str]] = {}


def _spec(block: str, extra: dict, skip: str, down: str, **more: Any) -> archspec.ArchSpec:
    """The tiny spec at rank 2, or at rank 3 for an option written for 3-D inputs only."""
    settings = {**extra, **more}
    try:
        return spec_of(tiny_spec(block, skip=skip, downsample=down, extra=settings))
    except SpecError as err:
        if not any(rank_refused(err, ("defaults", key)) for key in extra):
            raise
    return spec_of(tiny_spec(block, skip=skip, downsample=down, size=RANK_SIZES[3], extra=settings))


def _is_residual(block: str) -> bool:
    """Blocks that merge by a sum (every skip kind); dense layers concatenate instead."""
    return blocks()[block].config.skip_kinds is None


def test_registries_are_covered() -> None:
    assert set(BLOCKS) >= {"basic", "bottleneck", "preact"}
    assert set(SKIPS) >= {"identity", "projection", "pad", "none"}
    assert set(DOWNSAMPLES) >= {"projection", "pad"}
    covered = {(p.values[0], p.values[2]) for p in CASES}
    assert covered == {(b, s) for b in BLOCKS for s in block_skips(b)}


@pytest.mark.parametrize(("block", "extra", "skip", "down", "rank"), RANK_CASES)
def test_block_builds_runs_and_trains(
    block: str, extra: dict, skip: str, down: str, rank: int
) -> None:
    """At every rank: Conv1d/2d/3d and the matching norms, pools and skips."""
    size = RANK_SIZES[rank]
    try:
        spec = spec_of(tiny_spec(block, skip=skip, downsample=down, size=size, extra=extra))
    except SpecError as err:
        # An option written for one rank only (a video block's spatial conv) is refused
        # at the others, naming the option.
        key = next(iter(extra), None)
        assert key is not None and rank_refused(err, ("defaults", key)), err
        return
    graph = archspec.lower(spec)
    model = archspec.build(spec, seed=0)
    assert isinstance(model, fx.GraphModule)  # the network's own forward is generated
    assert n_params(model) == archspec.stats(spec).params

    x = sample(size, seed=1)
    assert_ir_shapes(graph, model, x)
    out = model(x)
    assert out.shape == (2, 5)
    assert torch.isfinite(out).all()

    out.square().mean().backward()
    missing = {
        name
        for name, p in model.named_parameters()
        if p.grad is None or not torch.isfinite(p.grad).all() or not p.grad.any()
    }
    assert missing <= NO_GRAD_EXPECTED.get(skip, set()), missing

    # The skip kind shows in the graph: a sum per block for residuals, none for plain
    # blocks, no weights on a pad skip, a conv on every projection skip.
    ops = [d for _, d in graph.nodes(data=True)]
    adds = [d for d in ops if d["op"] == "merge"]
    n_blocks = len(graph.graph["blocks"])
    assert n_blocks == 4
    skip_params = sum(
        node_cost(graph, n)[0] for n, d in graph.nodes(data=True) if d["path"] == "skip"
    )
    if skip == "none":
        assert not adds and skip_params == 0
        assert not [d for d in ops if d["path"] in ("skip", "gate")]
    elif _is_residual(block):
        assert len(adds) == n_blocks
    if skip == "pad" or (skip == "identity" and down == "pad"):
        assert skip_params == 0
    if skip == "projection":
        assert sum(d["op"] == "conv" and d["path"] == "skip" for d in ops) == n_blocks


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("block", BLOCKS)
def test_same_seed_same_weights(block: str) -> None:
    spec = _spec(block, {}, block_default_skip(block), "projection")
    a, b = _weights(archspec.build(spec, seed=7)), _weights(archspec.build(spec, seed=7))
    c = _weights(archspec.build(spec, seed=8))
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    convs = [k for k, v in a.items() if v.dim() == 4]
    assert convs and not any(torch.equal(a[k], c[k]) for k in convs)


@pytest.mark.parametrize(("block", "extra", "skip", "down"), CASES)
def test_zero_init_last_starts_as_the_skip(block: str, extra: dict, skip: str, down: str) -> None:
    spec = _spec(block, extra, skip, down, zero_init_last=True)
    graph = archspec.lower(spec)
    model = archspec.build(spec, seed=0)
    zeroed = {d["scope"] for _, d in graph.nodes(data=True) if d.get("init") == "zero"}
    assert len(zeroed) == len(graph.graph["blocks"]) == 4, "one zeroed layer per block"

    # hooks see the zeroed layers even inside checkpointed regions
    outputs: dict[str, torch.Tensor] = {}
    for scope in zeroed:
        model.get_submodule(scope).register_forward_hook(
            lambda mod, args, out, scope=scope: outputs.__setitem__(scope, out.detach().clone())
        )
    x = sample(list(spec.input.shape[1:]), seed=2)
    values = TreeRun(model, graph).run(x).values
    assert set(outputs) == zeroed
    for scope, value in outputs.items():
        assert not value.any(), f"{scope} should output zeros at init"
    merges = 0
    for node, data in graph.nodes(data=True):
        if data["op"] == "merge":
            main, skip_side = data["inputs"]
            assert not values[main].any(), "the residual branch starts at zero"
            assert torch.equal(values[node], values[skip_side]), "so the block is its skip"
            merges += 1
    if _is_residual(block):
        assert merges == (0 if skip == "none" else 4)

    # without zero_init_last the same layers start non-zero
    model = archspec.build(_spec(block, extra, skip, down), seed=0)
    for scope in zeroed:
        assert any(p.any() for p in model.get_submodule(scope).parameters())
