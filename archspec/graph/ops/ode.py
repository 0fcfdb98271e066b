"""The op that closes an ODE stage: ``dx/dt = f(x)`` solved over [0, t] from the stage's
input, ``f`` being the branch lowered once just before it (``layerN.func``).

The graph keeps ``f``'s ops once, as one function evaluation; the costs multiply them by
the solver's evaluations (graph/stats.py). The built model replaces the stage by an
:class:`archspec.nn.ode.OdeStage` (codegen/torch_module.py), so this op's own call, one
Euler step over the whole interval, only runs in the flat view of the graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archspec.graph.ops.base import Op, Params, Shape, ShapeMismatch


def _shape(p: Params, ins: Sequence[Shape]) -> Shape:
    x, fx = ins
    if x != fx:
        raise ShapeMismatch(
            f"an ODE stage's branch must keep its input's shape: {x} becomes {fx}; put the "
            "change of shape in the stage's first block (stride or width)"
        )
    return x


def euler_once(x: Any, fx: Any, t: float) -> Any:
    """x + t·f(x): the flat graph's single evaluation of the branch."""
    return x + fx * t


def _call(p: Params, args: list[Any], inplace: bool) -> tuple[Any, tuple, dict]:
    return euler_once, (args[0], args[1], float(p["t"])), {}


def _label(p: Params) -> str:
    if p["evals"] is None:
        return f"ODE {p['solver']} t={p['t']:g}, rtol {p['rtol']:g} (evals: data-dependent)"
    return f"ODE {p['solver']} {p['steps']} steps, t={p['t']:g} ({p['evals']} evals)"


ODE = Op(
    shape=_shape,
    arity=2,
    call=_call,
    source=lambda p, s, args, inplace: f"{args[0]} + {args[1]} * {float(p['t'])!r}",
    label=_label,
    style={"shape": "doubleoctagon", "style": "filled", "fillcolor": "#e8d8ff"},
)
