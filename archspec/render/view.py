"""What a diagram shows at each level of detail, before any Graphviz is involved:
nodes with their labels and clusters, edges with their kind and label.

- ``stage``: the input, a node per part of the network (stem, each stage, head).
- ``block``: a node per run of identical blocks (``×N``), a node per stretch of ops
  outside blocks (stem, head, transitions), clustered by stage; skip edges drawn by kind.
- ``layer``: every op of the graph IR, clustered by stage and block.

Edges between nodes carry the tensor shape that flows along them (without the batch).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

from archspec.errors import ArchSpecError
from archspec.graph.records import NodeRecord, StageRecord
from archspec.graph.stats import Stats, graph_stats
from archspec.render import style
from archspec.render.collapse import BlockRun, block_runs
from archspec.render.labels import conv_text, op_text, shape_text
from archspec.render.skip_kind import SkipKind, edge_kind, skip_kinds

DETAILS = ("stage", "block", "layer")
_MERGE_OPS = frozenset({"add", "merge", "mul", "concat"})
_MAX_OPS_IN_LABEL = 5
# Beyond this many dense-connectivity edges, layer detail folds them too: densenet121
# has about 1,500, which Graphviz needs many minutes to route, into an unreadable image.
MAX_FAN_IN_EDGES = 64


@dataclass(frozen=True)
class ViewNode:
    id: str
    label: str
    attrs: style.Attrs
    cluster: tuple[str, ...] = ()  # enclosing clusters, outermost first
    tooltip: str = ""
    # The part of the network (stage, stem, head) a node of ops outside blocks stands
    # for: a stretch's id is unique (``stem``, ``graph#2``) but its part is not.
    part: str = ""


@dataclass(frozen=True)
class ViewEdge:
    tail: str
    head: str
    kind: str  # "main", "gate", "concatenation" or a skip style
    label: str
    side: bool = False  # drawn along the side of the nodes it joins
    constraint: bool = True  # whether the edge ranks its head below its tail


@dataclass
class View:
    """A diagram's content: ``clusters`` maps a cluster path to its label."""

    name: str
    detail: str
    nodes: list[ViewNode] = field(default_factory=list)
    edges: list[ViewEdge] = field(default_factory=list)
    clusters: dict[tuple[str, ...], str] = field(default_factory=dict)
    subtitle: str = ""
    owner: dict[str, str] = field(default_factory=dict)  # IR node -> the view node showing it

    @property
    def edge_kinds(self) -> list[str]:
        """The kinds of edge drawn, other than plain data flow, in first-seen order."""
        return list(dict.fromkeys(e.kind for e in self.edges if e.kind != "main"))


def build_view(graph: nx.DiGraph, detail: str) -> View:
    """The view of ``graph`` at ``detail`` (``stage``, ``block`` or ``layer``)."""
    if detail not in DETAILS:
        raise ArchSpecError(f"unknown detail {detail!r}; choose one of {', '.join(DETAILS)}")
    view = {"stage": stage_view, "block": block_view, "layer": layer_view}[detail](graph)
    _feature_outputs(graph, view)
    view.edges = _rank_by_main_flow(view)
    fan_in = sum(1 for e in view.edges if e.kind == "concatenation" and not e.constraint)
    if detail != "layer" or fan_in > MAX_FAN_IN_EDGES:
        _fold_fan_in(view)
    stats = graph_stats(graph)
    view.subtitle = (
        f"{stats.params:,} params · {_si(stats.macs)}MACs · {_si(stats.flops)}FLOPs "
        f"(1 multiply-add = 1 MAC = 2 FLOPs) · input {shape_text(stats.input_shape)} "
        f"→ {_outputs_text(stats)} · {detail} detail"
    )
    if stats.data_dependent:
        view.subtitle += " · MACs count 1 evaluation of each adaptive ODE stage (data-dependent)"
    return view


