"""The graph IR is a well-formed networkx DiGraph.

The builder writes nodes and edges straight into networkx's adjacency dicts (for speed
in sweeps), so these tests pin what ``add_node``/``add_edge`` would have guaranteed:
successors and predecessors mirror each other and share one data dict per edge, every
node's ``inputs`` are exactly its predecessors, and the graph survives networkx's own
copy and comparison. Parametrized over every preset and every block type and skip kind.
"""

from __future__ import annotations

import networkx as nx
import pytest

import archspec
from archspec.blocks import blocks
from archspec.blocks.skips import DOWNSAMPLES, SKIPS
from archspec.errors import SpecError
from archspec.graph.records import NodeRecord
from archspec.lowering import lower

NODE_KEYS = {"op", "params", "scope", "shape", "inputs", "block", "stage", "path", "init", "call"}


def assert_well_formed(graph: nx.DiGraph) -> None:
    assert set(graph.succ) == set(graph.pred) == set(graph.nodes)
    for node, data in graph.nodes(data=True):
        assert isinstance(data, NodeRecord) and set(data) == NODE_KEYS, node
        assert set(graph.pred[node]) == set(data["inputs"]), node
        for pred in data["inputs"]:
            edge = graph.edges[pred, node]
            assert edge is graph.succ[pred][node] is graph.pred[node][pred]
            assert set(edge) == {"role", "shape"}
            assert edge["shape"] == graph.nodes[pred]["shape"]
    assert nx.is_directed_acyclic_graph(graph)
    # node order is creation order, a topological order
    seen: set[str] = set()
    for node, data in graph.nodes(data=True):
        assert set(data["inputs"]) <= seen, node
        seen.add(node)
    rebuilt = nx.DiGraph(graph)  # plain dicts for nodes: equal to the records
    assert nx.utils.graphs_equal(rebuilt, graph) and nx.utils.graphs_equal(graph.copy(), graph)
    assert all(isinstance(d, NodeRecord) for _, d in graph.copy().nodes(data=True))
    assert rebuilt.number_of_edges() == sum(
        len(set(d["inputs"])) for _, d in graph.nodes(data=True)
    )


@pytest.mark.parametrize("name", archspec.presets())
def test_preset_graph_is_well_formed(name: str) -> None:
    assert_well_formed(lower(archspec.load(name)))


@pytest.mark.parametrize("block", list(blocks()))
@pytest.mark.parametrize("skip", list(SKIPS))
@pytest.mark.parametrize("downsample", list(DOWNSAMPLES))
def test_block_graph_is_well_formed(block: str, skip: str, downsample: str) -> None:
    overrides = {
        "input.size": 16,
        "stem": {"type": "cifar", "width": 8},
        "defaults": {"block": block, "skip": skip, "downsample": downsample},
        "stages": [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}],
    }
    kinds = blocks()[block].config.skip_kinds
    if kinds is not None and skip not in kinds:
        # a pair the block type refuses fails validation, naming the pair
        with pytest.raises(SpecError, match=f"skip '{skip}' does not apply to block '{block}'"):
            archspec.load("resnet20").override(overrides)
        return
    assert_well_formed(lower(archspec.load("resnet20").override(overrides)))


def test_merge_roles_are_main_then_skip() -> None:
    graph = lower(archspec.load("resnet18"))
    adds = [n for n, d in graph.nodes(data=True) if d["op"] == "merge"]
    assert adds
    for node in adds:
        main, skip = graph.nodes[node]["inputs"]
        assert graph.edges[main, node]["role"] == "main"
        assert graph.edges[skip, node]["role"] == "skip"
