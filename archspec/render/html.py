"""One self-contained HTML page to explore a network: the block diagram to pan and zoom,
each stage, stem, head or run of identical blocks (``×N``) expandable into its blocks and
layers, a tooltip per node (module paths, shapes, params, MACs) and a search by module
path. It needs no network: the script, the style and every drawing are inside the file.

Every drawing is laid out ahead of time by Graphviz, once per *unit*: the network at
stage and block detail (and layer detail when small enough), each part of the network
(stem, every stage, head) at layer detail, and each run of blocks at layer detail. Each op
is drawn in its part and in its run, so the file grows linearly with the network.

The data (drawings and the numbers of each node) is embedded as JSON in a
``<script type="application/json">`` with ``<``, ``>`` and ``&`` written as ``\\u`` escapes,
so no string from a spec can close the script; the page inserts the drawings after
removing anything active from them and writes every text with ``textContent``.

Example::

    write_html(archspec.lower("resnet50"), "resnet50.html")
"""

from __future__ import annotations

import dataclasses
import json
import re
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx

from archspec.errors import ArchSpecError
from archspec.files import atomic_write, writable_target
from archspec.graph.stats import node_cost
from archspec.render import style
from archspec.render.collapse import block_runs
from archspec.render.draw import _quiet_fontconfig, to_agraph
from archspec.render.labels import shape_text
from archspec.render.view import View, ViewNode, _part, build_view

# A drawing of more nodes than this is cut to its first blocks: Graphviz takes seconds
# per thousand nodes, and a page of thousands of identical blocks shows nothing more.
MAX_UNIT_NODES = 300
LEVELS = ("stage", "block", "layer")
LEVEL_NOTE = (
    "drag to pan, scroll to zoom; click a stage, a run of blocks (×N), the stem or the "
    "head to expand it into its blocks and layers; hover a node for its numbers"
)


@dataclasses.dataclass
class _Page:
    graph: nx.DiGraph
    views: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    nodes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    index: list[tuple[str, int, str]] = dataclasses.field(default_factory=list)
    ids: dict[tuple[int, str], str] = dataclasses.field(default_factory=dict)  # drawn node


def _fmt(n: int) -> str:
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n:,} ({n / scale:.2f} {prefix})"
    return f"{n:,}"


def _info(graph: nx.DiGraph, node: ViewNode, members: list[str]) -> dict[str, Any]:
    """What a node's tooltip shows: its modules, the shapes in and out, params and MACs."""
    inside = set(members)
    params = macs = 0
    for m in members:
        p, c = node_cost(graph, m)
        params, macs = params + p, macs + c
    ins = dict.fromkeys(
        shape_text(graph.nodes[u].shape)
        for m in members
        for u in graph.nodes[m].inputs
        if u not in inside
    )
    outs = [m for m in members if any(v not in inside for v in graph.successors(m))] or members[-1:]
    scopes = [graph.nodes[m].scope for m in members]
    module = scopes[0] if len(scopes) == 1 else f"{scopes[0]} … {scopes[-1]} ({len(scopes)} ops)"
    rows = [
        ["module", module],
        ["op", node.label.replace("\n", " · ")],
        ["input", ", ".join(ins) or "-"],
        ["output", ", ".join(dict.fromkeys(shape_text(graph.nodes[m].shape) for m in outs))],
        ["params", _fmt(params)],
        ["MACs", _fmt(macs)],
    ]
    return {"rows": rows, "params": params, "macs": macs}


