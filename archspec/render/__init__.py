"""Diagrams of the graph IR: Graphviz source, SVG, PNG or PDF, a Mermaid flowchart
(:mod:`archspec.render.mermaid`) or an interactive HTML page (:mod:`archspec.render.html`)
at stage, block or layer detail (see :mod:`archspec.render.view` for what each shows).

Example::

    render_graph(archspec.lower("resnet50"), "resnet50.svg", detail="block")
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from archspec.render import draw
from archspec.render.draw import FORMATS as GRAPHVIZ_FORMATS
from archspec.render.draw import to_agraph, write
from archspec.render.view import DETAILS, View, build_view

__all__ = [
    "DETAILS",
    "FORMATS",
    "GRAPHVIZ_FORMATS",
    "View",
    "build_view",
    "output_format",
    "render_graph",
    "to_agraph",
]
FORMATS = (*GRAPHVIZ_FORMATS, "mmd", "html")


def output_format(path: str | Path) -> str:
    """The format a path's suffix asks for, any archspec draws; an ArchSpecError for any
    other suffix."""
    return draw.output_format(path, FORMATS)


def render_graph(graph: nx.DiGraph, path: str | Path, *, detail: str = "block") -> Path:
    """Draw ``graph`` to ``path`` (.svg, .png, .pdf, .dot, .mmd or .html) at ``detail``."""
    fmt = output_format(path)  # a bad suffix fails before any layout work
    if fmt == "mmd":
        from archspec.render.mermaid import write_mermaid

        return write_mermaid(build_view(graph, detail), path)
    if fmt == "html":
        from archspec.render.html import write_html

        return write_html(graph, path, detail=detail)
    return write(to_agraph(build_view(graph, detail)), path)
