"""Side-by-side comparison of specs: params, MACs, depth and shapes, all analytic.

Example::

    rows = compare_rows([archspec.lower("resnet18"), archspec.lower("resnet50")])
    columns, table = side_by_side(rows)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

from archspec.graph.stats import graph_stats
from archspec.report import units
from archspec.report.counts import network_depth


@dataclass(frozen=True)
class CompareRow:
    """One spec's numbers for one input sample."""

    name: str
    params: int
    macs: int
    depth: int
    blocks: int
    input_size: tuple[int, ...]
    output_size: tuple[int, ...]
    # MACs count one evaluation of some adaptive ODE stage's branch (Stats.data_dependent).
    data_dependent: bool = False

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "depth": self.depth,
            "blocks": self.blocks,
            "input_size": list(self.input_size),
            "output_size": list(self.output_size),
            "macs_data_dependent": self.data_dependent,
        }


def compare_row(graph: nx.DiGraph) -> CompareRow:
    stats = graph_stats(graph)
    return CompareRow(
        name=stats.name,
        params=stats.params,
        macs=stats.macs,
        depth=network_depth(graph),
        blocks=len(graph.graph["blocks"]),
        input_size=(1, *stats.input_shape),
        output_size=(1, *stats.output_shape),
        data_dependent=stats.data_dependent,
    )


def compare_rows(graphs: Sequence[nx.DiGraph]) -> list[CompareRow]:
    return [compare_row(g) for g in graphs]


def side_by_side(
    rows: Sequence[CompareRow], labels: Sequence[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """The table ``archspec compare`` prints: a column per spec, a row per measure.

    ``labels`` head the columns (default: the specs' names).
    """
    columns = ["", *(labels or [r.name for r in rows])]
    table = [
        ["params", *(units.count(r.params) for r in rows)],
        ["MACs (multiply-add = 1)", *(units.short(r.macs) for r in rows)],
        ["FLOPs (= 2 x MACs)", *(units.short(r.flops) for r in rows)],
        ["depth (weighted layers)", *(str(r.depth) for r in rows)],
        ["blocks", *(str(r.blocks) for r in rows)],
        ["input", *(units.shape(r.input_size) for r in rows)],
        ["output", *(units.shape(r.output_size) for r in rows)],
    ]
    if any(r.data_dependent for r in rows):
        table.insert(
            3,
            [
                "MACs data-dependent",
                *("yes (1 ODE eval)" if r.data_dependent else "no" for r in rows),
            ],
        )
    return columns, table