def _sub_view(full: View, members: list[str], name: str, note: str) -> View:
    """The part of a layer view made of ``members``, with a small node for each value
    coming in from outside or going out, so the drawing says where it connects."""
    inside = set(members)
    view = View(name, "layer", subtitle=note)
    view.nodes = [n for n in full.nodes if n.id in inside]
    stubs: dict[str, ViewNode] = {}
    for edge in full.edges:
        a, b = edge.tail in inside, edge.head in inside
        if a and b:
            view.edges.append(edge)
        elif a or b:
            other = edge.head if a else edge.tail
            stub = f"{'to' if a else 'from'}:{other}"
            if stub not in stubs:
                stubs[stub] = ViewNode(stub, f"{'to' if a else 'from'} {other}", style.SECTION)
            tail, head = (edge.tail, stub) if a else (stub, edge.head)
            view.edges.append(dataclasses.replace(edge, tail=tail, head=head, side=False))
    froms = [s for k, s in stubs.items() if k.startswith("from:")]
    tos = [s for k, s in stubs.items() if k.startswith("to:")]
    view.nodes = [*froms, *view.nodes, *tos]
    used = {n.cluster[: i + 1] for n in view.nodes for i in range(len(n.cluster))}
    view.clusters = {path: title for path, title in full.clusters.items() if path in used}
    view.owner = {n: n for n in members}
    return view


def _svg(page: _Page, vi: int, view: View) -> str:
    """Lay ``view`` out; its nodes and clusters get ids the page's script looks up."""
    view = dataclasses.replace(view, nodes=[dataclasses.replace(n, tooltip="") for n in view.nodes])
    agraph = to_agraph(view)
    ids: dict[str, str] = {}
    for j, node in enumerate(view.nodes):
        ids[node.id] = f"v{vi}n{j}"
        agraph.get_node(node.id).attr["id"] = ids[node.id]
    pending = list(agraph.subgraphs())
    k = 0
    while pending:
        sub = pending.pop(0)
        pending.extend(sub.subgraphs())
        sub.graph_attr["id"] = f"v{vi}c{k}"
        page.clusters[f"v{vi}c{k}"] = {"name": sub.name}
        k += 1
    with _quiet_fontconfig():
        try:
            data = agraph.draw(format="svg", prog="dot").decode()
        except (OSError, ValueError) as exc:
            raise ArchSpecError(f"Graphviz could not draw {view.name}: {exc}") from None
    page.ids.update({(vi, key): value for key, value in ids.items()})
    return data[data.index("<svg") :]


def _add(page: _Page, title: str, kind: str, view: View, members_of: dict[str, list[str]]) -> int:
    vi = len(page.views)
    note = LEVEL_NOTE if kind == "level" else view.subtitle
    page.views.append({"title": title, "kind": kind, "note": note})
    page.views[vi]["svg"] = _svg(page, vi, view)
    for node in view.nodes:
        members = members_of.get(node.id, [])
        info = _info(page.graph, node, members) if members else {"rows": [["", node.label]]}
        page.nodes[page.ids[(vi, node.id)]] = {
            **info,
            "view": vi,
            "key": node.id,
            "part": node.part,
        }
    return vi


def _members(view: View) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ir, owner in view.owner.items():
        out.setdefault(owner, []).append(ir)
    return out


def _cut(graph: nx.DiGraph, nodes: list[str]) -> tuple[list[str], str]:
    """``nodes`` up to :data:`MAX_UNIT_NODES`, cut at a block's end; a note if cut."""
    if len(nodes) <= MAX_UNIT_NODES:
        return nodes, ""
    kept = nodes[:MAX_UNIT_NODES]
    split = graph.nodes[nodes[len(kept)]].block  # the block the cut would run through
    while len(kept) > 1 and split and graph.nodes[kept[-1]].block == split:
        kept.pop()
    kept = kept or nodes[:1]
    return kept, f"showing the first {len(kept):,} of {len(nodes):,} ops"