def _outputs_text(stats: Stats) -> str:
    if stats.features:
        return f"{len(stats.features)} feature maps"
    return f"output {shape_text(stats.output_shape)}"


def _feature_outputs(graph: nx.DiGraph, view: View) -> None:
    """A backbone's outputs, each drawn as an output node off the node computing it."""
    for i, feature in enumerate(graph.graph.get("features", ())):
        shape = shape_text(graph.nodes[feature.node].shape)
        node = f"output {i}: {feature.module}"
        label = f"output {i}: {feature.module}\n{shape} · reduction {feature.reduction}"
        view.nodes.append(ViewNode(node, label, style.op_attrs("input"), (), node))
        view.edges.append(ViewEdge(view.owner[feature.node], node, "main", shape))


def _rank_by_main_flow(view: View) -> list[ViewEdge]:
    """Let only the main flow decide which node sits below which: each node's main
    edges, or, if it has none (a skip path's first op, a dense layer's concatenation),
    its edge from the latest node before it. Other skips and concatenations are drawn
    but do not pull the layout; a dense block's hundreds of fan-in edges would otherwise
    take Graphviz minutes to rank."""
    order = {node.id: i for i, node in enumerate(view.nodes)}
    into: dict[str, list[ViewEdge]] = {}
    for edge in view.edges:
        into.setdefault(edge.head, []).append(edge)
    ranking: set[int] = set()
    for edges in into.values():
        main = [e for e in edges if e.kind == "main"]
        chosen = main or [max(edges, key=lambda e: order.get(e.tail, -1))]
        ranking.update(id(e) for e in chosen)
    return [e if id(e) in ranking else dataclasses.replace(e, constraint=False) for e in view.edges]


def _fold_fan_in(view: View) -> None:
    """Dense connectivity at block and stage detail (and at layer detail past
    :data:`MAX_FAN_IN_EDGES`): a node that concatenates the outputs of many earlier nodes
    keeps the edge from the node before it, and its label says how many more it
    concatenates (a 24-layer dense block would otherwise draw 300 crossing edges)."""
    folded: dict[str, int] = {}
    kept = [e for e in view.edges if e.kind != "concatenation" or e.constraint]
    joined = {(e.tail, e.head) for e in kept}
    for edge in view.edges:
        # Beside an edge between the same two nodes, a folded one adds nothing to say.
        if (
            edge.kind == "concatenation"
            and not edge.constraint
            and ((edge.tail, edge.head) not in joined)
        ):
            folded[edge.head] = folded.get(edge.head, 0) + 1
    view.edges = kept
    nodes = []
    for node in view.nodes:
        if node.id in folded:
            count = folded[node.id]
            note = f"also concatenates {count} earlier output{'s' if count > 1 else ''}"
            if node.attrs.get("fixedsize") == "true":  # a small merge symbol: note beside it
                node = dataclasses.replace(node, attrs={**node.attrs, "xlabel": note})
            else:
                node = dataclasses.replace(node, label=f"{node.label}\n{note}")
        nodes.append(node)
    view.nodes = nodes


def _si(n: int) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.3f} {prefix}"
    return f"{n} "


def _stage_records(graph: nx.DiGraph) -> dict[str, dict]:
    return {record.scope: record for record in graph.graph["stages"]}


def _part(data: NodeRecord) -> str:
    """The part of the network a node belongs to: a stage scope, a section, or input."""
    return data.stage or ("input" if data.op == "input" else "")


def _stage_title(record: StageRecord) -> str:
    config = record.config
    width = getattr(config, "width", None)
    detail = f", width {width}" if width is not None else ""
    if record.ode is not None:  # one branch, evaluated by the solver: not depth blocks
        return f"{record.scope}: ODE of a {record.kind} branch{detail}"
    return f"{record.scope}: {record.depth} × {record.kind}{detail}"


