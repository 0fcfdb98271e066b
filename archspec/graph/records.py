"""The typed records the graph IR keeps besides its nodes: one per stage and per block
(``graph.graph["stages"]``, ``graph.graph["blocks"]``), in network order, and one per
output of a backbone (``graph.graph["features"]``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]


@dataclass
class StageRecord:
    """A stage: its module path (``layer2``), position, block type and depth, and the
    block config it was lowered from (for diagrams' titles)."""

    scope: str
    index: int = 0
    kind: str = "block"
    depth: int = 0
    config: Any = None
    # An ODE stage's solver settings (archspec.spec.ode.OdeSpec); None: discrete.
    ode: Any = None


@dataclass
class BlockRecord:
    """A block: its module path (``layer2.0``), stage, input and output shapes, block
    type, skip setting, index in its stage, and the class name of its module."""

    scope: str
    stage: str
    in_shape: Shape
    kind: str = "block"
    skip: str = "identity"
    index: int = 0
    out_shape: Shape | None = None
    module_class: str = ""


@dataclass(frozen=True)
class FeatureRecord:
    """One output of a backbone: the module path whose output it is, the IR node that
    computes it, its channels and its reduction (input pixels per feature pixel, along
    the first spatial axis)."""

    module: str
    node: str
    channels: int
    reduction: int
