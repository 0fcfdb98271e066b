"""Short human text for an op of the graph IR: ``conv 3×3/2, 128``, ``batch norm``.

Each op's label is its op table entry's (archspec/graph/ops/); an op whose parameters
do not fit its label is shown by its name and its scalar parameters, so a diagram never
fails on a label.

Example::

    op_text("conv", {"kernel": 3, "stride": 2, "out_channels": 128, "groups": 1})
    # 'conv 3×3/2, 128'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archspec.graph.ops import OPS, conv_text

__all__ = ["conv_text", "op_text", "shape_text"]

Params = dict[str, Any]


def _scalar(value: Any) -> bool:
    return isinstance(value, int | float | str | bool) or value is None


def op_text(op: str, params: Params) -> str:
    """One line describing an op and its settings."""
    known = OPS.get(op)
    if known is not None:
        try:
            return known.label(params)
        except (KeyError, TypeError, ValueError):
            pass  # a known op with other parameters than expected: fall back below
    shown = [f"{k}={v}" for k, v in sorted(params.items()) if _scalar(v) and v is not None][:3]
    return f"{op} {', '.join(shown)}".strip()


def shape_text(shape: Sequence[int]) -> str:
    """A tensor shape without the batch: ``256×56×56``."""
    return "×".join(str(d) for d in shape)
