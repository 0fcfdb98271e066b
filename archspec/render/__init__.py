"""Diagrams of the graph IR: Graphviz source, SVG, PNG or PDF at stage, block or layer
detail (see :mod:`archspec.render.view` for what each shows).

Example::

    render_graph(archspec.lower("resnet50"), "resnet50.svg", detail="block")
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from archspec.render.draw import FORMATS, output_format, to_agraph, write
from archspec.render.view import DETAILS, View, build_view

__all__ = ["DETAILS", "FORMATS", "View", "build_view", "render_graph", "to_agraph"]


def render_graph(graph: nx.DiGraph, path: str | Path, *, detail: str = "block") -> Path:
    """Draw ``graph`` to ``path`` (.svg, .png, .pdf or .dot) at ``detail``."""
    output_format(path)  # a bad suffix fails before any layout work
    return write(to_agraph(build_view(graph, detail)), path)
