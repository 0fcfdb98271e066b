"""A typed search space over spec fields: what :func:`archspec.sample` draws from and what
:func:`archspec.integrations.optuna.suggest` asks a trial for.

A space maps a dotted override path (``"stages.2.depth"``) to a dimension:

* :class:`Choice` (or a plain list): one of some values, any YAML-able value;
* :class:`IntRange`: an integer in ``[low, high]``, optionally on a ``step`` grid or on
  a log scale;
* :class:`FloatRange`: a float in ``[low, high]``, optionally on a log scale.

A key may also be a tuple of paths, which then all take the same value (one depth for
every stage, say). Sampling uses only ``random.Random.random()``, whose sequence Python
guarantees for a given seed, so a seed gives the same specs on every Python version.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archspec.errors import ArchSpecError

Key = str | tuple[str, ...]


class SpaceError(ArchSpecError):
    """A search space that cannot be sampled: an empty choice, a range with low > high."""


def _index(rng: random.Random, n: int) -> int:
    # Not rng.randrange/choice: their algorithms are not promised stable across versions.
    return min(int(rng.random() * n), n - 1)


@dataclass(frozen=True)
class Choice:
    """One of ``values``, each equally likely.

    Example::

        Choice(["basic", "bottleneck"])
        Choice([{"type": "cifar"}, {"type": "deep", "width": 32}])
    """

    values: tuple[Any, ...]

    def __init__(self, values: Sequence[Any]) -> None:
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise SpaceError(f"a choice needs a list of values, got {values!r}")
        if not values:
            raise SpaceError("a choice needs at least one value")
        object.__setattr__(self, "values", tuple(values))

    def sample(self, rng: random.Random) -> Any:
        return copy.deepcopy(self.values[_index(rng, len(self.values))])

    def grid(self) -> tuple[Any, ...]:
        return self.values


@dataclass(frozen=True)
class IntRange:
    """An integer in ``[low, high]`` (both included), on multiples of ``step`` from
    ``low``, or log-uniform with ``log=True`` (``low >= 1``, step 1), as Optuna's
    ``suggest_int`` takes them.

    Example::

        IntRange(1, 8)                  # depth
        IntRange(16, 256, log=True)     # width
    """

    low: int
    high: int
    step: int = 1
    log: bool = False

    def __post_init__(self) -> None:
        for name in ("low", "high", "step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise SpaceError(f"IntRange {name} must be an integer, got {value!r}")
        if self.low > self.high:
            raise SpaceError(f"IntRange low {self.low} is above high {self.high}")
        if self.step < 1:
            raise SpaceError(f"IntRange step must be at least 1, got {self.step}")
        if self.log and (self.low < 1 or self.step != 1):
            raise SpaceError("a log-scale IntRange needs low >= 1 and step 1")

    def sample(self, rng: random.Random) -> int:
        if self.log:
            # Log-uniform over the cells [k - 1/2, k + 1/2), then rounded: each integer gets
            # the share of log-space its cell covers.
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            value = round(math.exp(lo + rng.random() * (hi - lo)))
            return min(max(value, self.low), self.high)
        count = (self.high - self.low) // self.step + 1
        return self.low + self.step * _index(rng, count)

    def grid(self) -> tuple[int, ...]:
        return tuple(range(self.low, self.high + 1, self.step))


@dataclass(frozen=True)
class FloatRange:
    """A float in ``[low, high]``, uniform, or log-uniform with ``log=True`` (``low > 0``).

    Example::

        FloatRange(0.0, 0.5)            # head.dropout
    """

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SpaceError(f"FloatRange {name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise SpaceError(f"FloatRange {name} must be finite, got {value!r}")
        if self.low > self.high:
            raise SpaceError(f"FloatRange low {self.low} is above high {self.high}")
        if self.log and self.low <= 0:
            raise SpaceError("a log-scale FloatRange needs low > 0")

    def sample(self, rng: random.Random) -> float:
        u = rng.random()
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return min(max(math.exp(lo + u * (hi - lo)), self.low), self.high)
        return self.low + u * (self.high - self.low)

    def grid(self) -> tuple[float, ...]:
        raise SpaceError("a FloatRange has no finite grid; list the values to try instead")


Dimension = Choice | IntRange | FloatRange


def dimension(value: Any) -> Dimension:
    """A space entry as a dimension: a dimension as is, a list as a :class:`Choice`, and a
    mapping ``{int: [low, high], step: 2}``, ``{float: [low, high], log: true}`` or
    ``{choice: [...]}`` (the form a YAML file can hold)."""
    if isinstance(value, Choice | IntRange | FloatRange):
        return value
    if isinstance(value, list | tuple):
        return Choice(value)
    if isinstance(value, Mapping):
        kinds = [k for k in ("choice", "int", "float") if k in value]
        if len(kinds) == 1:
            kind = kinds[0]
            options = {k: v for k, v in value.items() if k != kind}
            allowed = {"choice": set(), "int": {"step", "log"}, "float": {"log"}}[kind]
            if set(options) - allowed:
                extra = ", ".join(sorted(map(str, set(options) - allowed)))
                raise SpaceError(f"{kind} dimension: unknown option {extra}")
            if kind == "choice":
                return Choice(value[kind])
            bounds = value[kind]
            if not isinstance(bounds, list | tuple) or len(bounds) != 2:
                raise SpaceError(f"{kind} dimension: give [low, high], got {bounds!r}")
            cls = IntRange if kind == "int" else FloatRange
            return cls(bounds[0], bounds[1], **options)
    raise SpaceError(
        f"a space entry is a list of choices, Choice, IntRange or FloatRange, got {value!r}"
    )


def _key(key: Any) -> Key:
    paths = key if isinstance(key, tuple) else (key,)
    if not paths or not all(isinstance(p, str) and p for p in paths):
        raise SpaceError(f"a space key is a dotted path or a tuple of them, got {key!r}")
    return key


def key_name(key: Key) -> str:
    """How a key is shown and named in Optuna: its path, or paths joined by ``+``."""
    return "+".join(key) if isinstance(key, tuple) else key


@dataclass(frozen=True)
class Space:
    """A search space: dotted path (or tuple of paths) -> dimension, in a fixed order.

    Example::

        space = Space.of({
            "stages.2.depth": IntRange(2, 12),
            "defaults.block": ["basic", "bottleneck"],
            ("stages.0.width", "stem.width"): IntRange(16, 128, log=True),
        })
    """

    dimensions: tuple[tuple[Key, Dimension], ...]

    @classmethod
    def of(cls, space: Space | Mapping[Any, Any]) -> Space:
        if isinstance(space, Space):
            return space
        if not isinstance(space, Mapping):
            raise SpaceError(f"a search space is a mapping of paths to dimensions, got {space!r}")
        dims: list[tuple[Key, Dimension]] = []
        for key, value in space.items():
            try:
                dims.append((_key(key), dimension(value)))
            except SpaceError as err:
                raise SpaceError(f"space entry {key_name(key)}: {err}") from None
        return cls(tuple(dims))

    def __iter__(self) -> Iterator[tuple[Key, Dimension]]:
        return iter(self.dimensions)

    def __len__(self) -> int:
        return len(self.dimensions)

    def sample(self, rng: random.Random) -> dict[str, Any]:
        """One point: the overrides (path -> value) to apply to a base spec."""
        return overrides_of((key, dim.sample(rng)) for key, dim in self.dimensions)


def overrides_of(point: Iterator[tuple[Key, Any]] | Sequence[tuple[Key, Any]]) -> dict[str, Any]:
    """(key, value) pairs -> dotted-path overrides, a tuple key setting each of its paths."""
    out: dict[str, Any] = {}
    for key, value in point:
        for path in key if isinstance(key, tuple) else (key,):
            out[path] = copy.deepcopy(value)
    return out
