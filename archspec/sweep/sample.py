"""Random search: specs drawn from a typed search space, reproducible by seed."""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from archspec.arguments import check_int, check_seed
from archspec.errors import ArchSpecError, shown
from archspec.progress import bar
from archspec.spec.load import load
from archspec.spec.model import ArchSpec
from archspec.sweep.grid import MAX_POINTS
from archspec.sweep.space import Space

# Draws allowed per requested spec before giving up on skipped or repeated points.
MAX_DRAWS_PER_SPEC = 100


def sample(
    base: str | Path | ArchSpec,
    space: Space | Mapping[Any, Any],
    n: int,
    seed: int = 0,
    *,
    invalid: Literal["raise", "skip"] = "raise",
    unique: bool = False,
    progress: bool | None = None,
) -> list[ArchSpec]:
    """``n`` specs, each ``base`` with one random point of ``space`` applied.

    The same ``seed`` gives the same specs in every process and Python version. A point
    that does not validate raises its :class:`~archspec.ArchSpecError` (naming the
    override); with ``invalid="skip"`` another point is drawn. ``unique=True`` draws
    again for an architecture already taken (same :attr:`~ArchSpec.arch_id`). If ``n``
    specs cannot be found in ``100 * n`` draws, an error says how many were. A progress
    bar shows on stderr if it takes over a second (``progress``: see
    :mod:`archspec.progress`).

    Example::

        from archspec.sweep import IntRange, FloatRange
        specs = archspec.sample("resnet50", {
            "stages.2.depth": IntRange(2, 36),
            "defaults.width": [32, 64],
            "head.dropout": FloatRange(0.0, 0.5),
        }, n=100, seed=0)
    """
    check_int("n", n, 0, MAX_POINTS)
    check_seed(seed, optional=False)
    if invalid not in ("raise", "skip"):
        raise ArchSpecError(f"invalid= must be 'raise' or 'skip', got {shown(invalid)}")
    if not isinstance(unique, bool):
        raise ArchSpecError(f"unique must be True or False, got {shown(unique)}")
    spec = load(base)
    dims = Space.of(space)
    rng = random.Random(seed)
    out: list[ArchSpec] = []
    seen: set[str] = set()
    draws = 0
    with bar("sampling specs", total=n, progress=progress) as advance:
        while len(out) < n:
            if draws >= MAX_DRAWS_PER_SPEC * n:
                why = "valid and distinct" if unique else "valid"
                raise ArchSpecError(
                    f"found only {len(out)} {why} specs of {n} in {draws} draws from the space"
                )
            draws += 1
            try:
                candidate = spec.override(dims.sample(rng))
            except ArchSpecError:
                if invalid == "raise":
                    raise
                continue
            if unique:
                if candidate.arch_id in seen:
                    continue
                seen.add(candidate.arch_id)
            out.append(candidate)
            advance()
    return out
