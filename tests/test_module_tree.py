"""The built model is an ordinary module tree: what a torchvision user reaches for works.

Stages and blocks are modules with forwards of their own; hooks fire per block;
``nn.Sequential(*children[:-2])`` makes a trunk; torchinfo shows each block by its
class; copies and pickles keep the tree; the backbone methods act as timm's do.
"""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
import torchinfo
from helpers import generated_modules, script, spec_of, tiny_spec
from torch import fx, nn

import archspec
from archspec.blocks import blocks


def _x(size: int = 32, batch: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    return archspec.build("resnet18", seed=0).eval()


def test_stages_and_blocks_are_callable_and_index_like_sequential(resnet18: nn.Module) -> None:
    x = _x(64)
    with torch.no_grad():
        h = resnet18.maxpool(resnet18.relu(resnet18.bn1(resnet18.conv1(x))))
        manual = resnet18.layer4(resnet18.layer3(resnet18.layer2(resnet18.layer1(h))))
        blocks_one_by_one = h
        for stage in (resnet18.layer1, resnet18.layer2, resnet18.layer3, resnet18.layer4):
            for block in stage:
                blocks_one_by_one = block(blocks_one_by_one)
        trunk = nn.Sequential(*list(resnet18.children())[:-2])
        assert torch.equal(trunk(x), manual)
        assert torch.equal(blocks_one_by_one, manual)
        assert torch.equal(resnet18.forward_features(x), manual)
    assert isinstance(resnet18.layer2, nn.Sequential) and len(resnet18.layer2) == 2
    assert type(resnet18.layer2[0]).__name__ == "BasicBlock"
    assert isinstance(resnet18.layer2[0].downsample, nn.Sequential)
    assert resnet18.layer2[-1] is resnet18.layer2[1]


def test_a_dense_stage_indexes_its_layers() -> None:
    model = archspec.build("densenet_bc100_12", seed=0, overrides={"stages.1.depth": 2}).eval()
    stage = model.layer2
    assert type(stage).__name__ == "DenseStage" and len(stage) == 2
    assert [type(b).__name__ for b in stage] == ["DenseLayer", "DenseLayer"]
    assert stage[-1] is stage[1] is stage._modules["1"]


def test_a_cross_stage_partial_stage_indexes_its_blocks() -> None:
    model = archspec.build("cspresnet50", device="meta")
    stage = model.layer2  # its blocks sit in stage.blocks, between conv_exp and the transitions
    assert type(stage).__name__ == "CspStage" and len(stage) == 3
    assert [type(b).__name__ for b in stage] == ["BottleneckBlock"] * 3
    assert stage[-1] is stage[2] is stage.blocks[2]


@pytest.mark.parametrize("name", sorted(blocks()))
def test_every_block_type_gets_a_class_of_its_own(name: str) -> None:
    spec = spec_of(tiny_spec(name))
    model = archspec.build(spec, device="meta")
    # Each block's module, wherever its stage holds it (layer1.0, or layer1.blocks.0).
    scopes = [record.scope for record in archspec.lower(spec).graph["blocks"]]
    classes = {type(model.get_submodule(scope)).__name__ for scope in scopes}
    assert classes == {blocks()[name].module_class}


def test_hooks_fire_once_per_call_on_blocks_and_stages(resnet18: nn.Module) -> None:
    model = archspec.build("resnet18", seed=0)
    for m in model.modules():  # a full backward hook's output must not change in place
        if hasattr(m, "inplace"):
            m.inplace = False
    fired: dict[str, int] = {}

    def count(key: str):
        return lambda *args: fired.__setitem__(key, fired.get(key, 0) + 1)

    model.layer2[0].register_forward_hook(count("forward block"))
    model.layer3.register_forward_pre_hook(count("pre stage"))
    model.layer2[0].register_full_backward_hook(count("backward block"))
    model.layer3.register_full_backward_hook(count("backward stage"))
    model(_x()).sum().backward()
    assert fired == {"forward block": 1, "pre stage": 1, "backward block": 1, "backward stage": 1}


def test_torchinfo_shows_each_stage_and_block_with_its_class_and_shape() -> None:
    report = torchinfo.summary(
        archspec.build("resnet18", device="meta"),
        input_size=(1, 3, 64, 64),
        depth=3,
        device="meta",
        verbose=0,
    )
    rows = [(layer.class_name, layer.depth, layer.output_size) for layer in report.summary_list]
    assert ("Sequential", 1, [1, 128, 8, 8]) in rows
    assert ("BasicBlock", 2, [1, 128, 8, 8]) in rows
    assert not [r for r in rows if r[2] == [] and r[0] != "Resnet18"], "a module with no shape"
    assert "Module" not in {r[0] for r in rows}


def test_deepcopy_and_pickle_keep_the_tree(resnet18: nn.Module) -> None:
    x = _x()
    backbone = archspec.build("resnet18", seed=0, features=True).eval()
    for model in (resnet18, backbone):
        for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
            assert type(twin).__name__ == type(model).__name__
            assert [type(m).__name__ for m in twin.modules()] == [
                type(m).__name__ for m in model.modules()
            ]
            assert twin.feature_info == model.feature_info
            assert twin.backbone == model.backbone
            assert twin.training == model.training
            with torch.no_grad():
                a, b = model(x), twin(x)
                assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
                assert torch.equal(twin.forward_features(x), model.forward_features(x))
    mixed = archspec.build("resnet18", seed=0).train()
    mixed.bn1.eval()  # frozen statistics in one layer, as fine-tuning often does
    for twin in (copy.deepcopy(mixed), pickle.loads(pickle.dumps(mixed))):
        assert twin.training and not twin.bn1.training and twin.layer1[0].bn1.training
    buffer = io.BytesIO()
    torch.save(resnet18, buffer)  # a whole-model save, as users of torch.save do
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    with torch.no_grad():
        assert torch.equal(loaded(x), resnet18(x))


@pytest.mark.parametrize("name", ["resnet18", "densenet_bc100_12", "highway20", "seresnet50"])
def test_compile_export_and_channels_last_see_the_tree(name: str) -> None:
    spec = archspec.load(name).override({"input.size": 32})
    if name == "densenet_bc100_12":
        spec = spec.override({"stages.0.depth": 2, "stages.1.depth": 2, "stages.2.depth": 2})
    model = archspec.build(spec, seed=0).eval()
    x = _x()
    with torch.no_grad():
        expected = model(x)
        compiled = torch.compile(model, fullgraph=True, backend="eager")
        torch.testing.assert_close(compiled(x), expected)
        program = torch.export.export(model, (x,))
        torch.testing.assert_close(program.module()(x), expected)
        last = model.to(memory_format=torch.channels_last)
        torch.testing.assert_close(last(x.to(memory_format=torch.channels_last)), expected)


@pytest.mark.parametrize("name", sorted(blocks()))
def test_every_block_type_compiles_under_torchscript(name: str) -> None:
    from archspec.spec.load import from_data
    from archspec.testing import tiny_block_spec

    settings = {"eca": True} if name == "basic" else {}  # ECA's conv, a module of ours
    spec = from_data(tiny_block_spec(name, "identity", **settings), "<test>")
    model = archspec.build(spec, seed=0).eval()
    scripted = script(model)
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(scripted(x), model(x))


def test_reset_classifier_and_get_classifier() -> None:
    model = archspec.build("resnet18", seed=0).eval()
    assert model.get_classifier() is model.fc
    x = _x()
    with torch.no_grad():
        pooled = torch.flatten(model.avgpool(model.forward_features(x)), 1)
        model.reset_classifier(10)
        assert model(x).shape == (2, 10) and model.fc.in_features == 512
        model.reset_classifier(0)
        assert torch.equal(model(x), pooled)
        model.reset_classifier(3)
        assert model(x).shape == (2, 3)
    with pytest.raises(archspec.ArchSpecError, match="num_classes"):
        model.reset_classifier(-1)
    backbone = archspec.build("resnet18", features=True, device="meta")
    with pytest.raises(archspec.ArchSpecError, match="no classifier"):
        backbone.reset_classifier(10)


@pytest.mark.parametrize("name", archspec.presets())
def test_every_preset_survives_a_pickle(name: str) -> None:
    """Loading a pickle re-traces each generated forward, calling every function op on
    fx's proxies (the ODE time channel's reshape could not take one)."""
    for features in (False, True):
        model = archspec.build(name, device="meta", features=features)
        twin = pickle.loads(pickle.dumps(model))
        assert type(twin).__name__ == type(model).__name__, name
        assert str(twin.graph) == str(model.graph), name
        assert [n for n, _ in twin.named_modules()] == [n for n, _ in model.named_modules()]


@pytest.mark.parametrize("name", archspec.presets())
def test_forward_head_num_features_and_num_classes_as_timm_has_them(name: str) -> None:
    """forward_head(forward_features(x)) is the forward, for every preset; num_features
    is forward_features' channels, num_classes the classifier's outputs, after a reset too."""
    spec = archspec.load(name)
    model = archspec.build(spec, seed=0).eval()
    channels, *sizes = spec.input.shape
    small = [min(size, 64) for size in sizes]  # the head does not depend on the input size
    x = torch.randn(2, channels, *small, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        trunk = model.forward_features(x)
        # equal_nan: the deepest presets overflow at random init, in both calls alike
        same = {"rtol": 0, "atol": 0, "equal_nan": True}
        torch.testing.assert_close(model.forward_head(trunk), model(x), **same)
        pre = model.forward_head(trunk, pre_logits=True)
        assert model.num_features == trunk.shape[1] == pre.shape[1] == model.fc.in_features
        assert model.num_classes == spec.head.classes == model(x).shape[1]
        model.reset_classifier(0)
        torch.testing.assert_close(model(x), pre, **same)
        assert model.num_classes == 0
        model.reset_classifier(7)
        assert model.num_classes == 7 == model.forward_head(trunk).shape[1]
    assert copy.deepcopy(model).num_classes == pickle.loads(pickle.dumps(model)).num_classes == 7


def test_forward_head_equals_timms() -> None:
    import reference_libs

    reference = reference_libs.timm().create_model("resnet50d", pretrained=False).eval()
    model = archspec.build("resnet50d", seed=0).eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = _x(64)
    with torch.no_grad():
        trunk = model.forward_features(x)
        for pre_logits in (False, True):
            expected = reference.forward_head(reference.forward_features(x), pre_logits)
            torch.testing.assert_close(model.forward_head(trunk, pre_logits), expected)
    assert (model.num_features, model.num_classes) == (
        reference.num_features,
        reference.num_classes,
    )
    headless = archspec.build("resnet18", overrides={"head": "none"}, device="meta")
    assert (headless.num_classes, headless.num_features) == (0, 512)
    backbone = archspec.build("resnet18", features=True, device="meta")
    with pytest.raises(archspec.ArchSpecError, match=r"a backbone .* has no head"):
        backbone.forward_head(torch.empty(1, 512, 1, 1, device="meta"))


def test_generated_forwards_are_read_like_hand_written_code(resnet18: nn.Module) -> None:
    code = resnet18.layer2[0].code
    assert "conv1 = self.conv1(x)" in code and "+= downsample" in code
    assert "layer2" not in code  # local names, not the flat graph's
    assert all(isinstance(m, fx.GraphModule) for _, m in generated_modules(resnet18))


def test_torchview_draws_stages_then_blocks_then_layers() -> None:
    """torchview shows one more level of the tree at each depth, as for torchvision's."""
    torchview = pytest.importorskip("torchview", reason="torchview is a test dependency")
    import re

    model = archspec.build("resnet18", seed=0)
    names = {}
    for depth in (1, 2, 3):
        graph = torchview.draw_graph(model, input_size=(1, 3, 32, 32), depth=depth)
        names[depth] = re.findall(r">([A-Za-z0-9]+)<BR", graph.visual_graph.source)
    assert names[1].count("Sequential") == 4 and "BasicBlock" not in names[1]
    assert names[2].count("BasicBlock") == 8 and "Sequential" not in names[2]
    assert "BasicBlock" not in names[3] and names[3].count("Conv2d") > names[2].count("Conv2d")


@pytest.mark.parametrize("name", ["resnet50", "resnext50_32x4d", "wide_resnet50_2"])
def test_print_shows_the_tree_as_torchvision_s(name: str) -> None:
    """print(model) shows the module tree with the lines torchvision's model prints (bar
    the top class's name; a block's relu comes where it is first called, torchvision's
    after the convs), without fx's generated code after it."""
    import reference_libs

    theirs = getattr(reference_libs.torchvision().models, name)()
    ours = archspec.build(name, device="meta")
    assert sorted(str(ours).splitlines()[1:]) == sorted(str(theirs).splitlines()[1:])
    assert "def forward" in ours.code
