"""Counts derived from the graph IR beside :mod:`archspec.graph.stats`: the network's
depth, the ops outside the MAC convention, and what other counters report, predicted
from shapes alone so reports and tests can check them.

Three counters, three conventions, for one sample of resnet50:

- archspec's analytic MACs: convolutions and linear layers, one multiply-add = 1
  (torchvision's "GFLOPS"): 4,089,184,256.
- ``torch.utils.flop_counter.FlopCounterMode``: the same ops, 2 FLOPs per multiply-add:
  8,178,368,512 = 2 x MACs.
- torchinfo's "mult-adds" (1.8): for each call of a layer with parameters, every
  parameter named or containing ``weight`` / ``bias`` is multiplied by the output's
  batch size, and for convolutions also by the output's spatial size. That is the conv
  and linear MACs, plus each conv bias (C_out x H x W), each linear bias (out features)
  and each norm's affine weight and bias (2 x C, not scaled by H x W): 4,089,238,376.
  :func:`torchinfo_mult_adds` computes it.

Example::

    graph = archspec.lower("resnet50")
    network_depth(graph)            # 50
    torchinfo_mult_adds(graph)      # 4089238376
"""

from __future__ import annotations

from collections import Counter
from math import prod

import networkx as nx

from archspec.graph.ops import OPS
from archspec.graph.records import NodeRecord


def _node_params(graph: nx.DiGraph, data: NodeRecord) -> int:
    ins = [graph.nodes[i].shape for i in data.inputs]
    return OPS[data.op].params(data.params, ins)


def is_weighted_layer(graph: nx.DiGraph, node: str) -> bool:
    """A layer that counts towards depth: an op inside the MAC convention that has
    weights (convolutions and linear layers; the "50" of ResNet-50)."""
    data = graph.nodes[node]
    return OPS[data.op].counted and _node_params(graph, data) > 0


def network_depth(graph: nx.DiGraph) -> int:
    """Weighted layers on the longest path from input to output: 50 for resnet50 (the
    projection skips run beside the main path), 56 for resnet56, 121 for densenet121.
    An ODE stage's branch counts once per evaluation, one after another (56 for
    ode_resnet56's Euler steps; an adaptive solver's one evaluation, as its MACs)."""
    longest: dict[str, int] = {}
    for node in nx.topological_sort(graph):
        data = graph.nodes[node]
        if data.op == "ode":
            state, branch = (longest[p] for p in data.inputs)
            longest[node] = state + (data.params["evals"] or 1) * (branch - state)
            continue
        here = 1 if is_weighted_layer(graph, node) else 0
        before = max((longest[p] for p in graph.predecessors(node)), default=0)
        longest[node] = before + here
    return longest[graph.graph["output"]]


def uncounted_ops(graph: nx.DiGraph) -> dict[str, int]:
    """Op kinds that do arithmetic outside the MAC convention (norms, activations,
    pools, adds, ...), with how many of each the graph has: reports list them rather
    than let them pass as zero."""
    found = Counter(data.op for _, data in graph.nodes(data=True) if not OPS[data.op].counted)
    return dict(sorted(found.items()))


def torchinfo_mult_adds(graph: nx.DiGraph, batch: int = 1) -> int:
    """torchinfo's "Total mult-adds" for this graph at this batch size, from shapes.

    Per call of a layer with parameters (torchinfo counts every call, and each
    parameter once per call): a convolution adds its parameter count times
    batch x H_out x W_out, any other layer its parameter count times the batch.
    """
    total = 0
    # An ODE stage's branch is called once per solver evaluation (adaptive: counted once).
    evals = graph.graph.get("ode_evals", {})
    for _, data in graph.nodes(data=True):
        params = _node_params(graph, data)
        if not params:
            continue
        calls = (evals.get(data.block) or 1) if evals else 1
        if data.op == "conv":
            total += calls * params * batch * prod(data.shape[1:])
        else:
            total += calls * params * batch
    return total
