"""Grid search: every combination of listed values, applied to a base spec."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from archspec.arguments import check_mapping
from archspec.errors import ArchSpecError, shown
from archspec.progress import bar
from archspec.spec.load import load
from archspec.spec.model import ArchSpec
from archspec.sweep.space import Choice, IntRange, Key, SpaceError, _key, key_name, overrides_of

OnInvalid = Literal["raise", "skip"]
MAX_POINTS = 1_000_000  # specs a grid or a sample may hold (each is a validated spec)


def _values(key: Key, values: Any) -> tuple[Any, ...]:
    if isinstance(values, Choice | IntRange):
        return values.grid()
    if isinstance(values, Sequence) and not isinstance(values, str | bytes) and values:
        return tuple(values)
    raise SpaceError(
        f"grid axis {key_name(key)}: give a non-empty list of values, got {shown(values)}"
    )


def grid(
    base: str | Path | ArchSpec,
    axes: Mapping[Any, Sequence[Any] | Choice | IntRange],
    *,
    invalid: OnInvalid = "raise",
    progress: bool | None = None,
) -> list[ArchSpec]:
    """The cartesian product of ``axes`` (dotted path -> values), each point applied to
    ``base`` with :meth:`ArchSpec.override`, in ``itertools.product`` order (the last axis
    varies fastest). A tuple of paths as a key sets them all to each value.

    A point that does not validate raises its :class:`~archspec.ArchSpecError`, naming
    the override; with ``invalid="skip"`` it is left out instead. A progress bar shows on
    stderr if it takes over a second (``progress``: see :mod:`archspec.progress`).

    Example::

        specs = archspec.grid("resnet56", {
            "defaults.skip": ["identity", "none"],
            ("stages.0.depth", "stages.1.depth", "stages.2.depth"): [3, 5, 7, 9],
        })
        len(specs)      # 8
    """
    if invalid not in ("raise", "skip"):
        raise ArchSpecError(f"invalid= must be 'raise' or 'skip', got {shown(invalid)}")
    check_mapping(axes, "axes")
    spec = load(base)
    keys = [_key(k) for k in axes]
    columns = [_values(k, v) for k, v in zip(keys, axes.values(), strict=True)]
    points = math.prod(len(c) for c in columns)
    if points > MAX_POINTS:
        # Refused before building any: each point is a validated spec in memory.
        raise ArchSpecError(f"the grid has {points:,} points; at most {MAX_POINTS:,} are built")
    out: list[ArchSpec] = []
    with bar("grid", total=points, progress=progress) as advance:
        for combo in itertools.product(*columns):
            try:
                out.append(spec.override(overrides_of(list(zip(keys, combo, strict=True)))))
            except ArchSpecError:
                if invalid == "raise":
                    raise
            advance()
    return out
