"""A :class:`~archspec.render.view.View` as a pygraphviz ``AGraph``, and the files made
from it: Graphviz source (``.dot``) or a laid-out drawing (``.svg``, ``.png``, ``.pdf``)
from the ``dot`` layout engine bundled with pygraphviz. Output files are written
atomically; the same graph gives the same bytes in dot and svg.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from html import escape
from pathlib import Path

import pygraphviz as pgv

from archspec.errors import ArchSpecError
from archspec.files import atomic_write, writable_target
from archspec.render import style
from archspec.render.view import View

FORMATS = ("svg", "png", "pdf", "dot")
MAX_LAYOUT_NODES = 10_000  # resnet1202 at layer detail has 4,209


def _title(view: View) -> str:
    """The graph label as Graphviz HTML: the name, the totals, a legend of edge kinds."""
    rows = [
        f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="16"><B>{escape(view.name)}</B></FONT></TD></TR>',
        f'<TR><TD ALIGN="LEFT">{escape(view.subtitle)}</TD></TR>',
    ]
    legend = [
        f'<FONT COLOR="{style.edge_colour(kind)}">━━ {escape(kind)}</FONT>'
        for kind in view.edge_kinds
    ]
    if legend:
        rows.append(f'<TR><TD ALIGN="LEFT">edges: {"   ".join(legend)}</TD></TR>')
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2">{"".join(rows)}</TABLE>>'


def _cluster_name(path: tuple[str, ...]) -> str:
    return "cluster_" + "__".join(path)


def to_agraph(view: View) -> pgv.AGraph:
    """The Graphviz graph of a view: nodes, nested clusters, styled edges, title."""
    agraph = pgv.AGraph(directed=True, strict=False, name=view.name)
    agraph.graph_attr.update(style.GRAPH)
    agraph.graph_attr["label"] = _title(view)
    agraph.node_attr.update(style.NODE)
    agraph.edge_attr.update(style.EDGE)

    subgraphs: dict[tuple[str, ...], pgv.AGraph] = {(): agraph}

    def cluster(path: tuple[str, ...]) -> pgv.AGraph:
        if path not in subgraphs:
            parent = cluster(path[:-1])
            sub = parent.add_subgraph(name=_cluster_name(path))
            sub.graph_attr.update(style.CLUSTER)
            sub.graph_attr["label"] = view.clusters.get(path, path[-1])
            subgraphs[path] = sub
        return subgraphs[path]

    for node in view.nodes:
        attrs = {**node.attrs, "label": node.label}
        if node.tooltip:
            attrs["tooltip"] = node.tooltip
        cluster(node.cluster).add_node(node.id, **attrs)
    for edge in view.edges:
        attrs = style.edge_attrs(edge.kind)
        if edge.label:
            attrs["label"] = edge.label
        if edge.side:
            attrs.update(tailport="e", headport="e")
        if not edge.constraint:
            attrs["constraint"] = "false"
        agraph.add_edge(edge.tail, edge.head, **attrs)  # a multigraph: skips run beside
    return agraph


def output_format(path: str | Path, formats: tuple[str, ...] = FORMATS) -> str:
    """The format a path's suffix asks for, one of ``formats`` (Graphviz's by default);
    an ArchSpecError for any other suffix."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in formats:
        raise ArchSpecError(
            f"{path}: cannot render to {'.' + suffix if suffix else 'a file without a suffix'}; "
            f"use one of {', '.join('.' + f for f in formats)}"
        )
    return suffix


def write(agraph: pgv.AGraph, path: str | Path) -> Path:
    """Write ``agraph`` to ``path`` in the format its suffix names, atomically: if
    anything fails, an existing file at ``path`` is left as it was."""
    path = Path(path)
    fmt = output_format(path)
    writable_target(path)  # before the layout, which can take a while
    if fmt == "dot":
        atomic_write(path, agraph.string())
        return path
    nodes = agraph.number_of_nodes()
    if nodes > MAX_LAYOUT_NODES:
        # Graphviz's dot layout takes minutes past a few thousand nodes and crashes the
        # process (a segmentation fault, not an error) on graphs of ~100,000.
        raise ArchSpecError(
            f"{path}: {nodes:,} nodes are too many to lay out (at most "
            f"{MAX_LAYOUT_NODES:,}); draw at block or stage detail, or write .dot (no layout)"
        )
    try:
        # Laid out into memory, and written by Python: Graphviz writing a file itself
        # ends the whole process when the write fails (a full disk).
        with _quiet_fontconfig():
            data = agraph.draw(format=fmt, prog="dot")
    except (OSError, ValueError) as exc:
        raise ArchSpecError(f"{path}: Graphviz could not draw it: {exc}") from None
    atomic_write(path, data)
    return path


@contextlib.contextmanager
def _quiet_fontconfig() -> Iterator[None]:
    """Drop the "Fontconfig warning/error" lines that the fontconfig library bundled with
    the pygraphviz wheel prints straight to file descriptor 2 when the system's font
    configuration is newer than it or missing (fonts fall back either way); anything else
    written there is passed on."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (captured, closed)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            capture.seek(0)
            kept = [
                line
                for line in capture.read().splitlines(keepends=True)
                if not line.startswith(b"Fontconfig ")
            ]
            if kept:
                os.write(fd, b"".join(kept))
