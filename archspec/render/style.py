"""How diagrams look: Graphviz attributes per edge kind and per block type (an op's own
look is in its op table entry).

Every lookup has a fallback, so an op, skip kind or block type added later is drawn
plainly but correctly before anyone picks a colour for it.
"""

from __future__ import annotations

import zlib

from archspec.graph.ops import OPS

Attrs = dict[str, str]

FONT = "Helvetica"

GRAPH: Attrs = {
    "rankdir": "TB",
    "fontname": FONT,
    "labelloc": "t",
    "labeljust": "l",
    "nodesep": "0.25",
    "ranksep": "0.3",
    "newrank": "true",
}
NODE: Attrs = {"fontname": FONT, "fontsize": "10", "margin": "0.08,0.03", "height": "0.3"}
EDGE: Attrs = {"fontname": FONT, "fontsize": "8", "arrowsize": "0.6", "color": "#444444"}
CLUSTER: Attrs = {"style": "rounded", "color": "#bbbbbb", "fontsize": "10", "fontname": FONT}

_BOX = {"shape": "box", "style": "filled"}
_ROUNDED = {"shape": "box", "style": "rounded,filled"}

OP_FALLBACK: Attrs = {**_BOX, "fillcolor": "#ffffff"}

# Skip connections by kind; "main" and "gate" are the other edge roles.
EDGES: dict[str, Attrs] = {
    "main": {},
    "identity": {"color": "#666666", "style": "dashed"},
    "projection": {"color": "#1f77b4", "penwidth": "1.6"},
    "avgproj": {"color": "#17becf", "penwidth": "1.6"},
    "pad": {"color": "#e6550d", "style": "dashed", "penwidth": "1.4"},
    "gated": {"color": "#9467bd", "penwidth": "1.6", "arrowhead": "odot"},
    "sparse": {"color": "#9467bd", "style": "dotted", "penwidth": "1.6", "arrowhead": "odot"},
    "gate": {"color": "#9467bd", "style": "dashed", "arrowhead": "odot"},
    "concatenation": {"color": "#2ca02c", "penwidth": "1.6", "arrowhead": "diamond"},
}
EDGE_FALLBACK: Attrs = {"color": "#8c564b", "style": "dashed"}

SECTION: Attrs = {**_ROUNDED, "fillcolor": "#eeeeee"}
_BLOCK_COLOURS = ("#cfe2f3", "#d9ead3", "#fff2cc", "#fce5cd", "#d9d2e9", "#f4cccc", "#d0e0e3")


def op_attrs(op: str) -> Attrs:
    """An op's look: its op table entry's style (archspec/graph/ops/)."""
    found = OPS.get(op)
    return dict(found.style if found is not None else OP_FALLBACK)


def edge_attrs(kind: str) -> Attrs:
    return dict(EDGES.get(kind, EDGE_FALLBACK))


def edge_colour(kind: str) -> str:
    return edge_attrs(kind).get("color", EDGE["color"])


def block_attrs(kind: str) -> Attrs:
    """A colour per block type, stable across runs and machines (a CRC, not hash())."""
    colour = _BLOCK_COLOURS[zlib.crc32(kind.encode()) % len(_BLOCK_COLOURS)]
    return {**_ROUNDED, "fillcolor": colour}
