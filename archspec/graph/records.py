"""The typed records of the graph IR: one per node (:class:`NodeRecord`, what
``graph.nodes[n]`` is), and besides the nodes one per stage and per block
(``graph.graph["stages"]``, ``graph.graph["blocks"]``), in network order, and one per
output of a backbone (``graph.graph["features"]``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import networkx as nx

Shape = tuple[int, ...]


@dataclass(slots=True, eq=False)
class NodeRecord(MutableMapping[str, Any]):
    """One op of the IR: what it computes and where it sits in the module tree.

    ``op`` names the op in the op table (``archspec.graph.ops.OPS``) and ``params`` are
    its settings; ``scope`` is the module path it runs in (``layer1.0.conv1``); ``shape``
    its output without the batch axis; ``inputs`` the ids of the nodes it reads, in
    order; ``block`` and ``stage`` the scopes of its block and stage (``""`` outside);
    ``path`` which side of a residual it is on (``main``, ``skip`` or ``gate``); ``init``
    an init rule (``zero``) or None; ``call`` 0 for a module's first op and 1, 2, ... for
    later calls of the same parameter-free module (their node ids differ from the scope:
    read ``call``, not the id).

    Networkx hands the record out as a node's attribute dict, so it also reads as a
    mapping of exactly these keys (``graph.nodes["fc"]["shape"]``); setting any other
    key is a KeyError (``nx.set_node_attributes`` with a new name then sets nothing:
    keep such data beside the graph). A graph converted to a plain networkx graph
    (``nx.DiGraph(graph)``, ``node_link_graph``) has dict nodes again, which
    archspec's own functions do not read. Example::

        graph = archspec.lower("resnet18")
        graph.nodes["layer1.0.conv1"].shape  # (64, 56, 56)
    """

    op: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    scope: str = ""
    shape: Shape = ()
    inputs: tuple[str, ...] = ()
    block: str = ""
    stage: str = ""
    path: str = "main"
    init: str | None = None
    call: int = 0

    def __getitem__(self, key: str) -> Any:
        if key not in NODE_KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in NODE_KEYS:
            raise KeyError(f"a graph node has no attribute {key!r} (it has {', '.join(NODE_KEYS)})")
        setattr(self, key, value)

    def __delitem__(self, key: str) -> None:
        raise KeyError(f"a graph node's attribute {key!r} cannot be removed")

    def clear(self) -> None:
        raise KeyError("a graph node's attributes cannot be removed")

    def popitem(self) -> tuple[str, Any]:
        raise KeyError("a graph node's attributes cannot be removed")

    def __iter__(self) -> Iterator[str]:
        return iter(NODE_KEYS)

    def __len__(self) -> int:
        return len(NODE_KEYS)

    def __eq__(self, other: object) -> bool:
        # Equal to a record or a plain dict of the same items: a graph copied into a
        # plain networkx DiGraph (whose nodes are dicts) still equals the original.
        if isinstance(other, NodeRecord | Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dict

    def copy(self) -> NodeRecord:
        """A shallow copy, as ``dict.copy`` (networkx copies graphs through it)."""
        return replace(self)


NODE_KEYS = tuple(f.name for f in fields(NodeRecord))


class IRGraph(nx.DiGraph):
    """The IR's graph: a networkx DiGraph whose node attributes are :class:`NodeRecord`
    (copies and subgraphs keep them typed)."""

    node_attr_dict_factory = NodeRecord

    def to_directed_class(self) -> type[nx.DiGraph]:
        return IRGraph


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
