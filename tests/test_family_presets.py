"""The presets of the block families (ResNeXt, Wide ResNet, DenseNet, SE, highway): the
published parameter and MAC counts, and torchvision's state_dict layout where the names
follow it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import archspec

DATA = Path(__file__).parent / "data"

# torchvision's model cards: parameters, and "GFLOPS" (which are MACs) at 224x224.
TORCHVISION = {
    "resnext50_32x4d": (25_028_904, 4.23),
    "resnext101_32x8d": (88_791_336, 16.414),
    "wide_resnet50_2": (68_883_240, 11.398),
    "wide_resnet101_2": (126_886_696, 22.753),
    "densenet121": (7_978_856, 2.834),
    "densenet169": (14_149_480, 3.36),
    "densenet201": (20_013_928, 4.291),
}
# The papers' networks, counted in the layouts their reference code uses (the papers
# round: WRN-28-10 36.5M, ResNeXt-29 8x64d 34.4M, DenseNet-BC-100 k=12 0.8M; SE-ResNet-50
# is timm's seresnet50 to the parameter).
PAPERS = {
    "wrn28_10": 36_479_194,
    "resnext29_8x64d": 34_426_698,
    "densenet_bc100_12": 769_162,
    "seresnet50": 28_088_024,
    "highway20": 300_090,
}


def test_every_family_preset_is_shipped() -> None:
    assert set(TORCHVISION) | set(PAPERS) <= set(archspec.presets())


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_params_and_macs(name: str) -> None:
    params, gmacs = TORCHVISION[name]
    stats = archspec.stats(name)
    assert stats.input_shape == (3, 224, 224) and stats.output_shape == (1000,)
    assert stats.params == params
    assert round(stats.macs / 1e9, 3) == gmacs
    exact = json.loads((DATA / "torchvision_reference.json").read_text())[name]
    assert (stats.params, stats.macs) == (exact["params"], exact["macs"])


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_paper_network_params(name: str) -> None:
    stats = archspec.stats(name)
    assert stats.params == PAPERS[name]
    expected_input = (3, 224, 224) if name == "seresnet50" else (3, 32, 32)
    assert stats.input_shape == expected_input


def test_wrn28_10_layout() -> None:
    """28 layers as the paper counts them (depth 6n + 4, n = 4): the stem conv, 3 stages
    x 4 blocks x 2 convs, the 1x1 skip convs of stages 2 and 3, the classifier. At
    k = 10 stage 1 changes channels too (16 to 160), so it has a skip conv as well."""
    graph = archspec.lower("wrn28_10")
    convs = [n for n, d in graph.nodes(data=True) if d["op"] == "conv" and d["path"] == "main"]
    assert len(convs) == 1 + 3 * 4 * 2
    widths = {graph.nodes[f"layer{i}.0.conv1"]["shape"][0] for i in (1, 2, 3)}
    assert widths == {160, 320, 640}
    skips = [d for _, d in graph.nodes(data=True) if d["path"] == "skip" and d["op"] != "merge"]
    assert [d["op"] for d in skips] == ["conv", "conv", "conv"]  # a bare 1x1 conv, no norm


def test_densenet_bc100_12_layout() -> None:
    graph = archspec.lower("densenet_bc100_12")
    convs = [d for _, d in graph.nodes(data=True) if d["op"] == "conv"]
    # 100 layers: the stem conv, 48 layers of two convs, two transitions, the classifier
    assert len(convs) == 1 + 48 * 2 + 2
    assert graph.nodes["final_norm"]["shape"] == (342, 8, 8)


def test_highway20_has_a_gate_per_block() -> None:
    graph = archspec.lower("highway20")
    gates = [n for n, d in graph.nodes(data=True) if d["scope"].endswith("gate.conv")]
    assert len(gates) == 18
    assert all(graph.nodes[g]["params"]["bias_init"] == -2.0 for g in gates)


@pytest.mark.parametrize("name", ["resnext50_32x4d", "wide_resnet50_2"])
def test_state_dict_follows_torchvision_by_name(name: str) -> None:
    """torchvision's recorded state_dict (names, shapes, order): its checkpoints load
    with a plain ``load_state_dict``."""
    expected = json.loads((DATA / "torchvision_keys" / f"{name}.json").read_text())
    model = archspec.build(name, device="meta")
    assert [[k, list(v.shape)] for k, v in model.state_dict().items()] == expected


def test_seresnet50_names_follow_timm() -> None:
    model = archspec.build("seresnet50", device="meta")
    keys = model.state_dict().keys()
    assert "layer4.2.se.fc2.weight" in keys and "layer1.0.se.fc1.bias" in keys
    resnet = archspec.build("resnet50", device="meta").state_dict().keys()
    assert {k for k in keys if ".se." not in k} == set(resnet)
