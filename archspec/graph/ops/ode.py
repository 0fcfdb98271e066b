"""The op that closes an ODE stage: ``dx/dt = f(x)`` solved over [0, t] from the stage's
input, ``f`` being the branch lowered once just before it (``layerN.func``).

The graph keeps ``f``'s ops once, as one function evaluation; the costs multiply them by
the solver's evaluations (graph/stats.py). The built model replaces the stage by an
:class:`archspec.nn.ode.OdeStage` (codegen/torch_module.py), so this op's own call, one
Euler step over the whole interval, only runs in the flat view of the graph.

With ``time_channel`` (Chen et al.'s ``ConcatConv2d``), the stage holds an ``ode_time``
op, the time t at which f is evaluated (0 in the flat view; the solver's t in the built
stage), and every conv of f reads its input with t broadcast as one more channel, first,
through a ``time_concat`` op, so the conv's weight has ``in_channels + 1`` inputs.
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
    time = ", f(t, x)" if p.get("time_channel") else ""
    if p["evals"] is None:
        return f"ODE {p['solver']} t={p['t']:g}, rtol {p['rtol']:g} (evals: data-dependent){time}"
    return f"ODE {p['solver']} {p['steps']} steps, t={p['t']:g} ({p['evals']} evals){time}"


ODE = Op(
    shape=_shape,
    arity=2,
    call=_call,
    source=lambda p, s, args, inplace: f"{args[0]} + {args[1]} * {float(p['t'])!r}",
    label=_label,
    style={"shape": "doubleoctagon", "style": "filled", "fillcolor": "#e8d8ff"},
)


def _time_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    return (1,)  # one number per sample: t


def zero_time(x: Any) -> Any:
    """t = 0 for every sample, where the flat graph evaluates f once."""
    return x.new_zeros(x.shape[0], 1)


def _time_concat_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    h, t = ins
    if len(h) < 2 or t != (1,):
        raise ShapeMismatch(f"t joins a feature map as one more channel, not {h} and {t}")
    return (h[0] + 1, *h[1:])


def _time_concat_call(p: Params, args: list[Any], inplace: bool) -> tuple[Any, tuple, dict]:
    from archspec.nn.ode import time_concat  # torch's, so TorchScript compiles it

    return time_concat, (args[0], args[1]), {}


ODE_TIME = Op(
    shape=_time_shape,
    counted=True,  # no arithmetic
    call=lambda p, args, inplace: (zero_time, (args[0],), {}),
    source=lambda p, s, args, inplace: f"{args[0]}.new_zeros({args[0]}.shape[0], 1)",
    label=lambda p: "t",
    style={"shape": "box", "style": "rounded,filled", "fillcolor": "#e8d8ff"},
)

TIME_CONCAT = Op(
    shape=_time_concat_shape,
    arity=2,
    counted=True,  # copies, no arithmetic
    call=_time_concat_call,
    source=lambda p, s, args, inplace: (
        f"torch.cat([torch.ones_like({args[0]}[:, :1]) * torch.as_tensor({args[1]}, "
        f"dtype={args[0]}.dtype, device={args[0]}.device).reshape(-1, "
        f"*(1,) * ({args[0]}.dim() - 1)), {args[0]}], 1)"
    ),
    label=lambda p: "concat t",
    style={"shape": "circle", "style": "filled", "fillcolor": "#e8d8ff", "width": "0.45"},
)
