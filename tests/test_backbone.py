"""Backbone mode: feature maps instead of logits, checked against timm's ``features_only``
and torchvision's ``create_feature_extractor`` with the same weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import reference_libs
import torch
from helpers import n_params, run_cli
from torch import nn

import archspec


def _x(size: int = 64, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", archspec.presets())
def test_every_preset_as_a_backbone(name: str) -> None:
    """feature_info tells the truth about what the forward returns, and only what the
    outputs need is built and counted."""
    spec = archspec.load(name)
    model = archspec.build(spec, features=True, device="meta")
    info = model.feature_info
    x = torch.empty(
        2, *spec.input.shape, device="meta"
    )  # BN after a global pool needs 2 in training
    maps = model(x)
    assert isinstance(maps, list) and len(maps) == len(info) == len(spec.stages) + (
        spec.stem != "none"
    )
    size = spec.input.shape[-1]  # at every rank, the reduction of the last axis
    for feature, fmap in zip(info, maps, strict=True):
        assert fmap.shape[1] == feature.channels
        assert feature.reduction == round(size / fmap.shape[-1])
    assert info.module_name()[-1] in {"final_act", f"layer{len(spec.stages)}"}
    assert n_params(model) == archspec.stats(spec.override({"features": True})).params
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    # The classifier describes the same maps, as timm's classifiers do, and says it
    # returns none of them.
    classifier = archspec.build(spec, device="meta")
    assert model.backbone and not classifier.backbone
    assert classifier.feature_info == info


# timm's classifiers of the presets' names; torchvision's models have no feature_info.
TIMM_CLASSIFIERS = ["resnet50", *reference_libs.TIMM]


@pytest.mark.parametrize("name", TIMM_CLASSIFIERS)
def test_a_classifiers_feature_info_is_timms(name: str) -> None:
    with torch.device("meta"):
        reference = reference_libs.timm().create_model(name, pretrained=False)
    ours = archspec.build(name, device="meta").feature_info
    assert ours.channels() == [d["num_chs"] for d in reference.feature_info]
    assert ours.reduction() == [d["reduction"] for d in reference.feature_info]


@pytest.mark.parametrize("name", ["resnet50", "resnet50d"])
def test_features_equal_timms_features_only(name: str) -> None:
    timm = reference_libs.timm()
    reference = timm.create_model(name, features_only=True, pretrained=False).eval()
    ours = archspec.build(name, features=True, seed=0).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)  # every name and shape agrees
    assert n_params(ours) == n_params(reference)
    assert ours.feature_info.channels() == reference.feature_info.channels()
    assert ours.feature_info.reduction() == reference.feature_info.reduction()
    assert ours.feature_info.module_name()[1:] == reference.feature_info.module_name()[1:]
    x = _x()
    with torch.no_grad():
        for a, b in zip(ours(x), reference(x), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    ours_info, theirs = ours.feature_info, reference.feature_info
    for idx in (None, -1, 2, [0, 3]):
        for what in ("channels", "reduction"):
            assert getattr(ours_info, what)(idx) == getattr(theirs, what)(idx), (what, idx)
        keys = ["num_chs", "reduction"]
        assert ours_info.get_dicts(keys=keys, idx=idx) == theirs.get_dicts(keys=keys, idx=idx)
        assert ours_info.get("num_chs", idx) == theirs.get("num_chs", idx)
    for i in range(len(theirs)):  # timm's entries are dicts, read by its keys
        assert ours_info[i]["num_chs"] == theirs[i]["num_chs"]
        assert ours_info[i]["reduction"] == theirs[i]["reduction"]
        assert dict(ours_info[i]) == ours_info.get_dicts(idx=i)


def test_features_equal_torchvisions_feature_extractor() -> None:
    tv = reference_libs.torchvision()
    from torchvision.models.feature_extraction import create_feature_extractor

    full = archspec.build("resnet50", seed=0).eval()
    reference = tv.models.resnet50().eval()
    reference.load_state_dict(full.state_dict(), strict=True)
    points = ["relu", "layer1", "layer2.3", "layer3.5.conv2", "layer4"]
    extractor = create_feature_extractor(reference, return_nodes={p: p for p in points})
    ours = archspec.build("resnet50", seed=0, features=points).eval()
    ours.load_state_dict({k: v for k, v in full.state_dict().items() if not k.startswith("fc.")})
    x = _x()
    with torch.no_grad():
        expected = extractor(x)
        got = ours(x)
    assert ours.feature_info.module_name() == points
    for point, value in zip(points, got, strict=True):
        torch.testing.assert_close(value, expected[point], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "extra"), [("highway20", []), ("resnet18", ["bn1", "layer1.0.bn2", "layer2.0.bn1"])]
)
def test_named_points_equal_what_hooks_see_in_the_classifier(name: str, extra: list) -> None:
    """Points that an in-place op reads next (a norm before its ReLU, a branch before
    `+=`) are returned as they were computed, not overwritten."""
    full = archspec.build(name, seed=0).eval()
    points = ["layer2.1", "layer3", "layer1.0.gate", "relu", *extra]
    if name != "highway20":
        points.remove("layer1.0.gate")
    seen: dict[str, torch.Tensor] = {}

    def keep(point: str):  # a hook returning a value would replace the output
        def hook(module: torch.nn.Module, args: object, out: torch.Tensor) -> None:
            seen.setdefault(point, out.clone() if isinstance(out, torch.Tensor) else out)

        return hook

    for point in points:
        full.get_submodule(point).register_forward_hook(keep(point))
    if name == "highway20":
        with pytest.raises(archspec.GraphError, match=r"layer1\.0\.gate.*passes out 2 values"):
            archspec.build(name, features=points)
        points.remove("layer1.0.gate")
    ours = archspec.build(name, seed=0, features=points).eval()
    x = _x(32)
    with torch.no_grad():
        full(x)
        for point, value in zip(points, ours(x), strict=True):
            assert torch.equal(value, seen[point]), point


def test_head_none_ends_at_the_last_stage() -> None:
    spec = archspec.load("densenet121").override({"head": "none"})
    model = archspec.build(spec, seed=0).eval()
    full = archspec.build("densenet121", seed=0).eval()
    x = _x()
    with torch.no_grad():
        assert torch.equal(model(x), full.forward_features(x))
    assert archspec.stats(spec).params == archspec.stats("densenet121").params - 1024 * 1000 - 1000
    assert archspec.stats(spec).output_shape == (1024, 7, 7)
    assert spec.arch_id != archspec.load("densenet121").arch_id


def test_a_backbone_spec_in_yaml_through_the_commands(write) -> None:
    path = write(
        "backbone.yaml",
        "name: backbone\nextends: resnet18\nhead: none\nfeatures: [layer2, layer4]\n",
    )
    spec = archspec.load(path)
    assert spec.features == ("layer2", "layer4")
    assert archspec.ArchSpec.from_yaml(spec.to_yaml()) == spec
    proc = run_cli("summary", path, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["params"] == archspec.stats(spec).params
    assert report["output_size"] == [1, 512, 7, 7]
    assert report["features"] == [
        {"module": "layer2", "channels": 128, "reduction": 8, "output_size": [1, 128, 28, 28]},
        {"module": "layer4", "channels": 512, "reduction": 32, "output_size": [1, 512, 7, 7]},
    ]
    proc = run_cli("summary", path)
    assert "output layer2 1x128x28x28, layer4 1x512x7x7" in proc.stdout.replace("×", "x")
    out = path.parent / "backbone.svg"
    proc = run_cli("render", path, "-o", out)
    assert proc.returncode == 0, proc.stderr
    svg = out.read_text()
    assert "output 0: layer2" in svg and "output 1: layer4" in svg and "2 feature maps" in svg


def test_bad_feature_points_are_clear_errors(write) -> None:
    with pytest.raises(archspec.GraphError, match=r"no module 'layer9'.*top level has: conv1, bn1"):
        archspec.build("resnet18", features=["layer9"], device="meta")
    with pytest.raises(archspec.GraphError, match=r"no module 'layer1\.7'.*layer1 has: 0, 1$"):
        archspec.build("resnet18", features=["layer1.7"], device="meta")
    with pytest.raises(archspec.GraphError, match=r"layer1\.0 has: conv1, bn1, relu, conv2"):
        archspec.build("resnet18", features=["layer1.0.conv9"], device="meta")
    with pytest.raises(archspec.GraphError) as err:
        archspec.build("resnet18", features=["x"], device="meta")
    assert "input" not in str(err.value)  # no module of the tree
    with pytest.raises(archspec.SpecError, match="features: an empty list names no feature map"):
        archspec.build("resnet18", features=[], device="meta")
    path = write("one.yaml", "name: one\nextends: resnet18\nfeatures: layer2\n")
    with pytest.raises(archspec.SpecError, match=r"one\.yaml:3.*not one string: write \[layer2\]"):
        archspec.load(path)
    with pytest.raises(archspec.ArchSpecError, match="features is True, False or a list"):
        archspec.build("resnet18", features="layer1", device="meta")  # type: ignore[arg-type]
    with pytest.raises(archspec.SpecError, match="features"):
        archspec.load("resnet18").override({"features": ["layer 1"]})
    path = write("bad.yaml", "name: bad\nextends: resnet18\nfeatures: [layer2, nope]\n")
    proc = run_cli("validate", path)
    assert proc.returncode == 1 and "no module 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_reductions_are_the_strides_whatever_the_input_size() -> None:
    for size in (200, 97, 224):
        model = archspec.build(
            "resnet50", features=True, device="meta", overrides={"input.size": size}
        )
        assert model.feature_info.reduction() == [2, 4, 8, 16, 32], size


def test_points_the_network_cannot_return_are_refused() -> None:
    from helpers import spec_of, tiny_spec

    dense = spec_of(tiny_spec("dense", extra={"memory_efficient": True}))
    with pytest.raises(archspec.GraphError, match=r"recomputed in backward.*layer1\.0\.conv1"):
        archspec.build(dense, features=["layer1.0.relu1", "layer2"], device="meta")
    assert archspec.build(dense, features=["layer1.0.conv1"], device="meta").feature_info


@pytest.mark.parametrize(
    "points", [["layer2.0.downsample"], ["layer3.2.conv2", "layer1.0.downsample"], True]
)
def test_a_backbone_gets_the_weights_its_classifier_gets_from_the_same_seed(points) -> None:
    full = archspec.build("resnet50", seed=0).state_dict()
    part = archspec.build("resnet50", seed=0, features=points).state_dict()
    assert part and all(torch.equal(value, full[key]) for key, value in part.items())


@pytest.mark.parametrize("features", [True, ["layer2", "layer3.1"]])
def test_every_api_function_takes_features_as_build_does(
    tmp_path: Path, features: bool | list[str]
) -> None:
    """``features=`` on lower, stats, summary, render and emit_python is the spec's
    ``features:``, as on build."""
    spec = archspec.load("resnet18")
    written = spec.override({"features": features})
    assert (
        archspec.lower(spec, features=features).graph["output_shapes"]
        == (archspec.lower(written).graph["output_shapes"])
    )
    assert archspec.stats(spec, features=features) == archspec.stats(written)
    given = archspec.summary(spec, features=features, depth=1)
    assert given.features == archspec.summary(written, depth=1).features
    assert [f["module"] for f in given.features] == archspec.build(
        spec, features=features, device="meta"
    ).feature_info.module_name()
    drawn = archspec.render(written, tmp_path / "written.dot").read_text()
    assert archspec.render(spec, tmp_path / "given.dot", features=features).read_text() == drawn
    assert archspec.emit_python(spec, features=features) == archspec.emit_python(written)
    with pytest.raises(archspec.ArchSpecError, match="features"):
        archspec.stats(spec, features="layer2")
