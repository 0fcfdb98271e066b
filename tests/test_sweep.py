"""Sweeps: the typed search space, grid and random search, stats of many specs in a pool."""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec.sweep import Choice, FloatRange, IntRange, Space, SpaceError
from archspec.sweep.space import dimension

DEPTHS = ("stages.0.depth", "stages.1.depth", "stages.2.depth")
SPACE = {
    "defaults.skip": ["identity", "none"],
    DEPTHS: IntRange(1, 9),
    "stages.2.width": IntRange(32, 256, log=True),
    "head.dropout": FloatRange(0.0, 0.5),
    "stem": Choice(["cifar", {"type": "cifar", "width": 32}]),
}


# --- the space ------------------------------------------------------------------------


def test_dimensions_from_plain_data() -> None:
    assert dimension([1, 2]) == Choice([1, 2])
    assert dimension({"choice": ["a", "b"]}) == Choice(["a", "b"])
    assert dimension({"int": [1, 9], "step": 2}) == IntRange(1, 9, step=2)
    assert dimension({"int": [16, 256], "log": True}) == IntRange(16, 256, log=True)
    assert dimension({"float": [0.001, 0.1], "log": True}) == FloatRange(0.001, 0.1, log=True)
    assert IntRange(1, 9, step=2).grid() == (1, 3, 5, 7, 9)


@pytest.mark.parametrize(
    "bad",
    [
        [],
        "basic",
        {"int": [5, 1]},
        {"int": [1.5, 3]},
        {"int": [0, 8], "log": True},
        {"int": [1, 8], "step": 0},
        {"int": [1, 8], "log": True, "step": 2},
        {"float": [0.0, 1.0], "log": True},
        {"float": [0.0, float("inf")]},
        {"float": [0, 1], "step": 0.1},
        {"int": [1, 2], "float": [1, 2]},
        {"int": 3},
        3,
    ],
)
def test_bad_dimensions_are_archspec_errors(bad: object) -> None:
    with pytest.raises(SpaceError):
        dimension(bad)
    with pytest.raises(archspec.ArchSpecError, match="space entry x"):
        Space.of({"x": bad})


def test_samples_stay_in_range_and_log_scale_is_log_uniform() -> None:
    rng = random.Random(0)
    ints = [IntRange(1, 1000, log=True).sample(rng) for _ in range(4000)]
    assert min(ints) >= 1 and max(ints) <= 1000
    # log-uniform: half the mass below sqrt(1000) ~ 31.6 (uniform would put 3% there)
    assert 0.45 < sum(v <= 31 for v in ints) / len(ints) < 0.55
    floats = [FloatRange(1e-4, 1e-1, log=True).sample(rng) for _ in range(4000)]
    assert min(floats) >= 1e-4 and max(floats) <= 1e-1
    assert 0.45 < sum(v < 10**-2.5 for v in floats) / len(floats) < 0.55
    stepped = {IntRange(2, 10, step=4).sample(rng) for _ in range(200)}
    assert stepped == {2, 6, 10}
    uniform = [FloatRange(2.0, 3.0).sample(rng) for _ in range(2000)]
    assert min(uniform) >= 2.0 and max(uniform) <= 3.0
    assert abs(sum(uniform) / len(uniform) - 2.5) < 0.05


def test_choice_values_are_copied_not_shared() -> None:
    choice = Choice([{"type": "cifar"}])
    first = choice.sample(random.Random(0))
    first["width"] = 99
    assert choice.sample(random.Random(0)) == {"type": "cifar"}


# --- grid -----------------------------------------------------------------------------


def test_grid_is_the_cartesian_product_in_order() -> None:
    specs = archspec.grid("resnet56", {"defaults.skip": ["identity", "none"], DEPTHS: [3, 5, 7, 9]})
    assert len(specs) == 8
    seen = [(s.blocks[0].skip, [b.depth for b in s.blocks]) for s in specs]
    assert seen[:2] == [("identity", [3, 3, 3]), ("identity", [5, 5, 5])]
    assert seen[-1] == ("none", [9, 9, 9])
    assert len({s.arch_id for s in specs}) == 8
    # resnet56 itself is in the grid
    assert archspec.load("resnet56").arch_id in {s.arch_id for s in specs}
    assert len(archspec.grid("resnet20", {"stages.0.depth": IntRange(1, 4)})) == 4


def test_grid_invalid_points_raise_naming_the_path_or_are_skipped() -> None:
    axes = {"stages.0.depth": [1, 0, 2]}
    with pytest.raises(archspec.ArchSpecError, match=r"stages\.0\.depth=0"):
        archspec.grid("resnet20", axes)
    kept = archspec.grid("resnet20", axes, invalid="skip")
    assert [s.blocks[0].depth for s in kept] == [1, 2]
    with pytest.raises(SpaceError):
        archspec.grid("resnet20", {"stages.0.depth": []})
    with pytest.raises(SpaceError):
        archspec.grid("resnet20", {"head.dropout": FloatRange(0, 1)})  # type: ignore[dict-item]


