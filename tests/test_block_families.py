"""Every block type with every skip kind it takes and the attachments (squeeze-excitation,
stochastic depth): builds, runs forward and backward, and its analytic parameter and
MAC counts equal what the built module holds and what a forward pass computes. Pairs a
block type refuses fail validation with an error naming the pair. Then the specifics of
each family: ResNeXt's inner width, DenseNet's transitions and memory-efficient mode,
the highway gate, gated and sparse skips, ResNet-D's pooled projection.

Cases come from the registries (``archspec.blocks.blocks()``, ``skips.SKIPS``,
``skips.DOWNSAMPLES``), so a new block or skip kind is covered with no new test."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from helpers import RANK_SIZES, generated_modules, sample
from torch import fx, nn
from torch.utils.flop_counter import FlopCounterMode

import archspec
from archspec.blocks import blocks
from archspec.blocks.skips import DOWNSAMPLES, SKIPS
from archspec.errors import SpecError
from archspec.nn import Gate
from archspec.spec.load import from_data

torch.set_num_threads(1)


def tiny(block: str, size: int | list[int] = 16, **settings: Any) -> dict[str, Any]:
    """A two-stage net: stage 2 changes channels and halves the size."""
    return {
        "name": f"tiny_{block}",
        "input": {"channels": 3, "size": size},
        "stem": {"type": "cifar", "width": 8},
        "defaults": {"block": block, **settings},
        "stages": [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}],
        "head": {"classes": 5},
    }


def spec_of(data: dict[str, Any]) -> archspec.ArchSpec:
    return from_data(copy.deepcopy(data), "<test>")


def takes(block: str, skip: str) -> bool:
    kinds = blocks()[block].config.skip_kinds
    return kinds is None or skip in kinds


def x_of(size: int | list[int] = 16, batch: int = 2, seed: int = 0) -> torch.Tensor:
    return sample(size, batch, seed)


def forward_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of one sample, as torch's own counter sees a forward pass."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x[:1])
    return counter.get_total_flops() // 2


def assert_trains_as_counted(model: nn.Module, stats: archspec.Stats, x: torch.Tensor) -> None:
    """The model has the parameters ``stats`` counts, a forward and backward give every
    weight a finite gradient (reached, not necessarily moved: an SE unit may start dead),
    and in eval mode torch's counter sees the MACs ``stats`` counts."""
    assert sum(p.numel() for p in model.parameters()) == stats.params
    out = model(x)
    assert out.shape == (2, 5) and torch.isfinite(out).all()
    out.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    model.eval()
    assert forward_macs(model, x) == stats.macs


VALID = [(b, s) for b in sorted(blocks()) for s in SKIPS if takes(b, s)]
REFUSED = [(b, s) for b in sorted(blocks()) for s in SKIPS if not takes(b, s)]


# Each channel attention with the op that marks it in the graph.
ATTENTION = {"se": ({"se": 4}, "fc1"), "eca": ({"eca": True}, "channel_conv")}
# SE at every rank; ECA at rank 2 here, at ranks 1 and 3 in test_attention_ranks.py.
ATTENTION_RANKS = [
    (a, r) for a in sorted(ATTENTION) for r in sorted(RANK_SIZES) if a == "se" or r == 2
]


@pytest.mark.parametrize(("attention", "rank"), ATTENTION_RANKS)
@pytest.mark.parametrize(("block", "skip"), VALID)
def test_block_with_attachments_counts_and_trains(
    block: str, skip: str, attention: str, rank: int
) -> None:
    """At every rank: channel attention pools over every axis, drop_path per sample."""
    size = RANK_SIZES[rank]
    attn, marker = ATTENTION[attention]
    settings: dict[str, Any] = {"skip": skip, **attn, "drop_path": 0.2}
    try:
        spec = spec_of(tiny(block, size, **settings))
    except SpecError as err:
        # A block type that has no residual branch to drop refuses stochastic depth,
        # and must say so naming itself.
        assert "drop_path" in str(err) and repr(block) in str(err), err
        del settings["drop_path"]
        spec = spec_of(tiny(block, size, **settings))
    stats = archspec.stats(spec)
    graph = archspec.lower(spec)
    ops = {d["op"] for _, d in graph.nodes(data=True)}
    assert "scale" in ops  # channel attention everywhere
    names = {d.get("scope", "").rsplit(".", 1)[-1] for _, d in graph.nodes(data=True)}
    assert marker in ops | names, attention
    if "drop_path" in settings:
        assert "drop_path" in ops

    torch.manual_seed(0)
    assert_trains_as_counted(archspec.build(spec, seed=0), stats, x_of(size))


