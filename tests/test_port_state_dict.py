"""``archspec.port_state_dict``: a checkpoint saved from another implementation (here
torchvision's DenseNet-121, from its recorded names and shapes) loads by structure, and
one that does not fit is refused with exactly what does not match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import archspec
from archspec.spec.load import from_data

DATA = Path(__file__).parent / "data"


def _random_state(entries: list[tuple[str, list[int]]], seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        key: torch.randn(shape, generator=gen) if shape else torch.tensor(7)
        for key, shape in entries
    }


@pytest.fixture(scope="module")
def torchvision_densenet121() -> dict[str, torch.Tensor]:
    entries = json.loads((DATA / "torchvision_keys" / "densenet121.json").read_text())
    return _random_state(entries)


@pytest.fixture(scope="module")
def densenet121() -> torch.nn.Module:
    return archspec.build("densenet121", seed=0)


def test_densenet121_ports_from_torchvision_names(
    densenet121: torch.nn.Module, torchvision_densenet121: dict[str, torch.Tensor]
) -> None:
    mapping = archspec.port_state_dict(densenet121, torchvision_densenet121)
    assert len(mapping) == len(torchvision_densenet121) == 727
    assert sorted(mapping.values()) == sorted(torchvision_densenet121)
    assert mapping["conv1.weight"] == "features.conv0.weight"
    assert mapping["bn1.running_var"] == "features.norm0.running_var"
    assert mapping["layer1.0.norm1.weight"] == "features.denseblock1.denselayer1.norm1.weight"
    assert mapping["layer2.transition.conv.weight"] == "features.transition1.conv.weight"
    assert mapping["layer4.15.conv2.weight"] == "features.denseblock4.denselayer16.conv2.weight"
    assert mapping["final_norm.weight"] == "features.norm5.weight"
    assert mapping["fc.bias"] == "classifier.bias"
    state = densenet121.state_dict()
    for ours, theirs in mapping.items():
        assert torch.equal(state[ours], torchvision_densenet121[theirs]), ours


def test_same_names_load_by_name() -> None:
    model = archspec.build("resnet20", seed=0)
    other = archspec.build("resnet20", seed=1).state_dict()
    mapping = archspec.port_state_dict(model, other)
    assert all(k == v for k, v in mapping.items())
    assert all(torch.equal(model.state_dict()[k], other[k]) for k in other)


def test_checkpoint_without_batch_counts_loads(
    torchvision_densenet121: dict[str, torch.Tensor],
) -> None:
    model = archspec.build("densenet121", seed=0)
    old = {k: v for k, v in torchvision_densenet121.items() if "num_batches" not in k}
    mapping = archspec.port_state_dict(model, old)
    assert not [k for k in mapping if "num_batches" in k]
    assert torch.equal(model.state_dict()["fc.weight"], old["classifier.weight"])


def test_another_classifier_is_a_shape_mismatch(
    torchvision_densenet121: dict[str, torch.Tensor],
) -> None:
    model = archspec.build(archspec.load("densenet121", overrides={"head.classes": 10}))
    with pytest.raises(archspec.PortError) as info:
        archspec.port_state_dict(model, torchvision_densenet121)
    assert info.value.mismatched == (
        ("fc.weight", (10, 1024), "classifier.weight", (1000, 1024)),
        ("fc.bias", (10,), "classifier.bias", (1000,)),
    )
    assert info.value.missing == info.value.unexpected == ()
    assert "2 shapes differ (fc.weight (10, 1024) vs classifier.weight" in str(info.value)


def test_a_checkpoint_that_does_not_fit_is_refused_exactly(
    torchvision_densenet121: dict[str, torch.Tensor],
) -> None:
    # densenet121 for 10 classes, and without its last dense layer
    spec = archspec.load("densenet121", overrides={"head.classes": 10, "stages.3.depth": 15})
    model = archspec.build(spec, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(archspec.PortError) as info:
        archspec.port_state_dict(model, torchvision_densenet121)
    err = info.value
    assert isinstance(err, archspec.ArchSpecError)
    assert err.missing == ()
    # Left over: the last layer's tensors, less one norm, which (holding the very shapes
    # of our final norm) pairs with it; which of two same-shaped layers pairs is
    # structure's only guess. The torchvision final norm is then left over too.
    left_over = {k.rsplit(".", 1)[0] for k, _ in err.unexpected}
    last = "features.denseblock4.denselayer16"
    assert left_over == {f"{last}.conv1", f"{last}.norm2", f"{last}.conv2", "features.norm5"}
    assert err.mismatched == (
        ("fc.weight", (10, 992), "classifier.weight", (1000, 1024)),
        ("fc.bias", (10,), "classifier.bias", (1000,)),
    )
    assert "shapes differ" in str(err) and "left over" in str(err)
    assert len(str(err).splitlines()) == 1
    # nothing was loaded
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_missing_modules_are_named() -> None:
    spec = {
        "name": "t",
        "input": {"size": 16},
        "stem": "cifar",
        "defaults": {"block": "basic"},
        "stages": [{"depth": 2, "width": 16}],
        "head": {"classes": 3},
    }
    deeper = from_data({**spec, "stages": [{"depth": 3, "width": 16}]})
    foreign = archspec.build(from_data(spec), seed=0).state_dict()
    renamed = {f"net.{k}": v for k, v in foreign.items()}
    with pytest.raises(archspec.PortError) as info:
        archspec.port_state_dict(archspec.build(deeper, seed=0), renamed)
    missing = {k.rsplit(".", 1)[0] for k, _ in info.value.missing}
    assert missing == {"layer1.2.conv1", "layer1.2.bn1", "layer1.2.conv2", "layer1.2.bn2"}
    assert info.value.unexpected == () and info.value.mismatched == ()


def test_a_module_elsewhere_in_the_order_pairs_by_its_path_ending() -> None:
    # torchvision's RegNet registers each block's projection before its branch, timm's
    # and archspec's after it: shapes and order alone cannot place a moved module, the
    # ending of its path (downsample.0) can.
    spec = from_data(
        {
            "name": "t",
            "input": {"size": 16},
            "stem": "cifar",
            "defaults": {"block": "basic"},
            "stages": [{"depth": 1, "width": 16}, {"depth": 2, "width": 32, "stride": 2}],
            "head": {"classes": 3},
        }
    )
    source = archspec.build(spec, seed=1).state_dict()
    moved = {f"net.{k}": v for k, v in source.items() if ".downsample." in k}
    moved.update({f"net.{k}": v for k, v in source.items() if ".downsample." not in k})
    model = archspec.build(spec, seed=0)
    mapping = archspec.port_state_dict(model, moved)
    assert mapping["layer2.0.downsample.0.weight"] == "net.layer2.0.downsample.0.weight"
    assert all(torch.equal(model.state_dict()[k], source[k]) for k in source)
