"""Checkpointed regions: ops the built model recomputes in backward instead of keeping
their outputs (``torch.utils.checkpoint``), as torchvision's DenseNet does with
``memory_efficient=True``.

A block marks a region with ``GraphBuilder.checkpoint()``; the graph lists the regions'
node ids in ``graph.graph["checkpoints"]``. A region must be a chain: optionally a
concat of the tensors it reads, then single-input module ops, each reading the one
before, with only the last one read outside the region. The forward then calls
:func:`checkpointed_chain` once per region; its modules keep their places (and names)
in the model, the call only borrows them.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import torch
from torch import fx, nn
from torch.utils.checkpoint import checkpoint

from archspec.errors import GraphError
from archspec.graph.ops import OPS


def _run_chain(modules: tuple[nn.Module, ...], *inputs: torch.Tensor) -> torch.Tensor:
    x = torch.cat(inputs, dim=1) if len(inputs) > 1 else inputs[0]
    for module in modules:
        x = module(x)
    return x


def checkpointed_chain(modules: tuple[nn.Module, ...], *inputs: torch.Tensor) -> torch.Tensor:
    """Concatenate ``inputs`` (if several) and apply ``modules`` in turn, keeping no
    activation for backward but the inputs: backward runs the chain again."""
    return checkpoint(_run_chain, modules, *inputs, use_reentrant=False)


@dataclass(frozen=True)
class Region:
    """One checkpointed chain: its nodes, the outside nodes it reads, its modules."""

    nodes: tuple[str, ...]
    inputs: tuple[str, ...]
    modules: tuple[str, ...]

    def emit(self, fx_graph: fx.Graph, env: dict[str, fx.Node]) -> fx.Node:
        """The fx call computing the region's output."""
        mods = tuple(fx_graph.get_attr(scope) for scope in self.modules)
        return fx_graph.call_function(checkpointed_chain, (mods, *[env[i] for i in self.inputs]))


def regions(graph: nx.DiGraph) -> dict[str, Region]:
    """Each node inside a checkpointed region -> its region."""
    out: dict[str, Region] = {}
    for nodes in graph.graph.get("checkpoints", ()):
        region = _chain(graph, tuple(nodes))
        out.update(dict.fromkeys(nodes, region))
    return out


def _chain(graph: nx.DiGraph, nodes: tuple[str, ...]) -> Region:
    def refuse(why: str) -> GraphError:
        return GraphError(f"checkpointed region {nodes[0]}..{nodes[-1]}: {why}")

    first = graph.nodes[nodes[0]]
    chain = nodes[1:] if first.op == "concat" else nodes
    inputs = first.inputs if first.op == "concat" else first.inputs[:1]
    previous = nodes[0] if first.op == "concat" else None
    for node in chain:
        data = graph.nodes[node]
        if OPS[data.op].module is None or len(data.inputs) != 1:
            raise refuse(f"{node} is not a single-input module op")
        if previous is not None and data.inputs[0] != previous:
            raise refuse(f"{node} does not read the op before it")
        previous = node
    inside = set(nodes)
    for node in nodes[:-1]:
        if not set(graph.succ[node]) <= inside:
            raise refuse(f"{node} is read outside the region; only its last op may be")
    return Region(nodes, tuple(inputs), tuple(graph.nodes[n].scope for n in chain))
