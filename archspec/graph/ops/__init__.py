"""The op table: every primitive op of the graph IR, each defined once (a file per family).

An op's record (:class:`Op`) says how it transforms shapes, what it costs, which torch
module or function computes it, how standalone source writes it, how a diagram labels
and draws it and how its weights start. Every backend reads this table and nothing
else, so an op added here (or by a block type through :func:`register_op`) is built,
counted, drawn and emitted without a change anywhere else.

MACs count one multiply-add as one, over convolutions and linear layers only: the
convention of torchvision's published "GFLOPS" and of ``torch.utils.flop_counter``
(which reports 2 FLOPs per MAC). Ops that do arithmetic but are not counted under that
convention (norms, activations, pools, adds) are marked ``counted=False`` so reports can
say so instead of silently claiming zero.

Example::

    from archspec.graph.ops import OPS
    conv = OPS["conv"]
    p = {"in_channels": 64, "out_channels": 128, "kernel": 3, "stride": 2, "padding": 1,
         "groups": 1, "bias": False}
    conv.shape(p, [(64, 56, 56)])       # (128, 28, 28)
    conv.params(p, [(64, 56, 56)])      # 73728
    conv.label(p)                       # 'conv 3×3/2, 128'
"""

from __future__ import annotations

from archspec.errors import ArchSpecError
from archspec.graph.ops.act import ACT, ACTS
from archspec.graph.ops.attention import CHANNEL_CONV, CHANNEL_PART, SELECT
from archspec.graph.ops.base import Op, Params, Shape, ShapeMismatch
from archspec.graph.ops.conv import CONV, conv_text
from archspec.graph.ops.linear import DROPOUT, FLATTEN, LINEAR
from archspec.graph.ops.merge import ADD, CONCAT, INPUT, MERGE
from archspec.graph.ops.norm import NORM, NORMS
from archspec.graph.ops.ode import ODE, ODE_TIME, TIME_CONCAT
from archspec.graph.ops.pool import GLOBAL_POOL, POOL
from archspec.graph.ops.skip import DROP_PATH, GATE, PAD_SKIP, SCALE

__all__ = [
    "ACTS",
    "NORMS",
    "OPS",
    "Op",
    "Params",
    "Shape",
    "ShapeMismatch",
    "conv_text",
    "is_module",
    "register_op",
]

OPS: dict[str, Op] = {
    "input": INPUT,
    "conv": CONV,
    "norm": NORM,
    "act": ACT,
    "pool": POOL,
    "global_pool": GLOBAL_POOL,
    "flatten": FLATTEN,
    "linear": LINEAR,
    "dropout": DROPOUT,
    "add": ADD,
    "merge": MERGE,
    "concat": CONCAT,
    "pad_skip": PAD_SKIP,
    "gate": GATE,
    "scale": SCALE,
    "drop_path": DROP_PATH,
    "ode": ODE,
    "ode_time": ODE_TIME,
    "time_concat": TIME_CONCAT,
    "channel_conv": CHANNEL_CONV,
    "channel_part": CHANNEL_PART,
    "select": SELECT,
}


def is_module(op: str) -> bool:
    """Whether ``op`` becomes a torch module (with a path in the built model), not a call."""
    return OPS[op].module is not None


def register_op(name: str, op: Op) -> None:
    """Add an op kind (for block types that need a primitive the core lacks).

    The op must be complete: a module factory or a function call (one of the two), its
    source, label, style and init rule, as every built-in op has them.
    """
    if not isinstance(op, Op):
        raise ArchSpecError(f"op {name!r}: expected an archspec.graph.ops.Op, got {op!r}")
    if (op.module is None) == (op.call is None):
        raise ArchSpecError(f"op {name!r} needs a module factory or a function call, not both")
    if name in OPS and OPS[name] != op:
        raise ArchSpecError(f"op {name!r} is already registered")
    OPS[name] = op
