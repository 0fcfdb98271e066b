"""A container's forward, read off its fx graph into a small statement list that can be
compared across containers (are two blocks the same code?) and written as Python the way
a person writes it (``out = self.bn1(out)``, ``out += identity``).

Values are numbered in order (the inputs first), so two forwards are the same code
exactly when their :attr:`Forward.key` is equal.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from torch import fx

from archspec.codegen.emit.embed import Embedder, EmitError


@dataclass(frozen=True)
class Ref:
    """A value: an input of the forward or a statement's result."""

    id: int


@dataclass(frozen=True)
class Child:
    """A child module handed to a function as a value (the checkpointed chain's)."""

    path: str


@dataclass(frozen=True)
class Splat:
    """All the forward's inputs, ``*features`` (a dense layer reads every map before it)."""


_INFIX: dict[Callable[..., Any], str] = {
    operator.add: "+",
    operator.sub: "-",
    operator.mul: "*",
    operator.truediv: "/",
    operator.matmul: "@",
}


@dataclass(frozen=True)
class Stmt:
    """``out = <op>``: ``module`` calls a child, ``call`` a function, ``iadd`` is
    ``a += b``, ``infix`` a binary operator, ``getitem`` ``a[i]``, ``method`` ``a.m()``,
    ``gather`` concatenates the inputs (``*features``)."""

    op: str
    target: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]
    out: int


@dataclass
class Forward:
    inputs: int
    stmts: list[Stmt]
    output: Any
    varargs: bool = False
    # A gather the forward of one input does not do (it has no concatenation).
    gather_single: bool = False
    key: tuple = field(init=False)

    def __post_init__(self) -> None:
        stmts = tuple((s.op, s.target, s.args, s.kwargs) for s in self.stmts)
        self.key = (self.inputs, self.varargs, stmts, self.output)