@pytest.mark.parametrize(("block", "skip"), REFUSED)
def test_refused_pairs_fail_validation_naming_the_pair(block: str, skip: str) -> None:
    with pytest.raises(SpecError) as info:
        spec_of(tiny(block, skip=skip))
    message = str(info.value)
    assert repr(skip) in message and repr(block) in message
    assert info.value.path == ("defaults", "skip")


@pytest.mark.parametrize("down", list(DOWNSAMPLES))
@pytest.mark.parametrize("skip", ["gated", "sparse"])
def test_gated_skips_take_every_downsample(skip: str, down: str) -> None:
    spec = spec_of(tiny("basic", skip=skip, downsample=down))
    model = archspec.build(spec, seed=0)
    assert sum(p.numel() for p in model.parameters()) == archspec.stats(spec).params
    assert model(x_of()).shape == (2, 5)


# --- gated and sparse skips ----------------------------------------------------------


@pytest.mark.parametrize("block", ["basic", "highway"])
@pytest.mark.parametrize("skip", ["gated", "sparse"])
def test_gated_and_sparse_skips_pass_gradient_to_their_gates(block: str, skip: str) -> None:
    spec = spec_of(tiny(block, skip=skip))
    model = archspec.build(spec, seed=0)
    model(x_of()).square().mean().backward()
    gates = {n: p for n, p in model.named_parameters() if ".gate.conv." in n}
    assert len(gates) == 2 * 4  # weight and bias of one gate per block
    for name, p in gates.items():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # the branch the gate scales learns too, even where a sparse gate is shut
    for name, p in model.named_parameters():
        if ".conv1." in name:
            assert p.grad.abs().sum() > 0, name


def test_gate_bias_starts_the_gate_near_carry() -> None:
    spec = spec_of(tiny("highway", gate_bias=-3.0))
    model = archspec.build(spec, seed=0)
    biases = [m.bias for n, m in model.named_modules() if n.endswith("gate.conv")]
    assert len(biases) == 4
    assert all(torch.equal(b, torch.full_like(b, -3.0)) for b in biases)


def test_sparse_gate_is_hard_in_forward_and_soft_in_backward() -> None:
    gate = torch.tensor([0.2, 0.7, 0.5, 0.9], requires_grad=True)
    value = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    taken = Gate(complement=False, threshold=0.5)(gate, value)
    kept = Gate(complement=True, threshold=0.5)(gate, value)
    assert taken.tolist() == [0.0, 2.0, 0.0, 4.0]  # 0.5 is not above the threshold
    assert kept.tolist() == [1.0, 0.0, 3.0, 0.0]
    (taken.sum() + 2 * kept.sum()).backward()
    # d/dT of T·v + 2(1 − T)·v = −v; d/dv = T + 2(1 − T), with the soft T
    torch.testing.assert_close(gate.grad, -value.detach())
    torch.testing.assert_close(value.grad, 2 - gate.detach())


def test_gated_merge_is_the_highway_formula() -> None:
    """y = T·H + (1 − T)·x, checked against the block's own T, H and x."""
    spec = spec_of(tiny("highway", skip="gated"))
    model = archspec.build(spec, seed=0).eval()
    seen: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(module: nn.Module, args: Any, out: torch.Tensor) -> None:
            seen[name] = out.detach().clone()

        return hook

    block = "layer1.1"
    model.get_submodule(f"{block}.gate.sigmoid").register_forward_hook(keep("T"))
    model.get_submodule(f"{block}.relu").register_forward_hook(keep("H"))
    model.get_submodule("layer1.0.gate.carry").register_forward_hook(keep("carry0"))
    model.get_submodule("layer1.0.gate.transform").register_forward_hook(keep("taken0"))
    model.get_submodule(f"{block}.gate.carry").register_forward_hook(keep("carry"))
    model.get_submodule(f"{block}.gate.transform").register_forward_hook(keep("taken"))
    with torch.no_grad():
        model(x_of())
    x = seen["taken0"] + seen["carry0"]  # the output of layer1.0, the input of layer1.1
    t, h = seen["T"], seen["H"]
    torch.testing.assert_close(seen["taken"] + seen["carry"], t * h + (1 - t) * x)
    assert 0.0 < t.mean() < 0.5  # gate bias -2: mostly carry at init


# --- attachments ---------------------------------------------------------------------


