"""Ops that join values: the network's input, sums, the residual merge, concatenation."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from archspec.graph.ops.base import Op, Params, Shape, ShapeMismatch, same

_MERGE = {"shape": "circle", "style": "filled", "width": "0.3", "fixedsize": "true"}


def _sum_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    if len(set(ins)) != 1:
        shapes = " vs ".join(str(s) for s in ins)
        raise ShapeMismatch(f"cannot add tensors of shapes {shapes}")
    return ins[0]


def _sum_call(p: Params, args: list[Any], inplace: bool) -> tuple[Any, tuple, dict]:
    # In place like torchvision's `out += identity`, where the codegen says nothing else
    # reads the first operand.
    return (operator.iadd if inplace else operator.add), tuple(args), {}


def _sum_source(p: Params, s: Shape, args: Sequence[str], inplace: bool) -> str:
    return f"{args[0]} += {args[1]}" if inplace else " + ".join(args)


def _concat_shape(p: Params, ins: Sequence[Shape]) -> Shape:
    rest = {s[1:] for s in ins}
    if len(rest) != 1:
        shapes = " vs ".join(str(s) for s in ins)
        raise ShapeMismatch(f"cannot concatenate along channels tensors of shapes {shapes}")
    return (sum(s[0] for s in ins), *ins[0][1:])


def _concat_call(p: Params, args: list[Any], inplace: bool) -> tuple[Any, tuple, dict]:
    import torch

    return torch.cat, (list(args),), {"dim": 1}


INPUT = Op(
    shape=same,
    counted=True,
    source=lambda p, s, args, inplace: "x",
    label=lambda p: "input",
    style={"shape": "box", "style": "rounded,filled", "fillcolor": "#eeeeee"},
)

ADD = Op(
    shape=_sum_shape,
    arity=0,
    call=_sum_call,
    source=_sum_source,
    label=lambda p: "+",
    style={**_MERGE, "fillcolor": "#ffffff"},
)

# The residual merge of a block, main + skip: a sum of exactly two, but its own op, so
# that a sum inside a block's branch is never taken for a skip connection.
MERGE = replace(ADD, arity=2)

CONCAT = Op(
    shape=_concat_shape,
    arity=0,
    counted=True,  # copies, no arithmetic
    call=_concat_call,
    source=lambda p, s, args, inplace: f"torch.cat([{', '.join(args)}], 1)",
    label=lambda p: "concat",
    style={**_MERGE, "fillcolor": "#d9ead3", "width": "0.45"},
)