def _convert(value: Any, ids: dict[fx.Node, Any]) -> Any:
    if isinstance(value, fx.Node):
        return ids[value]
    if isinstance(value, tuple):
        return tuple(_convert(v, ids) for v in value)
    if isinstance(value, list):
        return [_convert(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _convert(v, ids) for k, v in value.items()}
    return value


def _freeze(value: Any) -> Any:
    """Lists and dicts as hashable tuples, tagged so they render back as they were."""
    if isinstance(value, list):
        return ("__list__", *(_freeze(v) for v in value))
    if isinstance(value, tuple):
        return ("__tuple__", *(_freeze(v) for v in value))
    if isinstance(value, dict):
        return ("__dict__", *((k, _freeze(v)) for k, v in value.items()))
    return value


def read(graph: fx.Graph, embedder: Embedder) -> Forward:
    """The statements of one container's forward."""
    ids: dict[fx.Node, Any] = {}
    stmts: list[Stmt] = []
    inputs = 0
    output: Any = None
    for node in graph.nodes:
        if node.op == "placeholder":
            ids[node] = Ref(inputs)
            inputs += 1
            continue
        if node.op == "get_attr":
            ids[node] = Child(str(node.target))
            continue
        if node.op == "output":
            output = _freeze(_convert(node.args[0], ids))
            continue
        args = tuple(_freeze(_convert(a, ids)) for a in node.args)
        kwargs = tuple((k, _freeze(_convert(v, ids))) for k, v in node.kwargs.items())
        out = inputs + len(stmts)
        if node.op == "call_module":
            stmt = Stmt("module", str(node.target), args, kwargs, out)
        elif node.op == "call_method":
            stmt = Stmt("method", str(node.target), args, kwargs, out)
        elif node.target is operator.iadd and len(args) == 2 and not kwargs:
            stmt = Stmt("iadd", "+=", args, (), out)
        elif node.target in _INFIX and len(args) == 2 and not kwargs:
            stmt = Stmt("infix", _INFIX[node.target], args, (), out)
        elif node.target is operator.getitem and not kwargs:
            stmt = Stmt("getitem", "", args, (), out)
        elif node.op == "call_function":
            stmt = Stmt("call", embedder.function(node.target), args, kwargs, out)
        else:
            raise EmitError(f"no source for fx node {node.op} {node.target}")
        ids[node] = Ref(out)
        stmts.append(stmt)
    return Forward(inputs, stmts, output)


# -- rewriting --------------------------------------------------------------------------


def _map(value: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(value, tuple):
        return tuple(_map(v, fn) for v in value)
    return fn(value)


def _refs(value: Any) -> list[Ref]:
    if isinstance(value, Ref):
        return [value]
    if isinstance(value, tuple):
        return [r for v in value for r in _refs(v)]
    return []


def renumber(forward: Forward, stmts: list[Stmt]) -> Forward:
    """``stmts`` with their values numbered afresh, after statements were removed or
    the inputs gathered (a varargs forward has one input, ``*features``)."""
    first = 1 if forward.varargs else forward.inputs
    new: dict[int, Any] = {i: Ref(i) for i in range(first)}

    def sub(value: Any) -> Any:
        return new[value.id] if isinstance(value, Ref) else value

    out: list[Stmt] = []
    for stmt in stmts:
        number = first + len(out)
        args, kwargs = _map(stmt.args, sub), _map(stmt.kwargs, sub)
        out.append(replace(stmt, args=args, kwargs=kwargs, out=number))
        new[stmt.out] = Ref(number)
    output = _map(forward.output, sub)
    return Forward(first, out, output, forward.varargs, forward.gather_single)


def without(
    forward: Forward, children: set[str], to_input: frozenset[str] = frozenset()
) -> Forward | None:
    """The forward with the calls of ``children`` left out, each call's result replaced by
    its input, or by the forward's input for those in ``to_input`` (a pre-activation
    block without its projection adds its raw input); None if such a call is not one
    module call of one input."""
    if to_input & children and (forward.varargs or forward.inputs != 1):
        return None
    keep: list[Stmt] = []
    alias: dict[int, Any] = {}

    def resolve(value: Any) -> Any:
        while isinstance(value, Ref) and value.id in alias:
            value = alias[value.id]
        return value

    for stmt in forward.stmts:
        stmt = replace(stmt, args=_map(stmt.args, resolve), kwargs=_map(stmt.kwargs, resolve))
        if stmt.op == "module" and stmt.target in children:
            if len(stmt.args) != 1 or stmt.kwargs or not isinstance(stmt.args[0], Ref):
                return None
            alias[stmt.out] = Ref(0) if stmt.target in to_input else stmt.args[0]
            continue
        if any(
            isinstance(v, Child) and v.path.split(".")[0] in children for v in leaves(stmt.args)
        ):
            return None
        keep.append(stmt)
    output = _map(forward.output, resolve)
    trimmed = Forward(forward.inputs, keep, output, forward.varargs, forward.gather_single)
    return renumber(trimmed, keep)


def fed(forward: Forward, mapping: tuple[int, ...]) -> Forward:
    """``forward`` with input ``i`` read from input ``mapping[i]`` of fewer: what a gate
    that reads the block's input twice computes with that input given once."""
    n = forward.inputs

    def sub(value: Any) -> Any:
        return Ref(mapping[value.id]) if isinstance(value, Ref) and value.id < n else value

    stmts = [replace(s, args=_map(s.args, sub), kwargs=_map(s.kwargs, sub)) for s in forward.stmts]
    base = Forward(max(mapping) + 1, stmts, _map(forward.output, sub))
    return renumber(base, stmts)


def hoisted(forward: Forward, children: set[str], mutates: Callable[[Stmt], bool]) -> Forward:
    """The calls of ``children`` moved up to just after the value they read, so the
    input they fall back to dies there (``x = self.downsample(out) if ... else x``).
    A call stays where it is if a statement it would pass changes a value it reads in
    place (``mutates``): moved, it would read the value before the change."""
    stmts = list(forward.stmts)
    for child in children:
        index = next(
            (i for i, s in enumerate(stmts) if s.op == "module" and s.target == child), None
        )
        if index is None:
            continue
        stmt = stmts.pop(index)
        reads = {r.id for r in _refs((stmt.args, stmt.kwargs))}
        at = max((i + 1 for i, s in enumerate(stmts[:index]) if s.out in reads), default=0)
        passed = stmts[at:index]
        if any(mutates(s) and reads & {r.id for r in _refs((s.args, s.kwargs))} for s in passed):
            at = index
        stmts.insert(at, stmt)
    return renumber(forward, stmts)


def leaves(value: Any) -> list[Any]:
    if isinstance(value, tuple):
        return [x for v in value for x in leaves(v)]
    return [value]


def gathered(forward: Forward) -> Forward | None:
    """The forward with its inputs taken as ``*features``: each input read once, all by
    one statement, in order, as the list ``torch.cat`` joins or as a call's last
    arguments. A forward of one input that joins nothing gets the join in front (one
    map joins to itself). None if the inputs are read otherwise."""
    n = forward.inputs
    inputs = [Ref(i) for i in range(n)]
    readers = [s for s in forward.stmts if any(r.id < n for r in _refs((s.args, s.kwargs)))]
    if len(readers) == 1:
        stmt = readers[0]
        args = stmt.args
        if stmt.target == "torch.cat" and args and args[0] == ("__list__", *inputs):
            joined = Stmt("gather", "torch.cat", (), stmt.kwargs, stmt.out)
            stmts = [joined if s is stmt else s for s in forward.stmts]
            return renumber(replace(forward, varargs=True), stmts)
        head, tail = args[: len(args) - n], tuple(args[len(args) - n :])
        plain = not stmt.kwargs and not any(r.id < n for r in _refs(head))
        if stmt.op == "call" and tail == tuple(inputs) and plain:
            spliced = replace(stmt, args=(*head, Splat()))
            stmts = [spliced if s is stmt else s for s in forward.stmts]
            return renumber(replace(forward, varargs=True), stmts)
    if n == 1:
        # The join's value takes a number no statement has; renumbering orders it first.
        def joined(value: Any) -> Any:
            return Ref(-1) if value == Ref(0) else value

        front = Stmt("gather", "torch.cat", (), (("dim", 1),), -1)
        moved = [
            replace(s, args=_map(s.args, joined), kwargs=_map(s.kwargs, joined))
            for s in forward.stmts
        ]
        base = Forward(1, [front, *moved], _map(forward.output, joined), True, True)
        return renumber(base, base.stmts)
    return None