def test_drop_path_rate_rises_linearly_over_the_whole_network() -> None:
    data = tiny("basic", drop_path=0.3)
    data["stages"][1]["depth"] = 3  # 5 blocks in all
    graph = archspec.lower(spec_of(data))
    rates = [d["params"]["p"] for _, d in graph.nodes(data=True) if d["op"] == "drop_path"]
    assert rates == pytest.approx([0.3 * depth / 5 for depth in range(1, 6)])


def test_drop_path_drops_whole_samples_in_training_only() -> None:
    spec = spec_of(tiny("basic", drop_path=0.9))
    model = archspec.build(spec, seed=0)
    dropper = model.get_submodule("layer2.1.drop_path")
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    dropper.register_forward_hook(lambda m, a, out: seen.append((a[0].clone(), out.clone())))
    torch.manual_seed(0)
    model(x_of(batch=16))
    inp, out = seen[-1]
    dropped = out.flatten(1).abs().sum(1) == 0
    assert dropped.any() and not dropped.all()
    kept = ~dropped
    torch.testing.assert_close(out[kept], inp[kept] / (1 - dropper.p))
    model.eval()
    model(x_of(batch=4))
    inp, out = seen[-1]
    assert torch.equal(inp, out)


def test_drop_path_without_a_skip_is_refused() -> None:
    with pytest.raises(SpecError, match="drop_path does not apply to block 'basic' with skip"):
        spec_of(tiny("basic", skip="none", drop_path=0.1))


