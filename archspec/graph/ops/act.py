"""Activations: one op, ``act``, whose ``kind`` picks the function."""

from __future__ import annotations

from typing import Any

from archspec.graph.ops.base import Op, Params, ShapeMismatch, same

# kind -> (torch.nn class name, whether it takes inplace=)
ACTS: dict[str, tuple[str, bool]] = {
    "relu": ("ReLU", True),
    "relu6": ("ReLU6", True),
    "silu": ("SiLU", True),
    "gelu": ("GELU", False),
    "tanh": ("Tanh", False),
    "sigmoid": ("Sigmoid", False),
}


def _act(p: Params) -> tuple[str, bool]:
    found = ACTS.get(p["kind"])
    if found is None:
        raise ShapeMismatch(f"no activation {p['kind']!r}; known: {', '.join(ACTS)}")
    return found


def _module(p: Params, inplace: bool, in_shape: Any) -> Any:
    from torch import nn

    name, takes_inplace = _act(p)
    return getattr(nn, name)(inplace=inplace) if takes_inplace else getattr(nn, name)()


def _source(p: Params, in_shape: Any, args: Any, inplace: bool) -> str:
    name, takes_inplace = _act(p)
    return f"nn.{name}(inplace=True)" if takes_inplace and inplace else f"nn.{name}()"


ACT = Op(
    shape=lambda p, ins: (_act(p), same(p, ins))[1],
    module=_module,
    source=_source,
    label=lambda p: str(p["kind"]),
    style={"shape": "box", "style": "rounded,filled", "fillcolor": "#d9ead3"},
)
