"""Analytic cost of a graph: parameters, MACs, FLOPs and activation sizes, from shapes
alone (no weight is allocated, so a 10^10-parameter spec counts in milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

import networkx as nx

from archspec.graph.ops import OPS
from archspec.graph.records import FeatureRecord


@dataclass(frozen=True)
class Stats:
    """Totals for one input sample (batch 1).

    ``macs`` counts one multiply-add as one (torchvision's "GFLOPS", torchinfo's
    "mult-adds"); ``flops`` counts it as two. Both cover convolutions and linear layers,
    the convention published numbers use; ``uncounted`` lists the op kinds present that
    do arithmetic outside it (norms, activations, pools, adds).
    """

    name: str
    params: int
    trainable_params: int
    macs: int
    activations: int  # elements of every op output, summed
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    per_stage: dict[str, dict[str, int]] = field(default_factory=dict)
    uncounted: tuple[str, ...] = ()
    # A backbone's outputs, in order (graph/outputs.py); empty for one output.
    features: tuple[FeatureRecord, ...] = ()
    # ODE stages (lowering/ode.py): each branch's evaluations per forward; None for an
    # adaptive solver, whose count depends on the data (its MACs are per evaluation).
    ode_evals: dict[str, int | None] = field(default_factory=dict)

    @property
    def data_dependent(self) -> bool:
        """Whether ``macs`` counts one evaluation of some adaptive ODE stage's branch,
        whose real count depends on the input (``archspec.summary(..., measure_ode=True)``
        measures it on a random batch)."""
        return any(n is None for n in self.ode_evals.values())

    @property
    def flops(self) -> int:
        """Floating-point operations: two per multiply-add."""
        return 2 * self.macs

    def _repr_html_(self) -> str | None:
        """In a notebook: the totals and the per-part table; None (the plain repr) if
        anything fails."""
        # Imported only when a notebook asks: the renderer is a backend, graph/ a leaf.
        from archspec.render.notebook import never_raise, stats_html

        return never_raise(lambda: stats_html(self))


def node_cost(graph: nx.DiGraph, node: str) -> tuple[int, int]:
    """(params, MACs) of one node."""
    data = graph.nodes[node]
    rule = OPS[data.op]
    ins = [graph.nodes[i].shape for i in data.inputs]
    if data.call:  # a second call of a module already counted
        return 0, rule.macs(data.params, ins, data.shape)
    return rule.params(data.params, ins), rule.macs(data.params, ins, data.shape)


def graph_stats(graph: nx.DiGraph) -> Stats:
    """Totals of a graph IR, summed over :func:`node_cost` of every node."""
    params = macs = activations = 0
    per_stage: dict[str, dict[str, int]] = {}
    uncounted: set[str] = set()
    # node_cost inlined over plain dicts: networkx's per-lookup views cost more than the
    # arithmetic, and sweeps call this thousands of times.
    nodes = dict(graph.nodes(data=True))
    evals = graph.graph.get("ode_evals", {})
    for data in nodes.values():
        rule = OPS[data.op]
        ins = [nodes[i].shape for i in data.inputs]
        m = rule.macs(data.params, ins, data.shape)
        if evals and data.block in evals:  # an ODE branch runs once per evaluation
            m *= evals[data.block] or 1
        p = 0 if data.call else rule.params(data.params, ins)
        params += p
        macs += m
        if data.op != "input":
            activations += prod(data.shape)
            if not OPS[data.op].counted:
                uncounted.add(data.op)
        bucket = per_stage.setdefault(data.stage or "input", {"params": 0, "macs": 0})
        bucket["params"] += p
        bucket["macs"] += m
    return Stats(
        name=graph.graph["name"],
        params=params,
        trainable_params=params,
        macs=macs,
        activations=activations,
        input_shape=graph.graph["input_shape"],
        output_shape=graph.graph["output_shape"],
        features=tuple(graph.graph.get("features", ())),
        per_stage=per_stage,
        uncounted=tuple(sorted(uncounted)),
        ode_evals=dict(evals),
    )
