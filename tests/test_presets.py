"""Every shipped preset: loads, lowers, builds on the meta device, counts right, and
round-trips through YAML. Parametrized over ``archspec.presets()``, so a new preset
is tested without a new test; the published numbers below pin the known ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import leaf_module_names, n_params

import archspec
from archspec.graph.ops import is_module
from archspec.graph.stats import node_cost

PRESETS = archspec.presets()
DATA = Path(__file__).parent / "data"

# torchvision's model cards: parameters, and "GFLOPS" (which are MACs) at 224x224.
TORCHVISION = {
    "resnet18": (11_689_512, 1.814),
    "resnet34": (21_797_672, 3.664),
    "resnet50": (25_557_032, 4.089),
    "resnet101": (44_549_160, 7.801),
    "resnet152": (60_192_808, 11.514),
}
# He et al. 2015 CIFAR ResNets with option A (parameter-free) skips: the counts of the
# widely used reference implementations (0.27M, 0.46M, 0.66M, 0.85M, 1.7M in the paper).
CIFAR = {
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
}
# He et al. 2016, table 2 / figure 1: "1.7M" and "10.2M".
PAPER_APPROX = {"preact_resnet164": 1.7e6, "preact_resnet1001": 10.2e6}


def test_preset_list_is_sane() -> None:
    assert sorted(set(PRESETS)) == PRESETS
    for name in (*TORCHVISION, *CIFAR, *PAPER_APPROX, "plain20"):
        assert name in PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads_lowers_and_builds_on_meta(name: str) -> None:
    spec = archspec.load(name)
    assert spec.name == name
    graph = archspec.lower(spec)
    stats = archspec.stats(spec)
    assert graph.graph["output_shape"] == (spec.head.classes,)
    assert stats.flops == 2 * stats.macs

    model = archspec.build(spec, device="meta")
    assert all(p.is_meta for p in model.parameters())
    assert n_params(model) == stats.params == stats.trainable_params

    # the module tree is the graph's scopes: one leaf module per module-backed op
    scopes = {d["scope"] for _, d in graph.nodes(data=True) if is_module(d["op"])}
    assert leaf_module_names(model) == scopes
    # and the state_dict holds exactly the ops that carry weights
    weighted = {
        d["scope"] for n, d in graph.nodes(data=True) if not d["call"] and node_cost(graph, n)[0]
    }
    keys = model.state_dict().keys()
    assert {k.rsplit(".", 1)[0] for k in keys} == weighted


@pytest.mark.parametrize("name", PRESETS)
def test_preset_yaml_round_trip(name: str) -> None:
    spec = archspec.load(name)
    again = archspec.ArchSpec.from_yaml(spec.to_yaml())
    assert again == spec
    assert again.arch_id == spec.arch_id
    assert again.to_yaml() == spec.to_yaml()
    # what to_yaml writes is self-contained: no extends left to resolve
    assert "extends" not in spec.to_yaml()


# Exact counts recorded from torchvision's model definitions (tests/data), for every
# torchvision architecture that has a preset.
RECORDED = json.loads((DATA / "torchvision_reference.json").read_text())


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_params_and_macs(name: str) -> None:
    params, gmacs = TORCHVISION[name]
    stats = archspec.stats(name)
    assert stats.input_shape == (3, 224, 224)
    assert stats.params == params
    assert round(stats.macs / 1e9, 3) == gmacs


@pytest.mark.parametrize("name", sorted(set(RECORDED) & set(PRESETS)))
def test_recorded_torchvision_counts(name: str) -> None:
    stats = archspec.stats(name)
    assert stats.input_shape == (3, 224, 224) and stats.output_shape == (1000,)
    assert (stats.params, stats.macs) == (RECORDED[name]["params"], RECORDED[name]["macs"])


@pytest.mark.parametrize("name", sorted(CIFAR))
def test_cifar_resnet_params(name: str) -> None:
    stats = archspec.stats(name)
    assert stats.input_shape == (3, 32, 32)
    assert stats.output_shape == (10,)
    assert stats.params == CIFAR[name]


def test_plain20_is_resnet20_without_skips() -> None:
    plain, res = archspec.load("plain20"), archspec.load("resnet20")
    # option A skips have no parameters, so removing them changes no count
    assert archspec.stats(plain).params == archspec.stats(res).params == CIFAR["resnet20"]
    assert archspec.stats(plain).macs == archspec.stats(res).macs
    assert {b.skip for b in plain.blocks} == {"none"}
    assert plain.arch_id != res.arch_id
    ops = lambda spec: [d["op"] for _, d in archspec.lower(spec).nodes(data=True)]  # noqa: E731
    assert "merge" not in ops(plain) and "pad_skip" not in ops(plain)
    assert ops(res).count("merge") == 9


@pytest.mark.parametrize("name", sorted(PAPER_APPROX))
def test_preact_params_match_the_paper(name: str) -> None:
    params = archspec.stats(name).params
    assert params == pytest.approx(PAPER_APPROX[name], rel=0.02)


def test_resnet50_state_dict_matches_torchvision_layout() -> None:
    """The recorded torchvision state_dict (names, shapes, order) of resnet50."""
    expected = json.loads((DATA / "torchvision_keys" / "resnet50.json").read_text())
    model = archspec.build("resnet50", device="meta")
    got = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert got == expected
