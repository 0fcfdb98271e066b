"""Constructor expressions as small trees that can be unified across instances: where two
blocks' ``nn.Conv2d(64, 64, ...)`` and ``nn.Conv2d(64, 128, ..., stride=2)`` differ only
in numbers, the class takes those numbers as parameters.

A call is bound to its callee's signature (defaults filled in), so a keyword one
instance leaves at its default and another sets still lines up; written back, keywords
at their default are left out again.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from typing import Any

from archspec.codegen.emit.embed import EmitError


@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(frozen=True)
class Raw:
    """An expression that is not a call or a literal, compared as text."""

    text: str


@dataclass(frozen=True)
class Seq:
    """A callee's ``*args`` (``nn.Sequential``'s modules)."""

    items: tuple[Any, ...]


@dataclass(frozen=True)
class Call:
    func: str
    params: tuple[tuple[str, Any], ...]  # every parameter of the signature, in order
    positional: int  # how many the source gives by position
    defaults: tuple[tuple[str, Any], ...]  # the signature's literal defaults


@dataclass(frozen=True)
class Step:
    """``first + step * i``: a number that grows along a run of children."""

    first: Any
    step: Any


@dataclass(frozen=True)
class Run:
    """``count`` children ``0`` to ``count - 1``, child ``i`` built as ``item`` (its
    :class:`Step` numbers taken at ``i``): a dense stage's layers."""

    count: Any
    item: Any


@dataclass(frozen=True)
class Slot:
    """A place where instances differ: it becomes a parameter of the class."""

    index: int


def _signature(func: str, namespace: dict[str, Any]) -> inspect.Signature | None:
    try:
        target = eval(func, dict(namespace))  # a name or attribute this emitter wrote
    except Exception:
        return None
    if isinstance(target, inspect.Signature):
        return target
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


def parse(source: str, namespace: dict[str, Any]) -> Any:
    """The tree of a constructor expression (``nn.Conv2d(64, 128, kernel_size=3)``)."""
    try:
        node = ast.parse(source, mode="eval").body
    except SyntaxError as err:
        raise EmitError(f"cannot write {source!r} as source: {err.msg}") from None
    return _tree(node, namespace)


def _tree(node: ast.AST, namespace: dict[str, Any]) -> Any:
    try:
        return Const(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if isinstance(node, ast.Call) and not any(isinstance(a, ast.Starred) for a in node.args):
        func = ast.unparse(node.func)
        args = [_tree(a, namespace) for a in node.args]
        kwargs = {k.arg: _tree(k.value, namespace) for k in node.keywords if k.arg}
        signature = _signature(func, namespace)
        if signature is not None and len(kwargs) == len(node.keywords):
            return bind(func, signature, args, kwargs)
    return Raw(ast.unparse(node))


def bind(func: str, signature: inspect.Signature, args: list[Any], kwargs: dict[str, Any]) -> Any:
    params = [p for p in signature.parameters.values() if p.name != "self"]
    bound: list[tuple[str, Any]] = []
    defaults: list[tuple[str, Any]] = []
    rest = list(args)
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            bound.append((p.name, Seq(tuple(rest))))
            rest = []
            continue
        if p.kind is p.VAR_KEYWORD:
            continue
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and rest:
            bound.append((p.name, rest.pop(0)))
        elif p.name in kwargs:
            bound.append((p.name, kwargs.pop(p.name)))
        elif p.default is not p.empty and _literal(p.default):
            bound.append((p.name, Const(p.default)))
        else:
            return Raw(f"{func}(...)")  # a required argument missing: not ours to bind
        if p.default is not p.empty and _literal(p.default):
            defaults.append((p.name, p.default))
    if rest or kwargs:
        return Raw(f"{func}(...)")
    return Call(func, tuple(bound), len(args), tuple(defaults))


def _literal(value: Any) -> bool:
    return isinstance(value, int | float | str | bool | tuple) or value is None


def structure(tree: Any) -> Any:
    """The tree with every literal blanked: two trees unify when their structures agree."""
    if isinstance(tree, Const):
        return Const(None)
    if isinstance(tree, Seq):
        return Seq(tuple(structure(t) for t in tree.items))
    if isinstance(tree, Call):
        return (tree.func, tuple((k, structure(v)) for k, v in tree.params), tree.positional)
    if isinstance(tree, Step):
        return Step(structure(tree.first), structure(tree.step))
    if isinstance(tree, Run):
        return Run(structure(tree.count), structure(tree.item))
    return tree


def unify(trees: list[Any], slots: list[list[Any]]) -> Any:
    """One tree for ``trees`` (their structures agree), a :class:`Slot` wherever their
    literals differ; ``slots[i]`` gets the values of slot ``i``, one per tree."""
    first = trees[0]
    if all(t == first for t in trees):
        return first
    if isinstance(first, Const):
        slots.append([t.value for t in trees])
        return Slot(len(slots) - 1)
    if isinstance(first, Seq):
        items = [unify([t.items[i] for t in trees], slots) for i in range(len(first.items))]
        return Seq(tuple(items))
    if isinstance(first, Call):
        params = tuple(
            (name, unify([dict(t.params)[name] for t in trees], slots)) for name, _ in first.params
        )
        return Call(first.func, params, first.positional, first.defaults)
    if isinstance(first, Step):
        return Step(unify([t.first for t in trees], slots), unify([t.step for t in trees], slots))
    if isinstance(first, Run):
        return Run(unify([t.count for t in trees], slots), unify([t.item for t in trees], slots))
    raise EmitError(f"instances differ in {first!r}")  # structures were checked equal


def render(tree: Any, names: dict[int, str]) -> str:
    """Source for a (unified) tree, ``names[i]`` standing for slot ``i``."""
    if isinstance(tree, Const):
        return repr(tree.value)
    if isinstance(tree, Raw):
        return tree.text
    if isinstance(tree, Slot):
        return names[tree.index]
    if isinstance(tree, Step):
        first, step = render(tree.first, names), render(tree.step, names)
        term = "i" if step == "1" else f"{step} * i"
        return term if first == "0" else f"{first} + {term}"
    if isinstance(tree, Seq):
        return ", ".join(_runs([render(t, names) for t in tree.items]))
    if isinstance(tree, Call):
        defaults = dict(tree.defaults)
        parts = []
        for i, (name, value) in enumerate(tree.params):
            text = render(value, names)
            if isinstance(value, Seq):
                if text:
                    parts.append(text)
            elif i < tree.positional:
                parts.append(text)
            elif not (
                isinstance(value, Const) and name in defaults and _same(value.value, defaults[name])
            ):
                parts.append(f"{name}={text}")
        return f"{tree.func}({', '.join(parts)})"
    raise EmitError(f"cannot write {tree!r} as source")


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _runs(items: list[str]) -> list[str]:
    """Runs of three or more identical modules as one ``*(... for _ in range(n))``."""
    out: list[str] = []
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and items[j] == items[i]:
            j += 1
        if j - i >= 3:
            out.append(f"*({items[i]} for _ in range({j - i}))")
        else:
            out.extend(items[i:j])
        i = j
    return out
