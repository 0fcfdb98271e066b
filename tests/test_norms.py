"""Norms and activations: every kind in the op table's NORMS and ACTS, through every
block type (built, counted, shaped, trained), at every rank through the op table, and
the spec's spelling of them: settings, defaults that make one architecture, and group
counts that do not divide refused at the field that sets them.

Cases come from the registries (NORMS, ACTS, ``archspec.blocks.blocks()``), so a new
kind or block type is covered without a test written for it."""

from __future__ import annotations

from typing import Any, get_args

import pytest
import reference_libs
import torch
from helpers import assert_ir_shapes, block_default_skip, n_params, script, spec_of, tiny_spec
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_block_families import forward_macs

import archspec
from archspec.blocks import blocks
from archspec.blocks.base import Act, Norm
from archspec.errors import GraphError, SpecError
from archspec.graph.ops import ACTS, NORMS, OPS
from archspec.nn import ChannelLayerNorm, FrozenBatchNorm

torch.set_num_threads(1)

BLOCKS = sorted(blocks())
# A setting for each kind that fits the tiny nets (a cifar stem of 8 channels): group
# norm's default 32 groups would not divide 8.
SETTING: dict[str, Any] = {"group": {"kind": "group", "groups": 4}}
ACT_SETTING: dict[str, Any] = {"leaky_relu": {"kind": "leaky_relu", "slope": 0.2}}


def test_the_spec_names_every_kind_of_the_op_table() -> None:
    assert set(get_args(Norm)) == {*NORMS, "none"}
    assert set(get_args(Act)) == {*ACTS, "none"}


def _check_runs(spec: archspec.ArchSpec) -> None:
    graph = archspec.lower(spec)
    model = archspec.build(spec, seed=0)
    stats = archspec.stats(spec)
    assert n_params(model) == stats.params
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert_ir_shapes(graph, model, x)
    model.train()
    out = model(x)
    assert out.shape == (2, 5) and bool(torch.isfinite(out).all())
    out.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()), name
    model.eval()
    assert forward_macs(model, x) == stats.macs


@pytest.mark.parametrize("norm", sorted(NORMS))
@pytest.mark.parametrize("block", BLOCKS)
def test_every_norm_in_every_block_type(block: str, norm: str) -> None:
    extra = {"norm": SETTING.get(norm, norm)}
    spec = spec_of(tiny_spec(block, skip=block_default_skip(block), extra=extra))
    try:
        graph = archspec.lower(spec)
    except archspec.GraphError as err:
        # A block may refuse a norm it cannot use (the selective kernel's attention
        # normalizes a 1x1 map): it must say which norm, not fail in training.
        assert norm in str(err) and err.scope, err
        return
    kinds = {d["params"]["kind"] for _, d in graph.nodes(data=True) if d["op"] == "norm"}
    assert kinds == {norm}  # the stem's too: it follows the first stage
    _check_runs(spec)


@pytest.mark.parametrize("act", sorted(ACTS))
@pytest.mark.parametrize("block", BLOCKS)
def test_every_activation_in_every_block_type(block: str, act: str) -> None:
    extra = {"act": ACT_SETTING.get(act, act)}
    spec = spec_of(tiny_spec(block, skip=block_default_skip(block), extra=extra))
    graph = archspec.lower(spec)
    main = {d["params"]["kind"] for _, d in graph.nodes(data=True) if d["op"] == "act"}
    assert act in main
    _check_runs(spec)


# --- every kind at every rank, through the op table ----------------------------------------


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("kind", sorted(NORMS))
def test_every_norm_works_at_every_rank(kind: str, rank: int) -> None:
    shape = (8, *(5,) * rank)
    p = {"kind": kind, "channels": 8, **({"groups": 4} if kind == "group" else {})}
    rule = OPS["norm"]
    module = rule.module(p, False, shape)
    written = eval(rule.source(p, shape, ["x"], False), {"nn": torch.nn, **_OWN})
    assert type(written) is type(module)
    assert n_params(module) == rule.params(p, [shape])
    assert kind.replace("_", " ") in rule.label(p)
    x = torch.randn(3, *shape, generator=torch.Generator().manual_seed(0))
    rule.init(module, p, False)
    module.train()
    assert module(x).shape == x.shape == (3, *rule.shape(p, [shape]))
    scripted = script(module)
    torch.testing.assert_close(scripted(x), module(x))
    rule.init(module, p, True)  # zero_init_last: the norm starts at zero
    assert not module(x).any()