def page_data(graph: nx.DiGraph, detail: str = "block") -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data: the drawings, each node's numbers,
    what each node expands into, and the module paths to search."""
    if detail not in LEVELS:
        raise ArchSpecError(f"unknown detail {detail!r}; choose one of {', '.join(LEVELS)}")
    page = _Page(graph)
    full = build_view(graph, "layer")
    order = {n: i for i, n in enumerate(graph.nodes)}
    levels: dict[str, int | None] = {}
    for level in LEVELS:
        view = full if level == "layer" else build_view(graph, level)
        if level == "layer" and len(view.nodes) > MAX_UNIT_NODES:
            levels[level] = None
            continue
        levels[level] = _add(page, f"{level} detail", "level", view, _members(view))

    # Each part at layer detail, then each run of blocks.
    parts: dict[str, list[str]] = {}
    for node, data in graph.nodes(data=True):
        part = _part(data)
        if part != "input":
            parts.setdefault(part or "graph", []).append(node)
    part_view: dict[str, int] = {}
    for part, nodes in parts.items():
        kept, note = _cut(graph, nodes)
        sub = _sub_view(full, kept, f"{graph.graph['name']} · {part}", note)
        part_view[part] = _add(page, part, "part", sub, {n: [n] for n in kept})
    run_view: dict[str, int] = {}
    for run in block_runs(graph):
        kept, note = _cut(graph, sorted(run.nodes, key=order.__getitem__))
        count = len(run.blocks)
        title = run.first if count == 1 else f"{run.first}–{run.last.rsplit('.', 1)[-1]} ×{count}"
        sub = _sub_view(full, kept, f"{graph.graph['name']} · {title}", note)
        run_view[run.first] = _add(page, title, "run", sub, {n: [n] for n in kept})

    # What a click expands: a run into its blocks, a stage (node or cluster) or a
    # stretch of ops (stem, head) into its layers.
    for info in page.nodes.values():
        kind = page.views[info["view"]]["kind"]
        key, part = info.pop("key"), info.pop("part")
        if kind == "level":
            target = run_view.get(key, part_view.get(part))
            if target is not None:
                info["expand"] = target
    for cid, info in page.clusters.items():
        name = info.pop("name")
        vi = int(cid[1:].split("c")[0])
        part = name.removeprefix("cluster_").split("__")[0]
        if page.views[vi]["kind"] == "level" and part in part_view:
            info["expand"] = part_view[part]

    # The search: every op and block by module path, where its part draws it.
    for part, vi in part_view.items():
        for node in parts[part]:
            nid = page.ids.get((vi, node))
            if nid is not None:
                page.index.append((graph.nodes[node].scope, vi, nid))
        blocks = [graph.nodes[n].block for n in parts[part] if graph.nodes[n].block]
        page.index.extend((b, vi, "") for b in dict.fromkeys(blocks))
        page.index.append((part, vi, ""))
    page.index.sort(key=lambda e: e[0])
    start = levels[detail]
    if start is None:  # layer detail asked of a network too large to draw whole
        start = levels["block"]
        page.views[start]["note"] = (
            f"{len(full.nodes):,} ops are too many to draw whole at layer detail: click a "
            "stage or a run of blocks to see its layers"
        )
    return {
        "name": graph.graph["name"],
        "subtitle": build_view(graph, "stage").subtitle.rsplit(" · ", 1)[0],
        "views": page.views,
        "levels": levels,
        "start": start,
        "nodes": page.nodes,
        "clusters": {k: v for k, v in page.clusters.items() if "expand" in v},
        "index": page.index,
    }


def script_json(data: Any) -> str:
    """JSON for inside a ``<script>`` element: nothing in it can end the element or
    open a comment (``</script>``, ``<!--``), whatever the strings hold.

    Example::

        script_json({"a": "</script>"})   # '{"a": "\\u003c/script\\u003e"}'
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def html_page(graph: nx.DiGraph, detail: str = "block") -> str:
    """The self-contained page of ``graph``, opening at ``detail``."""
    data = page_data(graph, detail)
    assets = resources.files("archspec.render")
    script = assets.joinpath("viewer.js").read_text(encoding="utf-8")
    css = assets.joinpath("viewer.css").read_text(encoding="utf-8")
    template = assets.joinpath("viewer.html").read_text(encoding="utf-8")
    parts = {
        "title": escape(f"{data['name']} · archspec"),
        "css": css,
        "data": script_json(data),
        "script": script.replace("</", "<\\/"),
    }
    # One pass: a placeholder's text inside the data (a spec string) is never expanded.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m[1]], template)


def write_html(graph: nx.DiGraph, path: str | Path, *, detail: str = "block") -> Path:
    """Write the page of ``graph`` to ``path`` atomically."""
    path = Path(path)
    writable_target(path)
    atomic_write(path, html_page(graph, detail))
    return path