def _ops_text(graph: nx.DiGraph, nodes: Iterable[str]) -> str:
    texts = [op_text(graph.nodes[n].op, graph.nodes[n].params) for n in nodes]
    texts = [t for t in texts if t != "+"]
    if len(texts) > _MAX_OPS_IN_LABEL:
        more = len(texts) - _MAX_OPS_IN_LABEL + 1
        texts = [*texts[: _MAX_OPS_IN_LABEL - 1], f"… {more} more"]
    return "\n".join(texts)


def _edges(
    graph: nx.DiGraph, owner: dict[str, str], kinds: dict[str, SkipKind | None], beside: bool
) -> list[ViewEdge]:
    """The graph's edges between distinct view nodes, one per (tail, head, kind).

    ``beside``: skips run beside main edges between the same nodes (block and stage
    detail), so they are drawn along the side instead of on top of them."""
    seen: dict[tuple[str, str, str], ViewEdge] = {}
    for tail, head, data in graph.edges(data=True):
        a, b = owner[tail], owner[head]
        if a == b:
            continue
        kind = edge_kind(graph, tail, head, kinds)
        # A skip beside a main edge between the same two nodes carries the same tensor:
        # its colour (and the legend) say what it is, a second label would overlap.
        label = shape_text(data["shape"]) if kind == "main" or not beside else ""
        seen.setdefault((a, b, kind), ViewEdge(a, b, kind, label, side=beside and kind != "main"))
    return list(seen.values())


def layer_view(graph: nx.DiGraph) -> View:
    """Every op, clustered by stage (or stem, head) and block."""
    view = View(graph.graph["name"], "layer")
    stages = _stage_records(graph)
    blocks = {record.scope: record for record in graph.graph["blocks"]}
    for node, data in graph.nodes(data=True):
        part = _part(data)
        cluster: tuple[str, ...] = ()
        if part and part != "input":
            cluster = (part,)
            view.clusters.setdefault(
                cluster, _stage_title(stages[part]) if part in stages else part
            )
            if data.block:
                cluster = (part, data.block)
                kind = blocks[data.block].kind if data.block in blocks else ""
                view.clusters.setdefault(cluster, f"{data.block} ({kind})")
        text = op_text(data.op, data.params)
        if data.op in _MERGE_OPS:
            label = text if data.op != "concat" else "∥"
        elif data.op == "input":
            label = f"input\n{shape_text(data.shape)}"
        else:
            leaf = data.scope[len(data.block) + 1 :] if data.block else data.scope
            label = leaf if leaf == text else f"{leaf}\n{text}"
        tooltip = f"{data.scope}: {text} → {shape_text(data.shape)}"
        view.nodes.append(ViewNode(node, label, style.op_attrs(data.op), cluster, tooltip))
    kinds = skip_kinds(graph)
    view.owner = {n: n for n in graph.nodes}
    view.edges = _edges(graph, view.owner, kinds, beside=False)
    return view


def _run_label(graph: nx.DiGraph, run: BlockRun, kind: SkipKind | None) -> str:
    count = len(run.blocks)
    title = run.first if count == 1 else f"{run.first}–{run.last.rsplit('.', 1)[-1]}  ×{count}"
    first = run.members[0]
    convs = [
        conv_text(graph.nodes[n].params)
        for n in first
        if graph.nodes[n].op == "conv" and graph.nodes[n].path == "main"
    ]
    body = " · ".join(convs) if convs else f"{len(first)} ops"
    lines = [title, f"{run.blocks[0].kind}: {body}"]
    lines.append(f"skip: {kind.label}" if kind is not None else "no skip")
    return "\n".join(lines)