def test_se_parameters_follow_hu_et_al() -> None:
    plain, se = spec_of(tiny("bottleneck")), spec_of(tiny("bottleneck", se=4))
    # per block: two 1x1 convs with bias, c -> c/4 -> c, on the c = 4·width outputs
    added = sum(2 * c * (c // 4) + c // 4 + c for c in (32, 32, 64, 64))
    assert archspec.stats(se).params - archspec.stats(plain).params == added
    model = archspec.build(se, device="meta")
    assert {n for n, _ in model.named_parameters() if ".se." in n} >= {
        "layer1.0.se.fc1.weight",
        "layer1.0.se.fc1.bias",
        "layer1.0.se.fc2.weight",
        "layer1.0.se.fc2.bias",
    }


# --- ResNeXt and wide ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "groups", "base_width", "inner"),
    [(64, 32, 4, 128), (128, 32, 8, 512), (64, 8, 64, 512), (256, 32, 4, 512), (8, 32, 4, 32)],
)
def test_resnext_inner_width_is_torchvisions(
    width: int, groups: int, base_width: int, inner: int
) -> None:
    data = tiny("resnext", groups=groups, base_width=base_width)
    data["stages"] = [{"depth": 1, "width": width}]
    graph = archspec.lower(spec_of(data))
    conv2 = graph.nodes["layer1.0.conv2"]["params"]
    assert (conv2["in_channels"], conv2["out_channels"], conv2["groups"]) == (inner, inner, groups)
    assert graph.nodes["layer1.0.conv3"]["params"]["out_channels"] == 4 * width


def test_resnext_channels_that_do_not_divide_name_the_stage() -> None:
    data = tiny("resnext", groups=3, base_width=None)
    with pytest.raises(SpecError) as info:
        spec_of(data)
    assert info.value.path == ("stages", 0)
    assert "do not divide into 3 groups" in str(info.value)
    assert "stages[0]" in str(info.value)


def test_width_factor_widens_inner_convs() -> None:
    graph = archspec.lower(spec_of(tiny("bottleneck", width_factor=2)))
    assert graph.nodes["layer1.0.conv2"]["params"]["out_channels"] == 16
    assert graph.nodes["layer1.0.conv3"]["params"]["out_channels"] == 32  # unchanged
    graph = archspec.lower(spec_of(tiny("preact", width_factor=3)))
    assert graph.nodes["layer2.0.conv1"]["params"]["out_channels"] == 48
    assert graph.nodes["layer2.0.conv2"]["params"]["out_channels"] == 48


def test_wide_dropout_sits_between_the_convs() -> None:
    spec = spec_of(tiny("preact", dropout=0.3))
    graph = archspec.lower(spec)
    drop = graph.nodes["layer1.0.dropout"]
    assert drop["params"]["p"] == 0.3
    assert graph.nodes[drop["inputs"][0]]["op"] == "act"
    assert list(graph.succ["layer1.0.dropout"]) == ["layer1.0.conv2"]


# --- DenseNet ------------------------------------------------------------------------


def test_dense_channels_grow_and_transitions_compress() -> None:
    data = tiny("dense", compression=0.5)
    data["stages"] = [{"depth": 3, "width": 4}, {"depth": 2, "width": 4, "stride": 2}]
    graph = archspec.lower(spec_of(data))
    assert graph.nodes["layer1.cat"]["shape"] == (8 + 3 * 4, 16, 16)
    assert graph.nodes["layer2.transition.conv"]["shape"] == (10, 16, 16)
    assert graph.nodes["layer2.transition.pool"]["shape"] == (10, 8, 8)
    assert graph.nodes["layer2.cat"]["shape"] == (10 + 2 * 4, 8, 8)
    # each layer reads every feature map of its stage so far
    assert len(graph.nodes["layer1.2.cat"]["inputs"]) == 3
    assert graph.nodes["final_norm"]["shape"] == (18, 8, 8)


def test_dense_without_skips_is_a_plain_chain() -> None:
    graph = archspec.lower(spec_of(tiny("dense", skip="none")))
    assert not [n for n, d in graph.nodes(data=True) if d["op"] == "concat"]


def test_dense_refuses_drop_path_naming_itself() -> None:
    with pytest.raises(SpecError, match="drop_path does not apply to block 'dense'"):
        spec_of(tiny("dense", drop_path=0.1))


def test_memory_efficient_dense_computes_the_same_with_checkpoints() -> None:
    plain = spec_of(tiny("dense"))
    lean = spec_of(tiny("dense", memory_efficient=True))
    graph = archspec.lower(lean)
    assert len(graph.graph["checkpoints"]) == 4  # one per layer
    a, b = archspec.build(plain, seed=0), archspec.build(lean, seed=0)
    assert a.state_dict().keys() == b.state_dict().keys()
    code = "".join(m.code for _, m in generated_modules(b))
    assert code.count("checkpointed_chain(") == 4
    x = x_of()
    ya, yb = a(x), b(x)
    torch.testing.assert_close(ya, yb)
    ya.square().mean().backward()
    yb.square().mean().backward()
    grads_b = dict(b.named_parameters())
    for name, p in a.named_parameters():
        torch.testing.assert_close(p.grad, grads_b[name].grad, msg=name)


# --- ResNet-D ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [16, 15])
def test_avgproj_pools_then_projects(size: int) -> None:
    spec = spec_of(tiny("bottleneck", downsample="avgproj", size=size))
    graph = archspec.lower(spec)
    pool = graph.nodes["layer2.0.downsample.0"]
    assert pool["op"] == "pool" and pool["params"]["kind"] == "avg"
    assert graph.nodes["layer2.0.downsample.1"]["params"]["stride"] == 1
    assert "layer2.0.downsample.2" in graph  # the norm
    assert "layer1.0.downsample.0" not in graph  # no pool where the stride is 1
    model = archspec.build(spec, seed=0)
    assert model(x_of(size)).shape == (2, 5)  # odd sizes too: the pool rounds up


# --- compile and export with the new ops ---------------------------------------------

MIXED = {
    "name": "mixed",
    "input": {"channels": 3, "size": 16},
    "stem": {"type": "cifar", "width": 8},
    "defaults": {"se": 4},
    "stages": [
        {"block": "highway", "depth": 1, "width": 8, "skip": "gated"},
        {"block": "dense", "depth": 2, "width": 4, "stride": 2},
        {"block": "resnext", "depth": 1, "width": 8, "groups": 4, "skip": "sparse"},
        {
            "block": "basic",
            "depth": 1,
            "width": 16,
            "stride": 2,
            "drop_path": 0.1,
            "downsample": "avgproj",
        },
    ],
    "head": {"classes": 5},
}


def test_new_ops_compile_fullgraph_and_export() -> None:
    model = archspec.build(spec_of(MIXED), seed=0)
    assert isinstance(model, fx.GraphModule)
    x = x_of()
    model.eval()
    expected = model(x)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x), expected)
    program = torch.export.export(model, (x,))
    torch.testing.assert_close(program.module()(x), expected)


def test_dense_growth_is_width_under_densenets_name() -> None:
    base = archspec.load("densenet_bc100_12")
    as_width = base.override({"defaults.growth": None, "defaults.width": 12})
    assert as_width.blocks == base.blocks
    assert as_width.arch_id == base.arch_id
    assert base.override({"defaults.growth": 16}).blocks[0].width == 16
    with pytest.raises(archspec.SpecError, match="same setting"):
        base.override({"defaults.width": 16})
