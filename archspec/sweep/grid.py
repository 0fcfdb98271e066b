"""Grid search: every combination of listed values, applied to a base spec."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from archspec.errors import ArchSpecError
from archspec.spec.load import load
from archspec.spec.model import ArchSpec
from archspec.sweep.space import Choice, IntRange, Key, SpaceError, _key, key_name, overrides_of

OnInvalid = Literal["raise", "skip"]


def _values(key: Key, values: Any) -> tuple[Any, ...]:
    if isinstance(values, Choice | IntRange):
        return values.grid()
    if isinstance(values, Sequence) and not isinstance(values, str | bytes) and values:
        return tuple(values)
    raise SpaceError(f"grid axis {key_name(key)}: give a non-empty list of values, got {values!r}")


def grid(
    base: str | Path | ArchSpec,
    axes: Mapping[Any, Sequence[Any] | Choice | IntRange],
    *,
    invalid: OnInvalid = "raise",
) -> list[ArchSpec]:
    """The cartesian product of ``axes`` (dotted path -> values), each point applied to
    ``base`` with :meth:`ArchSpec.override`, in ``itertools.product`` order (the last axis
    varies fastest). A tuple of paths as a key sets them all to each value.

    A point that does not validate raises its :class:`~archspec.ArchSpecError`, naming
    the override; with ``invalid="skip"`` it is left out instead.

    Example::

        specs = archspec.grid("resnet56", {
            "defaults.skip": ["identity", "none"],
            ("stages.0.depth", "stages.1.depth", "stages.2.depth"): [3, 5, 7, 9],
        })
        len(specs)      # 8
    """
    if invalid not in ("raise", "skip"):
        raise ArchSpecError(f"invalid= must be 'raise' or 'skip', got {invalid!r}")
    spec = load(base)
    keys = [_key(k) for k in axes]
    columns = [_values(k, v) for k, v in zip(keys, axes.values(), strict=True)]
    out: list[ArchSpec] = []
    for combo in itertools.product(*columns):
        try:
            out.append(spec.override(overrides_of(list(zip(keys, combo, strict=True)))))
        except ArchSpecError:
            if invalid == "raise":
                raise
    return out
