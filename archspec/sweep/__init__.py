"""Sweeps over specs: a typed search space, grid and random search, and stats of many
specs over a process pool.

Example::

    import archspec
    from archspec.sweep import IntRange

    specs = archspec.sample("resnet50", {"stages.2.depth": IntRange(2, 36)}, n=100, seed=0)
    results = archspec.stats_many(specs, workers=4)
"""

from archspec.sweep.grid import grid
from archspec.sweep.sample import sample
from archspec.sweep.space import Choice, Dimension, FloatRange, IntRange, Space, SpaceError
from archspec.sweep.stats_many import stats_many

__all__ = [
    "Choice",
    "Dimension",
    "FloatRange",
    "IntRange",
    "Space",
    "SpaceError",
    "grid",
    "sample",
    "stats_many",
]
