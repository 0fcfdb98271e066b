"""What kind of skip connection a block has, and what each edge of the graph IR is, read
from the graph alone (roles, paths and ops), not from a list of block types.

A block's skip is ``identity``, or what its skip path computes where it changes shape
(``projection``: a conv; ``avgproj``: a pool then a conv; ``pad``: the parameter-free
pad; another op: that op's name), or its block setting when that is not additive
(``gated``, ``sparse``, any registered kind), or ``concatenation`` when the block
concatenates its input with what it computes (dense blocks). A block without any is
plain (``None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

from archspec.graph.records import BlockRecord

# Skip settings that add the (possibly projected) input to the branch.
ADDITIVE = frozenset({"identity", "projection", "pad", "avgproj"})


@dataclass(frozen=True)
class SkipKind:
    """``style`` picks the edge style (a key of :data:`archspec.render.style.EDGES`);
    ``label`` is the text shown (``gated + projection``)."""

    style: str
    label: str


def _via(ops: Sequence[str]) -> str | None:
    """What a skip path computes, named by its ops."""
    if not ops:
        return None
    if "conv" in ops:
        return "avgproj" if "pool" in ops else "projection"
    if "pad_skip" in ops:
        return "pad"
    return "+".join(dict.fromkeys(ops))


def block_skip_kind(
    graph: nx.DiGraph, record: BlockRecord, members: Sequence[str]
) -> SkipKind | None:
    """The skip kind of one block, given its record and its nodes."""
    inside = set(members)
    nodes = graph.nodes
    # What the skip path computes: its single-input ops (a gated merge's carry side sits
    # on the skip path too, but merges two inputs).
    via = _via(
        [nodes[n].op for n in members if nodes[n].path == "skip" and len(nodes[n].inputs) == 1]
    )
    skip_edges = any(
        data.get("role") in ("skip", "gate")
        for n in members
        for _, _, data in graph.in_edges(n, data=True)
    )
    concatenates = any(
        nodes[n].op == "concat" and any(u not in inside for u in graph.predecessors(n))
        for n in members
    )
    setting = record.skip
    if via is None and not skip_edges:
        return SkipKind("concatenation", "concatenation") if concatenates else None
    if setting in ADDITIVE or setting == "none":
        kind = via or "identity"
        return SkipKind(kind, kind)
    return SkipKind(setting, f"{setting} + {via}" if via else setting)


def skip_kinds(graph: nx.DiGraph) -> dict[str, SkipKind | None]:
    """Every block's skip kind, by block scope."""
    members: dict[str, list[str]] = {}
    for node, data in graph.nodes(data=True):
        if data.block:
            members.setdefault(data.block, []).append(node)
    return {
        record.scope: block_skip_kind(graph, record, members.get(record.scope, []))
        for record in graph.graph["blocks"]
    }


def edge_kind(graph: nx.DiGraph, tail: str, head: str, kinds: dict[str, SkipKind | None]) -> str:
    """How to draw one edge: ``main``, ``gate``, ``concatenation`` or the skip style
    of the block the edge leads into."""
    data = graph.edges[tail, head]
    role = data.get("role", "main")
    dst = graph.nodes[head]
    if role == "gate":
        return "gate"
    # Inputs a concat takes from outside its block (or any, for a concat outside
    # blocks) are the reused features of dense connectivity.
    outside = graph.nodes[tail].block != dst.block or not dst.block
    if dst.op == "concat" and (role == "skip" or outside):
        return "concatenation"
    if role == "skip" or dst.path == "skip":
        kind = kinds.get(dst.block)
        return kind.style if kind is not None else "identity"
    return "main"