# --- sample ---------------------------------------------------------------------------


def test_sample_is_reproducible_by_seed() -> None:
    a = archspec.sample("resnet56", SPACE, n=20, seed=7)
    b = archspec.sample("resnet56", SPACE, n=20, seed=7)
    c = archspec.sample("resnet56", SPACE, n=20, seed=8)
    assert [s.arch_id for s in a] == [s.arch_id for s in b]
    assert [s.arch_id for s in a] != [s.arch_id for s in c]
    for spec in a:
        depths = {b.depth for b in spec.blocks}
        assert len(depths) == 1 and 1 <= depths.pop() <= 9  # tied paths
        assert 32 <= spec.blocks[2].width <= 256
        assert 0.0 <= spec.head.dropout <= 0.5


# Space.sample(random.Random(7)) for SPACE, pinned: sampling uses only random.random(),
# whose sequence Python keeps for a seed, so every Python version draws this point.
PINNED_SEED_7 = {
    "defaults.skip": "identity",
    "stages.0.depth": 2,
    "stages.1.depth": 2,
    "stages.2.depth": 2,
    "stages.2.width": 123,
    "head.dropout": 0.03621814333377138,
    "stem": {"type": "cifar", "width": 32},
}


def test_sample_point_is_pinned() -> None:
    assert Space.of(SPACE).sample(random.Random(7)) == PINNED_SEED_7


def test_sample_is_the_same_in_other_processes() -> None:
    code = (
        "import archspec, test_sweep as t;"
        "print([s.arch_id for s in archspec.sample('resnet56', t.SPACE, n=5, seed=3)])"
    )
    here = str([s.arch_id for s in archspec.sample("resnet56", SPACE, n=5, seed=3)])
    path = os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONHASHSEED": "123", "PYTHONPATH": path}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == here


def test_sample_skips_invalid_points_and_repeats_on_request() -> None:
    space = {"stages.0.depth": IntRange(0, 2)}  # depth 0 is refused
    with pytest.raises(archspec.ArchSpecError, match=r"stages\.0\.depth=0"):
        archspec.sample("resnet20", space, n=30, seed=0)
    specs = archspec.sample("resnet20", space, n=30, seed=0, invalid="skip")
    assert {s.blocks[0].depth for s in specs} == {1, 2}
    unique = archspec.sample("resnet20", space, n=2, seed=0, invalid="skip", unique=True)
    assert len({s.arch_id for s in unique}) == 2
    with pytest.raises(archspec.ArchSpecError, match="found only 2"):
        archspec.sample("resnet20", space, n=3, seed=0, invalid="skip", unique=True)
    assert archspec.sample("resnet20", space, n=0) == []


# --- stats_many -----------------------------------------------------------------------


def test_stats_many_matches_stats_in_order_with_errors_in_place(tmp_path: Path) -> None:
    specs: list = archspec.sample("resnet56", SPACE, n=6, seed=1)
    too_small = archspec.load("resnet20").override({"input.size": 2})
    specs[2:2] = ["resnet20", tmp_path / "missing.yaml", too_small]
    results = archspec.stats_many(specs, workers=1)
    assert len(results) == len(specs)
    assert isinstance(results[3], archspec.SpecError) and "missing.yaml" in str(results[3])
    assert isinstance(results[4], archspec.GraphError)
    for spec, result in zip(specs, results, strict=True):
        if isinstance(result, archspec.Stats):
            assert result == archspec.stats(spec)


def test_stats_many_in_a_pool_of_processes() -> None:
    # enough specs that two workers are worth starting
    specs: list = archspec.sample("resnet20", {DEPTHS: IntRange(1, 4)}, n=150, seed=0)
    specs[7] = archspec.load("resnet20").override({"input.size": 2})
    results = archspec.stats_many(specs, workers=2)
    assert isinstance(results[7], archspec.GraphError)
    assert "too small" in str(results[7])
    expected = archspec.stats_many(specs, workers=1)
    assert results[:7] + results[8:] == expected[:7] + expected[8:]
    assert [r.name for r in results if isinstance(r, archspec.Stats)] == ["resnet20"] * 149


def test_stats_many_rejects_bad_arguments() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(archspec.ArchSpecError):
            archspec.stats_many(["resnet20"], workers=bad)  # type: ignore[arg-type]
    with pytest.raises(archspec.ArchSpecError, match="context"):
        archspec.stats_many(["resnet20"], workers=2, context="threads")


def test_space_sample_draws_each_choice() -> None:
    rng = random.Random(0)
    drawn = {Space.of(SPACE).sample(rng)["defaults.skip"] for _ in range(50)}
    assert drawn == {"identity", "none"}
    assert math.isclose(FloatRange(1.0, 1.0).sample(rng), 1.0)