_OWN = {"ChannelLayerNorm": ChannelLayerNorm, "FrozenBatchNorm": FrozenBatchNorm}


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("kind", sorted(ACTS))
def test_every_activation_works_at_every_rank(kind: str, rank: int) -> None:
    p = {"kind": kind, **({"slope": 0.2} if kind == "leaky_relu" else {})}
    rule = OPS["act"]
    x = torch.randn(2, 4, *(3,) * rank, generator=torch.Generator().manual_seed(0))
    module = rule.module(p, False, tuple(x.shape[1:]))
    written = eval(rule.source(p, tuple(x.shape[1:]), ["x"], True), {"nn": torch.nn})
    assert type(written) is type(module)
    torch.testing.assert_close(written(x.clone()), module(x))


def test_leaky_relu_takes_its_slope() -> None:
    spec = spec_of(tiny_spec("basic", extra={"act": {"kind": "leaky_relu", "slope": 0.2}}))
    model = archspec.build(spec, device="meta")
    slopes = {m.negative_slope for m in model.modules() if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.2}
    plain = spec_of(tiny_spec("basic", extra={"act": "leaky_relu"}))
    model = archspec.build(plain, device="meta")
    slopes = {m.negative_slope for m in model.modules() if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.01}
    assert OPS["act"].label({"kind": "leaky_relu", "slope": 0.2}) == "leaky_relu 0.2"


# --- archspec's own norms against the libraries they follow -------------------------------


def test_frozen_batch_norm_is_torchvisions() -> None:
    tv = reference_libs.torchvision()
    gen = torch.Generator().manual_seed(0)
    bn = torch.nn.BatchNorm2d(6)
    with torch.no_grad():
        for t in (bn.weight, bn.bias, bn.running_mean):
            t.copy_(torch.randn(6, generator=gen))
        bn.running_var.copy_(torch.rand(6, generator=gen) + 0.5)
    ours, theirs = FrozenBatchNorm(6), tv.ops.FrozenBatchNorm2d(6)
    ours.load_state_dict(bn.state_dict(), strict=True)  # num_batches_tracked dropped
    theirs.load_state_dict(bn.state_dict(), strict=False)
    ours.train()
    x = torch.randn(4, 6, 5, 5, generator=gen)
    torch.testing.assert_close(ours(x), theirs(x))
    torch.testing.assert_close(ours(x), bn.eval()(x))
    assert not list(ours.parameters())
    assert set(ours.state_dict()) == {"weight", "bias", "running_mean", "running_var"}
    before = ours.running_mean.clone()
    ours(x)  # training changes nothing
    assert torch.equal(ours.running_mean, before)
    # at rank 1 and 3, the same per-channel affine
    for shape in ((4, 6, 7), (4, 6, 2, 3, 3)):
        x = torch.randn(*shape, generator=gen)
        flat = x.movedim(1, -1).reshape(-1, 6, 1, 1)
        expected = theirs(flat).reshape(*x.movedim(1, -1).shape).movedim(-1, 1)
        torch.testing.assert_close(ours(x), expected)


def test_layer_norm_is_timms_layer_norm_2d_over_channels() -> None:
    timm = reference_libs.timm()
    ours = ChannelLayerNorm(6)
    theirs = timm.layers.LayerNorm2d(6)
    with torch.no_grad():
        ours.weight.normal_()
        ours.bias.normal_()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 6, 5, 5)
    torch.testing.assert_close(ours(x), theirs(x))
    for shape in ((2, 6, 7), (2, 6, 3, 4, 4)):  # each position normalized over C alone
        x = torch.randn(*shape)
        ln = torch.nn.functional.layer_norm(x.movedim(1, -1), (6,), ours.weight, ours.bias, 1e-6)
        torch.testing.assert_close(ours(x), ln.movedim(-1, 1))


