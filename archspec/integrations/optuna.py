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

A trial that records its spec (:func:`record_spec`) can be rebuilt from any storage the
study lives in, by any process: ``spec_of(study.best_trial)``. :func:`watch` shows a
progress bar of a study that other processes or machines are running.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from archspec.errors import ArchSpecError
from archspec.progress import bar
from archspec.spec.load import load
from archspec.spec.model import ArchSpec
from archspec.sweep.space import Choice, FloatRange, IntRange, Space, key_name, overrides_of

if TYPE_CHECKING:
    import optuna

_PLAIN = (type(None), bool, int, float, str)
# The user attributes a recorded trial carries: the spec's whole YAML and its arch_id.
SPEC_ATTR = "spec"
ARCH_ID_ATTR = "arch_id"


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


def record_spec(trial: optuna.Trial, spec: ArchSpec) -> None:
    """Store ``spec`` in ``trial``'s user attributes (its YAML under ``"spec"``, its
    :attr:`~ArchSpec.arch_id` under ``"arch_id"``), so whoever reads the study later,
    on any machine, can rebuild it with :func:`spec_of`.

    Example::

        spec = suggest(trial, space, base="resnet56")
        record_spec(trial, spec)
    """
    trial.set_user_attr(SPEC_ATTR, spec.to_yaml())
    trial.set_user_attr(ARCH_ID_ATTR, spec.arch_id)


def spec_of(trial: optuna.trial.FrozenTrial | optuna.Trial) -> ArchSpec:
    """The spec a trial recorded with :func:`record_spec`, read back from the study's
    storage and validated again; an :class:`~archspec.ArchSpecError` if the trial has
    none, or if it no longer gives the architecture it was recorded with.

    Example::

        study = optuna.load_study(study_name="cifar", storage="postgresql://db/optuna")
        model = archspec.build(spec_of(study.best_trial), seed=0)
    """
    attrs = trial.user_attrs
    if not isinstance(attrs.get(SPEC_ATTR), str):
        raise ArchSpecError(
            f"trial {trial.number} has no recorded spec (user attribute {SPEC_ATTR!r}); "
            "record one with archspec.integrations.optuna.record_spec"
        )
    spec = ArchSpec.from_yaml(attrs[SPEC_ATTR])
    recorded = attrs.get(ARCH_ID_ATTR)
    if recorded is not None and recorded != spec.arch_id:
        raise ArchSpecError(
            f"trial {trial.number}: its spec now gives arch_id {spec.arch_id}, "
            f"not the {recorded} it was recorded with"
        )
    return spec


def watch(
    study: optuna.Study,
    n_trials: int,
    *,
    until: Callable[[], bool] | None = None,
    interval: float = 0.5,
    progress: bool | None = None,
) -> int:
    """Show a progress bar of ``study``'s finished trials (complete, pruned or failed)
    out of ``n_trials`` while other processes or machines run it, polling its storage
    every ``interval`` seconds; return when ``n_trials`` are finished or ``until()`` is
    true, with the count finished. ``progress`` as in :mod:`archspec.progress`.

    Example::

        workers = [subprocess.Popen(worker_command) for _ in range(4)]
        watch(study, 40, until=lambda: all(w.poll() is not None for w in workers))
    """
    from optuna.trial import TrialState

    finished_states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    with bar(f"study {study.study_name}", total=n_trials, progress=progress) as advance:
        while True:
            # Asked before counting, so the count read after it includes the last trials.
            over = until is not None and until()
            done = len(study.get_trials(deepcopy=False, states=finished_states))
            advance(completed=min(done, n_trials))
            if done >= n_trials or over:
                return done
            time.sleep(interval)
