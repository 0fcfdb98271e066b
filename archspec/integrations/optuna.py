"""Optuna: ask a trial for a point of an archspec search space.

Every dimension becomes the matching ``trial.suggest_*`` call, named by its dotted path
(paths of a tied key joined by ``+``), so Optuna's samplers, pruners, storages and
dashboards see ordinary parameters. Choices Optuna cannot store as they are (lists,
mappings) are offered by their JSON text and turned back into the value.

Example::

    import optuna
    from archspec.integrations.optuna import suggest
    from archspec.sweep import IntRange

    space = {"stages.2.depth": IntRange(2, 12), "defaults.skip": ["identity", "none"]}

    def objective(trial: optuna.Trial) -> float:
        spec = suggest(trial, space, base="resnet56")
        return archspec.stats(spec).macs

    optuna.create_study().optimize(objective, n_trials=20)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from archspec.spec.load import load
from archspec.spec.model import ArchSpec
from archspec.sweep.space import Choice, FloatRange, IntRange, Space, key_name, overrides_of

if TYPE_CHECKING:
    import optuna

_PLAIN = (type(None), bool, int, float, str)


def _categorical(trial: optuna.Trial, name: str, values: tuple[Any, ...]) -> Any:
    # Optuna stores a choice by its index, found with ==; so plain values go as they are
    # only if no two compare equal (True == 1 == 1.0), anything else by its JSON text.
    plain = all(type(v) in _PLAIN for v in values) and all(
        a != b for i, a in enumerate(values) for b in values[i + 1 :]
    )
    if plain:
        return trial.suggest_categorical(name, list(values))
    labels = [json.dumps(v, sort_keys=True, default=str) for v in values]
    if len(set(labels)) != len(labels):
        labels = [f"{i}: {label}" for i, label in enumerate(labels)]
    return values[labels.index(trial.suggest_categorical(name, labels))]


@overload
def suggest(trial: optuna.Trial, space: Space | Mapping[Any, Any]) -> dict[str, Any]: ...
@overload
def suggest(
    trial: optuna.Trial, space: Space | Mapping[Any, Any], base: str | Path | ArchSpec
) -> ArchSpec: ...


def suggest(
    trial: optuna.Trial,
    space: Space | Mapping[Any, Any],
    base: str | Path | ArchSpec | None = None,
) -> dict[str, Any] | ArchSpec:
    """One point of ``space`` from ``trial``: the overrides (dotted path -> value), or,
    given ``base``, the spec with them applied (an invalid point raises its
    :class:`~archspec.ArchSpecError`).

    Example::

        overrides = suggest(trial, {"stages.2.depth": IntRange(2, 12)})
        spec = suggest(trial, space, base="resnet50")
    """
    point: list[tuple[Any, Any]] = []
    for key, dim in Space.of(space):
        name = key_name(key)
        if isinstance(dim, IntRange):
            value: Any = trial.suggest_int(name, dim.low, dim.high, step=dim.step, log=dim.log)
        elif isinstance(dim, FloatRange):
            value = trial.suggest_float(name, dim.low, dim.high, log=dim.log)
        else:
            assert isinstance(dim, Choice)
            value = _categorical(trial, name, dim.values)
        point.append((key, value))
    overrides = overrides_of(point)
    if base is None:
        return overrides
    return load(base).override(overrides)