# --- the spec's spelling --------------------------------------------------------------------


def test_a_setting_written_as_its_default_is_the_same_architecture() -> None:
    def arch(norm: Any, act: Any = "relu") -> str:
        data = tiny_spec("basic", extra={"norm": norm, "act": act})
        data["stem"] = {"type": "cifar", "width": 32}
        return spec_of(data).arch_id

    assert arch("group") == arch({"kind": "group"}) == arch({"kind": "group", "groups": 32})
    assert arch("group") != arch({"kind": "group", "groups": 16})
    assert arch("batch") == arch({"kind": "batch"})
    assert arch("batch", "leaky_relu") == arch("batch", {"kind": "leaky_relu", "slope": 0.01})
    assert arch("batch", "leaky_relu") != arch("batch", {"kind": "leaky_relu", "slope": 0.2})


def test_the_stems_follow_the_first_stage_unless_told() -> None:
    def norms(stem: Any) -> dict[str, str]:
        data = tiny_spec("bottleneck", extra={"norm": {"kind": "group", "groups": 8}})
        data["stem"] = stem
        graph = archspec.lower(spec_of(data))
        return {
            d["scope"]: d["params"]["kind"]
            for _, d in graph.nodes(data=True)
            if d["op"] == "norm" and d["stage"] == "stem"
        }

    assert norms({"type": "deep", "width": 16}) == dict.fromkeys(
        ["conv1.1", "conv1.4", "bn1"], "group"
    )
    assert norms({"type": "imagenet", "width": 16, "norm": "frozen_batch"}) == {
        "bn1": "frozen_batch"
    }
    stem = [{"conv": 8, "stride": 2}, {"norm": {"kind": "group", "groups": 2}}, {"act": "mish"}]
    assert norms(stem) == {"bn1": "group"}
    # without a norm the stem's conv gets a bias, as a block's does
    data = tiny_spec("basic", extra={"norm": "none"})
    model = archspec.build(spec_of(data), device="meta")
    assert model.conv1.bias is not None


def _error(data: dict[str, Any]) -> SpecError:
    with pytest.raises(SpecError) as info:
        spec_of(data)
    return info.value


def test_groups_that_do_not_divide_are_refused_at_their_field(tmp_path: Any) -> None:
    data = tiny_spec("bottleneck", extra={"norm": {"kind": "group", "groups": 3}})
    err = _error(data)
    assert err.path == ("defaults", "norm", "groups")
    assert "3 groups" in str(err) and "32 channels" in str(err)

    data = tiny_spec("basic")
    data["stages"][1]["norm"] = {"kind": "group", "groups": 24}
    data["stem"] = {"type": "cifar", "width": 24}
    err = _error(data)
    assert err.path == ("stages", 1, "norm", "groups") and "64 channels" in str(err)

    data = tiny_spec("basic", extra={"norm": "group"})  # 32 groups, an 8-channel stem
    data["stages"] = [{"depth": 1, "width": 32}]
    err = _error(data)
    assert err.path == ("defaults", "norm") and "the stem's conv has 8 channels" in str(err)

    data = tiny_spec("basic")
    data["stem"] = {"type": "cifar", "width": 8, "norm": {"kind": "group", "groups": 3}}
    assert _error(data).path == ("stem", "norm", "groups")

    data = tiny_spec("basic")
    data["stem"] = [{"conv": 6}, {"norm": {"kind": "group", "groups": 4}}]
    err = _error(data)
    assert err.path == ("stem", 1, "norm", "groups") and "6 channels" in str(err)

    # from a file: the file, the line and the field
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\ninput: {channels: 3, size: 16}\nstem: {type: cifar, width: 8}\n"
        "defaults: {block: basic, norm: {kind: group, groups: 2}}\n"
        "stages:\n  - {depth: 1, width: 8}\n"
        "  - {depth: 1, width: 12, norm: {kind: group, groups: 8}}\n"
        "head: {classes: 2}\n"
    )
    with pytest.raises(SpecError) as info:
        archspec.load(path)
    err = info.value
    assert (err.file, err.line, err.path) == (str(path), 7, ("stages", 1, "norm", "groups"))
    assert "12 channels" in str(err) and "8 groups" in str(err)


