"""Dilation: a stage trading its stride for dilation (`dilate: true`, or the network's
`output_stride`), as torchvision's replace_stride_with_dilation computes it: the IR's
shapes and the built convs agree, the dilation carries into later stages, feature
reductions say the resolution is kept, and block types whose convs cannot dilate are
refused naming themselves. Block types come from the registry."""

from __future__ import annotations

from typing import Any

import pytest
import reference_libs
import torch
from helpers import assert_ir_shapes, block_default_skip, n_params, spec_of, tiny_spec

import archspec
from archspec.blocks import blocks
from archspec.errors import SpecError

torch.set_num_threads(1)

BLOCKS = sorted(blocks())


def _dilated(block: str) -> dict[str, Any]:
    data = tiny_spec(block, skip=block_default_skip(block))
    data["stages"].append({"depth": 2, "width": 64, "stride": 2, "dilate": True})
    return data


@pytest.mark.parametrize("block", BLOCKS)
def test_every_block_type_dilates_or_says_it_cannot(block: str) -> None:
    data = _dilated(block)
    if not blocks()[block].config.takes_dilation:
        with pytest.raises(SpecError) as info:
            spec_of(data)
        assert repr(block) in str(info.value) and info.value.path == ("stages", 2, "dilate")
        return
    spec = spec_of(data)
    graph = archspec.lower(spec)
    model = archspec.build(spec, seed=0)
    assert n_params(model) == archspec.stats(spec).params
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert_ir_shapes(graph, model, x)
    last = graph.graph["stages"][-1].scope
    maps = [d["shape"][1:] for _, d in graph.nodes(data=True) if d["stage"] == last]
    # the resolution is kept (attention pooled to one value per channel aside)
    assert all(size == (8, 8) for size in maps if len(size) == 2 and size != (1, 1))
    dilations = {
        d["params"].get("dilation", 1)
        for _, d in graph.nodes(data=True)
        if d["op"] == "conv" and d["block"] == f"{last}.1" and d["params"]["kernel"] == 3
    }
    assert dilations == {2}
    for node, d in graph.nodes(data=True):
        if d["op"] == "conv":
            conv = model.get_submodule(d["scope"])
            assert conv.dilation == (d["params"].get("dilation", 1),) * 2, node
            assert conv.padding == (d["params"]["padding"],) * 2, node
    model(x).sum().backward()


@pytest.mark.parametrize("pattern", [(True, False, True), (False, False, True), (True,) * 3])
def test_each_conv_is_torchvisions(pattern: tuple[bool, bool, bool]) -> None:
    tv = reference_libs.torchvision()
    with torch.device("meta"):
        reference = tv.models.resnet50(replace_stride_with_dilation=list(pattern))
    stages = [dict(s) for s in archspec.load("resnet50").stages]
    for stage, dilate in zip(stages[1:], pattern, strict=True):
        stage["dilate"] = dilate
    model = archspec.build(archspec.load("resnet50").override({"stages": stages}), device="meta")
    assert n_params(model) == n_params(reference)
    for name, conv in reference.named_modules():
        if isinstance(conv, torch.nn.Conv2d):
            ours = model.get_submodule(name)
            got = (ours.stride, ours.padding, ours.dilation)
            assert got == (conv.stride, conv.padding, conv.dilation), name


def test_output_stride_dilates_the_stages_past_it() -> None:
    spec = archspec.load("resnet50").override({"output_stride": 8})
    assert [cfg.dilate for cfg in spec.blocks] == [False, False, True, True]
    assert archspec.load("resnet50").override({"output_stride": 16}).blocks[3].dilate
    assert not any(
        c.dilate for c in archspec.load("resnet50").override({"output_stride": 32}).blocks
    )
    written = [dict(s) for s in archspec.load("resnet50").stages]
    for stage in written[2:]:
        stage["dilate"] = True
    assert archspec.load("resnet50").override({"stages": written}).arch_id == spec.arch_id
    with pytest.raises(SpecError) as info:
        archspec.load("resnet50").override({"output_stride": 2})
    assert info.value.path == ("output_stride",) and "stem's reduction 4" in str(info.value)


def test_features_of_a_dilated_backbone_keep_output_stride_8() -> None:
    spec = archspec.load("resnet18").override({"output_stride": 8, "features": True})
    model = archspec.build(spec, seed=0).eval()
    assert model.feature_info.reduction() == [2, 4, 8, 8, 8]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        sizes = [f.shape[-1] for f in model(x)]
    assert [64 // s for s in sizes] == model.feature_info.reduction()


def test_a_block_type_that_cannot_dilate_may_not_follow_a_dilated_stage() -> None:
    data = tiny_spec("basic")
    data["stages"][1]["dilate"] = True
    data["stages"].append({"depth": 1, "width": 8, "block": "dense", "skip": "identity"})
    with pytest.raises(SpecError) as info:
        spec_of(data)
    assert info.value.path == ("stages", 2, "block") and "'dense'" in str(info.value)


def test_labels_show_the_dilation() -> None:
    graph = archspec.lower(archspec.load("resnet50").override({"output_stride": 8}))
    from archspec.graph.ops import OPS, conv_text

    params = graph.nodes["layer4.1.conv2"]["params"]
    assert OPS["conv"].label(params) == "conv 3×3, 512, dilation 4"
    assert conv_text(params) == "3×3 512 d4"


@pytest.mark.parametrize("size", [[32], [16, 16], [4, 8, 8]], ids=["1d", "2d", "3d"])
def test_a_dilated_avg_down_skip_pools_at_stride_1_keeping_the_size(size: list[int]) -> None:
    from test_build_outputs import run_emitted

    from archspec.nn import AvgPoolSame

    data = _dilated("bottleneck")
    data["input"]["size"] = size
    data["defaults"]["downsample"] = "avgproj"
    data["stages"][-1]["width"] = 128  # new channels: the dilated stage's skip projects
    spec = spec_of(data)
    model = archspec.build(spec, seed=0).eval()
    pool = model.get_submodule("layer3.0.downsample.0")
    assert isinstance(pool, AvgPoolSame)
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    assert_ir_shapes(archspec.lower(spec), model, x)
    # torch's own pool over the map zero-padded at each axis's end: the size stays.
    inner = torch.randn(2, 4, *size)
    padded = torch.nn.functional.pad(inner, [0, 1] * len(size))
    expected = getattr(torch.nn, f"AvgPool{len(size)}d")(2, stride=1)(padded)
    assert expected.shape == inner.shape
    torch.testing.assert_close(pool(inner), expected)
    emitted = run_emitted(archspec.emit_python(spec), spec, model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(emitted(x), model(x), rtol=0, atol=0)
