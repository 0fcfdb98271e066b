"""A :class:`~archspec.render.view.View` as a Mermaid flowchart, the diagram language that
Markdown pages on GitHub (and GitLab, mkdocs-material, Obsidian, ...) render in place.

The nodes, clusters and edges are the view's, so a ``.mmd`` shows what the Graphviz
drawing at the same detail shows: runs of identical blocks as one node (``×N``), skip
connections as edges of their own, labelled with their kind and coloured as in the
Graphviz legend. Every label is written as Mermaid entity codes outside a small set of
plain characters, so no name can end a label, start markup or inject a directive.

Example::

    text = to_mermaid(build_view(archspec.lower("resnet20"), "block"))
    text.splitlines()[0]          # 'flowchart TB'
"""

from __future__ import annotations

from pathlib import Path

from archspec.errors import ArchSpecError
from archspec.files import atomic_write, writable_target
from archspec.render import style
from archspec.render.view import View, ViewNode

# GitHub renders a Mermaid diagram of at most 50,000 characters and 500 edges (Mermaid's
# own defaults, maxTextSize and maxEdges); past that the page shows an error instead.
MAX_TEXT = 50_000
MAX_EDGES = 500
_PLAIN = frozenset(" .,:_-–+=/×→·…∥()")
# Mermaid's arrow per edge role: skips dotted, dense connectivity thick, data flow plain.
_ARROWS = {"main": "-->", "concatenation": "==>"}
_SKIP_ARROW = "-.->"


def mermaid_text(text: str) -> str:
    """``text`` for inside a quoted Mermaid label: letters, digits and a few plain
    characters as they are, a newline as ``<br>``, anything else as ``#NNN;``, which
    Mermaid turns back into the character (shown, never parsed as markup).

    Example::

        mermaid_text('a "b"\\n<c>')   # 'a #34;b#34;<br>#60;c#62;'
    """
    out = []
    for char in text:
        if char == "\n":
            out.append("<br>")
        elif char.isalnum() or char in _PLAIN:
            out.append(char)
        else:
            out.append(f"#{ord(char)};")
    return "".join(out)


def _shape(node_id: str, label: str, attrs: style.Attrs) -> str:
    text = mermaid_text(label)
    if attrs.get("shape") == "circle":
        return f'{node_id}(("{text}"))'
    if "rounded" in attrs.get("style", ""):
        return f'{node_id}("{text}")'
    return f'{node_id}["{text}"]'


def _colour(value: str) -> str:
    """A Graphviz colour as CSS, or a neutral one: only ``#rrggbb`` is passed through."""
    ok = (
        len(value) == 7
        and value[0] == "#"
        and all(c in "0123456789abcdefABCDEF" for c in value[1:])
    )
    return value if ok else "#ffffff"


def to_mermaid(view: View) -> str:
    """The Mermaid flowchart source of ``view``."""
    ids = {node.id: f"n{i}" for i, node in enumerate(view.nodes)}
    cluster_ids = {path: f"c{i}" for i, path in enumerate(view.clusters)}
    lines = [
        "flowchart TB",
        f"%% {mermaid_text(view.name)}: {mermaid_text(view.subtitle)}",
    ]
    # Nodes inside their (nested) clusters, each cluster written once, in the order its
    # first node comes (Mermaid would read a second "subgraph" of the same id as a move).
    tree: dict[tuple[str, ...], list[tuple[str, object]]] = {(): []}
    for node in view.nodes:
        for depth in range(len(node.cluster)):
            sub = node.cluster[: depth + 1]
            if sub not in tree:
                tree[sub] = []
                tree[sub[:-1]].append(("cluster", sub))
        tree[node.cluster].append(("node", node))
    fills: dict[str, str] = {}

    def emit(path: tuple[str, ...], depth: int) -> None:
        pad = "  " * (depth + 1)
        for what, item in tree[path]:
            if what == "cluster":
                assert isinstance(item, tuple)
                title = mermaid_text(view.clusters.get(item, item[-1]))
                sid = cluster_ids.setdefault(item, f"c{len(cluster_ids)}")
                lines.append(f'{pad}subgraph {sid}["{title}"]')
                emit(item, depth + 1)
                lines.append(f"{pad}end")
                continue
            assert isinstance(item, ViewNode)
            fill = _colour(item.attrs.get("fillcolor", "#ffffff"))
            cls = fills.setdefault(fill, f"f{len(fills)}")
            if item.attrs.get("peripheries") == "2":
                cls += ",run"
            lines.append(f"{pad}{_shape(ids[item.id], item.label, item.attrs)}")
            lines.append(f"{pad}class {ids[item.id]} {cls}")

    emit((), 0)

    link_styles = []
    for i, edge in enumerate(view.edges):
        arrow = _ARROWS.get(edge.kind, _SKIP_ARROW)
        label = edge.label if edge.kind == "main" else edge.kind
        text = f'|"{mermaid_text(label)}"|' if label else ""
        lines.append(f"  {ids[edge.tail]} {arrow}{text} {ids[edge.head]}")
        if edge.kind != "main":
            link_styles.append(f"  linkStyle {i} stroke:{_colour(style.edge_colour(edge.kind))}")
    lines.extend(link_styles)
    for fill, cls in fills.items():
        lines.append(f"  classDef {cls} fill:{fill},stroke:#555555,color:#000000")
    lines.append("  classDef run stroke-width:3px")
    return "\n".join(lines) + "\n"


def write_mermaid(view: View, path: str | Path) -> Path:
    """Write ``view`` as Mermaid to ``path`` atomically; an ArchSpecError if it is larger
    than GitHub (Mermaid's defaults) renders."""
    path = Path(path)
    writable_target(path)
    text = to_mermaid(view)
    if len(text) > MAX_TEXT or len(view.edges) > MAX_EDGES:
        raise ArchSpecError(
            f"{path}: {len(view.nodes):,} nodes and {len(view.edges):,} edges "
            f"({len(text):,} characters) are more than Mermaid renders (at most "
            f"{MAX_EDGES} edges and {MAX_TEXT:,} characters); use --detail block or stage"
        )
    atomic_write(path, text)
    return path
