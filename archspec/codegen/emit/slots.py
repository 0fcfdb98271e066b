"""The places where a class's members differ, as its parameters: which parameter a
slot feeds, its type annotation, channel counts lifted into parameters, and runs of
children that step by a constant (written as one loop)."""

from __future__ import annotations

from typing import Any

from archspec.codegen.emit.templates import (
    Call,
    Const,
    Run,
    Seq,
    Slot,
    Step,
    render,
    structure,
    unify,
)

CHANNELS = {"in_channels", "out_channels", "num_features", "in_features", "out_features"}


def slot_contexts(tree: Any, out: dict[int, str], param: str = "") -> None:
    if isinstance(tree, Slot):
        out.setdefault(tree.index, param)
    elif isinstance(tree, Seq):
        for item in tree.items:
            slot_contexts(item, out, param)
    elif isinstance(tree, Call):
        for name, value in tree.params:
            slot_contexts(value, out, name)
    elif isinstance(tree, Step):
        slot_contexts(tree.first, out, param)
        slot_contexts(tree.step, out, f"{param}_step")
    elif isinstance(tree, Run):
        slot_contexts(tree.count, out, "num_layers")
        slot_contexts(tree.item, out, param)


def annotation(values: list[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    optional = " | None" if any(v is None for v in values) else ""
    if kinds == {bool}:
        return f"bool{optional}"
    if kinds == {type(None)} or not kinds:
        return "None"
    if kinds == {int}:
        return f"int{optional}"
    if kinds <= {int, float} and kinds:
        return f"float{optional}"
    if kinds == {tuple}:
        return f"tuple[int, ...]{optional}"
    if kinds == {str}:
        return f"str{optional}"
    return "object"


def lift(tree: Any, slots: list[list[Any]], features: list[dict[str, Any]]) -> Any:
    """``tree`` with the block's own channel counts as slots even where every member has
    the same ones: a class used once still takes its ``in_channels``, as a hand-written
    one does, rather than hard-coding them."""
    if isinstance(tree, Seq):
        return Seq(tuple(lift(t, slots, features) for t in tree.items))
    if not isinstance(tree, Call):
        return tree
    params = []
    for name, value in tree.params:
        # Only a torch layer's: a block class's own channels may agree by chance.
        own = tree.func.startswith("nn.") and name in CHANNELS
        if own and isinstance(value, Const) and type(value.value) is int:
            if any(
                all(m.get(f) == value.value for m in features)
                for f in ("in_channels", "out_channels")
            ):
                slots.append([value.value] * len(features))
                value = Slot(len(slots) - 1)
        else:
            value = lift(value, slots, features)
        params.append((name, value))
    return Call(tree.func, tuple(params), tree.positional, tree.defaults)


def progression(
    order: list[str], start: int, unified: dict[str, Any], flags: dict[str, str]
) -> tuple[int, str, str] | None:
    """Children ``k``, ``k+1``, ... from ``start`` built alike but for numbers that step by
    a constant (a dense stage's growing input channels), as ``(count, name with i,
    constructor with i)``; None for fewer than three."""
    if not order[start].isdigit():
        return None
    first = int(order[start])
    run: list[str] = []
    for child in order[start:]:
        if child != str(first + len(run)) or child in flags:
            break
        run.append(child)
    while len(run) >= 3:
        trees = [unified[c] for c in run]
        if len({repr(structure(t)) for t in trees}) == 1:
            local: list[list[Any]] = []
            merged = unify(trees, local)
            steps = [step(values) for values in local]
            if all(s is not None for s in steps):
                names = {k: s for k, s in enumerate(steps) if s is not None}
                name = "str(i)" if first == 0 else f"str({first} + i)"
                return len(run), name, render(merged, names)
        run.pop()
    return None


def step(values: list[Any]) -> str | None:
    """``a + d * i`` for ints stepping by a constant ``d``; None otherwise."""
    if not all(type(v) is int for v in values):
        return None
    first, step = values[0], values[1] - values[0]
    if any(v != first + step * i for i, v in enumerate(values)):
        return None
    term = "i" if step == 1 else f"{step} * i"
    return term if first == 0 else f"{first} + {term}"


def covers(known: list[Any], vector: tuple[Any, ...]) -> bool:
    """Whether a parameter of values ``known`` also serves a slot of values ``vector``:
    defined wherever the slot is, and equal there."""
    return all(v is None or (k is not None and k == v) for k, v in zip(known, vector, strict=True))


def renumber(tree: Any, mapping: dict[int, int]) -> Any:
    if isinstance(tree, Slot):
        return Slot(mapping[tree.index])
    if isinstance(tree, Seq):
        return Seq(tuple(renumber(t, mapping) for t in tree.items))
    if isinstance(tree, Call):
        params = tuple((k, renumber(v, mapping)) for k, v in tree.params)
        return Call(tree.func, params, tree.positional, tree.defaults)
    if isinstance(tree, Step):
        return Step(renumber(tree.first, mapping), renumber(tree.step, mapping))
    if isinstance(tree, Run):
        return Run(renumber(tree.count, mapping), renumber(tree.item, mapping))
    return tree
