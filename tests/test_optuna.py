"""Optuna: suggest() maps every kind of dimension to a trial, and the example study runs
in several processes that share one storage."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import optuna
import pytest
from optuna.trial import FixedTrial

import archspec
from archspec.integrations.optuna import record_spec, spec_of, suggest
from archspec.sweep import Choice, FloatRange, IntRange

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "optuna_study.py"
DEPTHS = ("stages.0.depth", "stages.1.depth", "stages.2.depth")
SPACE: dict[Any, Any] = {
    "defaults.skip": ["identity", "none"],
    DEPTHS: IntRange(1, 9, step=2),
    "stages.2.width": IntRange(32, 256, log=True),
    "head.dropout": FloatRange(0.0, 0.5),
    "stem": Choice(["cifar", {"type": "cifar", "width": 8}]),
    "defaults.zero_init_last": [False, True],
}
optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_fixed_trial_gives_exactly_its_values() -> None:
    params = {
        "defaults.skip": "none",
        "stages.0.depth+stages.1.depth+stages.2.depth": 5,
        "stages.2.width": 100,
        "head.dropout": 0.25,
        "stem": '{"type": "cifar", "width": 8}',  # a mapping travels as its JSON text
        "defaults.zero_init_last": True,
    }
    overrides = suggest(FixedTrial(params), SPACE)
    assert overrides == {
        "defaults.skip": "none",
        "stages.0.depth": 5,
        "stages.1.depth": 5,
        "stages.2.depth": 5,
        "stages.2.width": 100,
        "head.dropout": 0.25,
        "stem": {"type": "cifar", "width": 8},
        "defaults.zero_init_last": True,
    }
    spec = suggest(FixedTrial(params), SPACE, base="resnet56")
    assert isinstance(spec, archspec.ArchSpec)
    assert spec == archspec.load("resnet56").override(overrides)


def test_a_study_samples_inside_the_space() -> None:
    seen: list[archspec.ArchSpec] = []

    def objective(trial: optuna.Trial) -> float:
        spec = suggest(trial, SPACE, base="resnet56")
        seen.append(spec)
        return archspec.stats(spec).macs

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=12)
    assert len(seen) == 12
    for spec, trial in zip(seen, study.trials, strict=True):
        depths = {b.depth for b in spec.blocks}
        assert len(depths) == 1 and depths.pop() in (1, 3, 5, 7, 9)
        assert 32 <= spec.blocks[2].width <= 256
        assert 0.0 <= spec.head.dropout <= 0.5
        assert set(trial.params) == {
            "defaults.skip",
            "+".join(DEPTHS),
            "stages.2.width",
            "head.dropout",
            "stem",
            "defaults.zero_init_last",
        }
    assert study.best_value == min(archspec.stats(s).macs for s in seen)


def test_choices_that_compare_equal_stay_apart() -> None:
    space = {"x": Choice([True, 1, 1.0, "1", None, [1]])}
    values = [suggest(FixedTrial({"x": label}), space)["x"] for label in _labels(space)]
    assert [(type(v), v) for v in values] == [
        (bool, True),
        (int, 1),
        (float, 1.0),
        (str, "1"),
        (type(None), None),
        (list, [1]),
    ]


def _labels(space: dict[str, Choice]) -> list[str]:
    study = optuna.create_study()
    trial = study.ask()
    suggest(trial, space)
    return list(trial.distributions["x"].choices)


def test_invalid_point_with_base_is_an_archspec_error() -> None:
    with pytest.raises(archspec.ArchSpecError, match=r"stages\.0\.depth=0"):
        suggest(FixedTrial({"stages.0.depth": 0}), {"stages.0.depth": IntRange(0, 3)}, "resnet20")


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("optuna_study_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_storages_are_shared_between_study_objects(tmp_path: Path) -> None:
    example = load_example()
    for where in (f"sqlite:///{tmp_path / 'study.db'}", str(tmp_path / "study.log")):
        optuna.create_study(study_name="s", storage=example.storage_of(where))
        other = optuna.load_study(study_name="s", storage=example.storage_of(where))
        other.enqueue_trial({"a": 1})
        again = optuna.load_study(study_name="s", storage=example.storage_of(where))
        assert len(again.trials) == 1


def test_example_study_runs_in_two_processes_and_writes_nothing_where_it_runs(
    tmp_path: Path,
) -> None:
    """With no --storage the workers share a journal in a temporary folder, removed at
    the end: the working directory stays empty (tests/test_optuna_postgres.py reads a
    study back from a storage that is kept)."""
    args = ["--trials", "4", "--workers", "2", "--no-progress"]
    small = ["--steps", "1", "--batch", "4", "--size", "8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), *args, *small],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "trials complete" in proc.stdout
    assert "by 2 workers" in proc.stdout  # both processes ran trials
    assert re.search(r"^best: resnet20 [0-9a-f]{16}, [0-9,]+ params$", proc.stdout, re.M)
    assert "a temporary journal" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_spec_of_reads_back_what_record_spec_stored() -> None:
    study = optuna.create_study()
    trial = study.ask()
    spec = suggest(trial, SPACE, base="resnet20")
    record_spec(trial, spec)
    study.tell(trial, 1.0)
    assert spec_of(study.best_trial) == spec
    bare = study.ask()
    study.tell(bare, 2.0)
    with pytest.raises(archspec.ArchSpecError, match="has no recorded spec"):
        spec_of(study.trials[-1])
    forged = study.ask()
    record_spec(forged, spec)
    forged.set_user_attr("arch_id", "0" * 16)
    with pytest.raises(archspec.ArchSpecError, match="not the 0000000000000000"):
        spec_of(forged)
