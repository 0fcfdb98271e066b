"""Short human text for an op of the graph IR: ``conv 3×3/2, 128``, ``batch norm``.

Ops this module knows get a compact description; any other op (a block type's own
primitive) is shown by its name and its scalar parameters, so a new op is readable in
a diagram without a change here.

Example::

    op_text("conv", {"kernel": 3, "stride": 2, "out_channels": 128, "groups": 1})
    # 'conv 3×3/2, 128'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Params = dict[str, Any]


def _stride(p: Params) -> str:
    return f"/{p['stride']}" if p.get("stride", 1) != 1 else ""


def _conv(p: Params) -> str:
    k = p["kernel"]
    groups = f", groups {p['groups']}" if p.get("groups", 1) != 1 else ""
    return f"conv {k}×{k}{_stride(p)}, {p['out_channels']}{groups}"


def conv_text(p: Params) -> str:
    """A conv in a few characters: ``3×3/2 128``."""
    k = p["kernel"]
    groups = f" g{p['groups']}" if p.get("groups", 1) != 1 else ""
    return f"{k}×{k}{_stride(p)} {p['out_channels']}{groups}"


def _pool(p: Params) -> str:
    k = p["kernel"]
    return f"{p['kind']} pool {k}×{k}{_stride(p)}"


_TEXT: dict[str, Callable[[Params], str]] = {
    "conv": _conv,
    "norm": lambda p: f"{p['kind']} norm",
    "act": lambda p: str(p["kind"]),
    "pool": _pool,
    "global_pool": lambda p: f"global {p['kind']} pool",
    "linear": lambda p: f"linear {p['in_features']}→{p['out_features']}",
    "dropout": lambda p: f"dropout {p['p']:g}",
    "flatten": lambda p: "flatten",
    "add": lambda p: "+",
    "merge": lambda p: "+",
    "concat": lambda p: "concat",
    "pad_skip": lambda p: f"pad skip{_stride(p)} → {p['out_channels']}",
    "input": lambda p: "input",
}


def _scalar(value: Any) -> bool:
    return isinstance(value, int | float | str | bool) or value is None


def op_text(op: str, params: Params) -> str:
    """One line describing an op and its settings."""
    known = _TEXT.get(op)
    if known is not None:
        try:
            return known(params)
        except (KeyError, TypeError):
            pass  # a known op with other parameters than expected: fall back below
    shown = [f"{k}={v}" for k, v in sorted(params.items()) if _scalar(v) and v is not None][:3]
    return f"{op} {', '.join(shown)}".strip()


def shape_text(shape: Sequence[int]) -> str:
    """A tensor shape without the batch: ``256×56×56``."""
    return "×".join(str(d) for d in shape)
