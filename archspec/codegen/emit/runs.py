"""A dense stage's layers as one run: ``0``, ``1``, ... built alike but for input
channels that grow by a constant, read by a forward that feeds each layer the maps
before it and joins them all. Stages of different depths then differ only in numbers
(how many layers, where their channels start), so they share one class, as
torchvision's ``_DenseBlock(num_layers, ...)`` does, and the run is one loop in
``__init__`` and one in ``forward``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archspec.codegen.emit.embed import EmitError
from archspec.codegen.emit.forward import Forward, Stmt, renumber
from archspec.codegen.emit.statements import dense_loop
from archspec.codegen.emit.templates import Call, Const, Run, Seq, Slot, Step, structure, unify

RUN = "*"  # the run's key among a container's children: no module is named so


def collapsed(children: dict[str, Any], forward: Forward) -> tuple[dict[str, Any], Forward] | None:
    """``children`` with one :class:`Run` in place of its layers and ``forward`` with one
    ``layers`` statement in place of the loop; None if the container has no such run."""
    layers = [c for c in children if c.isdigit()]
    if len(layers) < 2 or layers != [str(i) for i in range(len(layers))]:
        return None
    if len({repr(structure(children[c])) for c in layers}) != 1:
        return None
    slots: list[list[Any]] = []
    try:
        item = unify([children[c] for c in layers], slots)
    except EmitError:
        return None
    steps = []
    for values in slots:
        if not all(type(v) is int for v in values):
            return None
        first, step = values[0], values[1] - values[0]
        if any(v != first + step * i for i, v in enumerate(values)):
            return None
        steps.append(Step(Const(first), Const(step)))
    loop = next(
        (
            (start, *found)
            for start in range(len(forward.stmts))
            if (found := dense_loop(forward, start, shortest=2)) is not None
        ),
        None,
    )
    if loop is None or loop[1] != len(layers):
        return None
    start, _, base, join = loop
    stmts = forward.stmts
    run = Stmt("layers", RUN, (base,), stmts[join].kwargs, stmts[join].out)
    out: dict[str, Any] = {}
    for name, tree in children.items():
        if name == layers[0]:
            out[RUN] = Run(Const(len(layers)), _fill(item, steps))
        elif name not in layers:
            out[name] = tree
    return out, renumber(forward, [*stmts[:start], run, *stmts[join + 1 :]])


def _fill(tree: Any, steps: list[Step]) -> Any:
    """``tree`` with its slots replaced by the steps they take along the run."""
    if isinstance(tree, Slot):
        return steps[tree.index]
    if isinstance(tree, Seq):
        return Seq(tuple(_fill(t, steps) for t in tree.items))
    if isinstance(tree, Call):
        return replace(tree, params=tuple((k, _fill(v, steps)) for k, v in tree.params))
    return tree
