"""Activations: one op, ``act``, whose ``kind`` picks the function.

A kind is a row of :data:`ACTS`: its torch.nn class, whether the class takes
``inplace=`` (codegen passes True only where nothing else reads the input), and the
settings it takes (the op's params -> the class's keyword arguments).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archspec.graph.ops.base import Op, Params, ShapeMismatch, kwargs_text, same

DEFAULT_SLOPE = 0.01  # torch.nn.LeakyReLU's


@dataclass(frozen=True)
class ActKind:
    cls: str
    inplace: bool
    # the op's params -> the constructor's keyword arguments
    settings: Callable[[Params], dict[str, Any]] = field(default=lambda p: {})
    label: Callable[[Params], str] | None = None


def _slope(p: Params) -> float:
    slope = p.get("slope")
    return DEFAULT_SLOPE if slope is None else float(slope)


ACTS: dict[str, ActKind] = {
    "relu": ActKind("ReLU", True),
    "relu6": ActKind("ReLU6", True),
    "silu": ActKind("SiLU", True),
    "gelu": ActKind("GELU", False),
    "tanh": ActKind("Tanh", False),
    "sigmoid": ActKind("Sigmoid", False),
    "leaky_relu": ActKind(
        "LeakyReLU",
        True,
        settings=lambda p: {"negative_slope": _slope(p)},
        label=lambda p: f"leaky_relu {_slope(p):g}",
    ),
    "hardswish": ActKind("Hardswish", True),
    "mish": ActKind("Mish", True),
    "elu": ActKind("ELU", True),
}


def _act(p: Params) -> ActKind:
    found = ACTS.get(p["kind"])
    if found is None:
        raise ShapeMismatch(f"no activation {p['kind']!r}; known: {', '.join(ACTS)}")
    return found


def _module(p: Params, inplace: bool, in_shape: Any) -> Any:
    from torch import nn

    kind = _act(p)
    kwargs = kind.settings(p)
    if kind.inplace:
        kwargs["inplace"] = inplace
    return getattr(nn, kind.cls)(**kwargs)


def _source(p: Params, in_shape: Any, args: Any, inplace: bool) -> str:
    kind = _act(p)
    kwargs = kind.settings(p)
    if kind.inplace and inplace:
        kwargs["inplace"] = True
    return f"nn.{kind.cls}({kwargs_text(**kwargs)})"


def _label(p: Params) -> str:
    kind = _act(p)
    return kind.label(p) if kind.label else str(p["kind"])


ACT = Op(
    shape=lambda p, ins: (_act(p), same(p, ins))[1],
    module=_module,
    source=_source,
    label=_label,
    style={"shape": "box", "style": "rounded,filled", "fillcolor": "#d9ead3"},
)
