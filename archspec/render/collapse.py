"""Runs of identical blocks: consecutive blocks of a stage with the same ops, parameters
and shapes (relative to the block's scope) are drawn as one node marked ``×N``.

Example::

    runs = block_runs(archspec.lower("resnet50"))
    [(r.first, len(r.blocks)) for r in runs][:2]   # [('layer1.0', 1), ('layer1.1', 2)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx


@dataclass(frozen=True)
class BlockRun:
    """Consecutive identical blocks of one stage (often a single block)."""

    stage: str
    blocks: tuple[dict[str, Any], ...]  # the block records, in order
    members: tuple[tuple[str, ...], ...]  # each block's nodes, in order

    @property
    def first(self) -> str:
        return self.blocks[0].scope

    @property
    def last(self) -> str:
        return self.blocks[-1].scope

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(n for block in self.members for n in block)


def _relative(scope: str, prefix: str) -> str:
    return scope[len(prefix) + 1 :] if scope.startswith(prefix + ".") else scope


def block_signature(graph: nx.DiGraph, scope: str, members: tuple[str, ...]) -> tuple:
    """What must match for two blocks to be drawn as one: each op, its parameters, its
    output shape, init and path, and where its inputs come from (inside the block, by
    relative name; outside, by shape and role)."""
    inside = set(members)
    signature = []
    for node in members:
        data = graph.nodes[node]
        sources = tuple(
            (_relative(u, scope), graph.edges[u, node].get("role"))
            if u in inside
            else ("<in>", graph.nodes[u].shape, graph.edges[u, node].get("role"))
            for u in data.inputs
        )
        signature.append(
            (
                _relative(node, scope),
                data.op,
                repr(sorted(data.params.items())),
                data.shape,
                data.init,
                data.path,
                sources,
            )
        )
    return tuple(signature)


def block_members(graph: nx.DiGraph) -> dict[str, tuple[str, ...]]:
    """Each block's nodes, in graph order, by block scope."""
    members: dict[str, list[str]] = {}
    for node, data in graph.nodes(data=True):
        if data.block:
            members.setdefault(data.block, []).append(node)
    return {scope: tuple(nodes) for scope, nodes in members.items()}


def block_runs(graph: nx.DiGraph) -> list[BlockRun]:
    """The blocks of the graph grouped into runs of identical neighbours."""
    members = block_members(graph)
    # Each run grows in lists and becomes a BlockRun once: a new tuple per added block
    # copied the whole run each time, quadratic in a stage's depth.
    groups: list[tuple[str, list[Any], list[tuple[str, ...]]]] = []
    previous: tuple | None = None
    for record in graph.graph["blocks"]:
        scope = record.scope
        nodes = members.get(scope, ())
        signature = (record.stage, record.kind, block_signature(graph, scope, nodes))
        if groups and signature == previous:
            groups[-1][1].append(record)
            groups[-1][2].append(nodes)
        else:
            groups.append((record.stage, [record], [nodes]))
        previous = signature
    return [BlockRun(stage, tuple(blocks), tuple(nodes)) for stage, blocks, nodes in groups]