def block_view(graph: nx.DiGraph) -> View:
    """A node per run of identical blocks and per stretch of ops outside blocks."""
    view = View(graph.graph["name"], "block")
    stages = _stage_records(graph)
    kinds = skip_kinds(graph)
    runs = {run.first: run for run in block_runs(graph)}
    run_of_block = {b.scope: run.first for run in runs.values() for b in run.blocks}
    owner: dict[str, str] = {}
    stretches: dict[str, list[str]] = {}  # view node id -> ops outside blocks
    previous = ""
    counts: dict[str, int] = {}
    for node, data in graph.nodes(data=True):
        if data.block:
            owner[node] = run_of_block[data.block]
            previous = ""
            continue
        part = _part(data) or "graph"
        if part != previous:
            counts[part] = counts.get(part, 0) + 1
            previous = part
        stretch = part if counts[part] == 1 else f"{part}#{counts[part]}"
        owner[node] = stretch
        stretches.setdefault(stretch, []).append(node)

    placed: set[str] = set()
    for node, data in graph.nodes(data=True):
        key = owner[node]
        if key in placed:
            continue
        placed.add(key)
        part = _part(data)
        cluster = (part,) if part in stages else ()
        if cluster:
            view.clusters.setdefault(cluster, _stage_title(stages[part]))
        if key in runs:
            run = runs[key]
            kind = kinds.get(run.first)
            attrs = style.block_attrs(run.blocks[0].kind)
            if len(run.blocks) > 1:
                attrs["peripheries"] = "2"
            label = _run_label(graph, run, kind)
            tooltip = ", ".join(b.scope for b in run.blocks)
        elif data.op == "input":
            attrs = style.op_attrs("input")
            label = f"input\n{shape_text(data.shape)}"
            tooltip = "input"
        else:
            attrs = dict(style.SECTION)
            label = f"{part or 'graph'}\n{_ops_text(graph, stretches[key])}"
            tooltip = ", ".join(graph.nodes[n].scope for n in stretches[key])
        view.nodes.append(ViewNode(key, label, attrs, cluster, tooltip, part or "graph"))
    view.edges = _edges(graph, owner, kinds, beside=True)
    view.owner = owner
    return view


def stage_view(graph: nx.DiGraph) -> View:
    """A node per part of the network: input, stem, each stage, head."""
    view = View(graph.graph["name"], "stage")
    stages = _stage_records(graph)
    kinds = skip_kinds(graph)
    per_part = graph_stats(graph).per_stage
    owner: dict[str, str] = {}
    parts: dict[str, list[str]] = {}
    for node, data in graph.nodes(data=True):
        part = _part(data) or "graph"
        owner[node] = part
        parts.setdefault(part, []).append(node)
    for part, nodes in parts.items():
        first = graph.nodes[nodes[0]]
        cost = per_part.get(part, {"params": 0, "macs": 0})
        numbers = f"{cost['params']:,} params · {_si(cost['macs'])}MACs"
        if part == "input":
            view.nodes.append(
                ViewNode(part, f"input\n{shape_text(first.shape)}", style.op_attrs("input"))
            )
            continue
        if part in stages:
            record = stages[part]
            found = [kinds.get(b.scope) for b in graph.graph["blocks"] if b.stage == part]
            labels = list(dict.fromkeys(k.label for k in found if k is not None)) or ["none"]
            skips = f"skip: {', '.join(labels)}"
            if record.ode is not None:
                # The solver adds the integral of f to the state itself; a discrete first
                # block (where the stage changes the shape) brings its own skip.
                solver = next(graph.nodes[n] for n in nodes if graph.nodes[n].op == "ode")
                first = "" if found == [None] else f"{skips} (first block), "
                skips = f"{first}{op_text('ode', solver.params)}"
                if solver.params["evals"] is None:
                    numbers += " (1 evaluation)"
            label = f"{_stage_title(record)}\n{skips}\n{numbers}"
            attrs = style.block_attrs(record.kind)
        else:
            label = f"{part}\n{_ops_text(graph, nodes)}\n{numbers}"
            attrs = dict(style.SECTION)
        view.nodes.append(ViewNode(part, label, attrs, (), part, part))
    view.edges = _edges(graph, owner, kinds, beside=True)
    view.owner = owner
    return view