def test_groups_known_only_after_lowering_name_the_block() -> None:
    # A dense layer normalizes the concatenation of all before it: 8 + 6 = 14 channels.
    data = tiny_spec("dense", skip="identity", extra={"norm": {"kind": "group", "groups": 2}})
    data["stages"] = [{"depth": 2, "width": 7}]
    with pytest.raises(GraphError) as info:
        archspec.lower(spec_of(data))
    assert "layer1.1" in str(info.value) and "15 channels" in str(info.value)


def test_settings_of_another_kind_are_refused() -> None:
    err = _error(tiny_spec("basic", extra={"norm": {"kind": "batch", "groups": 4}}))
    assert err.path[:2] == ("defaults", "norm") and "group" in str(err)
    err = _error(tiny_spec("basic", extra={"act": {"kind": "elu", "slope": 0.1}}))
    assert err.path[:2] == ("defaults", "act") and "leaky_relu" in str(err)
    err = _error(tiny_spec("basic", extra={"norm": "batchnorm"}))
    assert err.path[:2] == ("defaults", "norm")


@pytest.mark.parametrize(
    "settings",
    [{"norm": SETTING.get(k, k)} for k in sorted(NORMS)]
    + [{"act": ACT_SETTING.get(k, k), "output_stride": 2} for k in sorted(ACTS)],
    ids=[f"norm-{k}" for k in sorted(NORMS)] + [f"act-{k}" for k in sorted(ACTS)],
)
def test_emitted_source_has_every_kind(settings: dict[str, Any]) -> None:
    from test_build_outputs import run_emitted

    from archspec.codegen.emit import emit_python

    data = tiny_spec("basic", extra={k: v for k, v in settings.items() if k != "output_stride"})
    if "output_stride" in settings:  # and a dilated stage: the cifar stem reduces by 1
        data["output_stride"] = settings["output_stride"]
    spec = spec_of(data)
    source = emit_python(archspec.lower(spec))
    assert "import archspec" not in source and "from archspec" not in source
    reference = archspec.build(spec, seed=1).eval()
    model = run_emitted(source, spec, reference.state_dict())
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)


@settings(max_examples=40, deadline=None)
@given(
    block=st.sampled_from(BLOCKS),
    widths=st.lists(st.integers(1, 48), min_size=1, max_size=3),
    stem=st.integers(1, 48),
    groups=st.integers(1, 12),
)
def test_any_group_count_builds_or_is_refused_naming_it(
    block: str, widths: list[int], stem: int, groups: int
) -> None:
    data = tiny_spec(block, skip=block_default_skip(block))
    data["stem"] = {"type": "cifar", "width": stem}
    data["stages"] = [{"depth": 2, "width": w} for w in widths]
    if block == "resnext":
        data["defaults"]["base_width"] = None
        data["defaults"]["groups"] = 1
    try:  # widths the block type refuses whatever the norm (odd ones for radix 2)
        archspec.lower(spec_of(data))
    except (SpecError, GraphError):
        assume(False)
    data["defaults"]["norm"] = {"kind": "group", "groups": groups}
    try:
        graph = archspec.lower(spec_of(data))
    except (SpecError, GraphError) as err:
        assert f"{groups} groups" in str(err), err
        return
    for _, d in graph.nodes(data=True):
        if d["op"] == "norm":
            assert d["params"]["channels"] % groups == 0, d["scope"]
    assert archspec.stats(spec_of(data)).params == n_params(
        archspec.build(spec_of(data), device="meta")
    )
