"""A :class:`~archspec.codegen.emit.forward.Forward` written as the body of ``forward``.

A value whose input dies at its statement takes over the input's name when that name is
generic (``x``, ``out``), as hand-written PyTorch reads: ``out = self.bn1(out)``,
``out += identity``. A call of a child that only some instances of the class have is
guarded (``if self.downsample is not None:``). A dense stage's layers, each reading all
the maps before it, become a loop, so the source stays linear in the stage's depth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from archspec.codegen.emit.forward import Child, Forward, Ref, Splat, Stmt, _refs
from archspec.codegen.emit.names import Namer, identifier


def expression(value: Any, local: dict[int, str], access: Callable[[str], str]) -> str:
    if isinstance(value, Ref):
        return local[value.id]
    if isinstance(value, Child):
        return access(value.path)
    if isinstance(value, Splat):
        return "*features"
    if isinstance(value, tuple) and value and value[0] in ("__list__", "__tuple__", "__dict__"):
        tag, *items = value
        if tag == "__dict__":
            inner = ", ".join(f"{k!r}: {expression(v, local, access)}" for k, v in items)
            return "{" + inner + "}"
        inner = ", ".join(expression(v, local, access) for v in items)
        if tag == "__list__":
            return f"[{inner}]"
        return f"({inner},)" if len(items) == 1 else f"({inner})"
    if isinstance(value, torch.dtype | torch.device | torch.memory_format):
        return f"torch.{str(value).removeprefix('torch.')}"
    return repr(value)


@dataclass
class Body:
    params: list[str]
    lines: list[str]


def _arguments(stmt: Stmt, local: dict[int, str], access: Callable[[str], str]) -> str:
    parts = [expression(a, local, access) for a in stmt.args]
    parts += [f"{k}={expression(v, local, access)}" for k, v in stmt.kwargs]
    return ", ".join(parts)


def _rhs(stmt: Stmt, forward: Forward, local: dict[int, str], access: Callable[[str], str]) -> str:
    if stmt.op == "module":
        return f"{access(stmt.target)}({_arguments(stmt, local, access)})"
    if stmt.op == "call":
        return f"{stmt.target}({_arguments(stmt, local, access)})"
    if stmt.op == "gather":
        dim = dict(stmt.kwargs).get("dim", 1)
        joined = f"torch.cat(features, {dim})"
        return (
            f"{joined} if len(features) > 1 else features[0]" if forward.gather_single else joined
        )
    a, b = (expression(v, local, access) for v in stmt.args[:2])
    if stmt.op in ("infix", "iadd"):
        return f"{a} {'+' if stmt.op == 'iadd' else stmt.target} {b}"
    if stmt.op == "getitem":
        return f"{a}[{b}]"
    rest = ", ".join(expression(v, local, access) for v in stmt.args[1:])
    return f"{a}.{stmt.target}({rest})"


def _base(stmt: Stmt) -> str:
    if stmt.op == "module":
        return identifier(stmt.target.rsplit(".", 1)[-1])
    if stmt.op == "call":
        return identifier(stmt.target.rsplit(".", 1)[-1])
    return {"getitem": "part", "gather": "x"}.get(stmt.op, "out")


def dense_loop(forward: Forward, start: int, shortest: int = 3) -> tuple[int, Ref, int] | None:
    """``(layers, the stage's input, index of the join)`` if the statements from
    ``start`` call children ``0``, ``1``, ... each on the input and every map before it,
    then join them all; None otherwise."""
    stmts = forward.stmts
    first = stmts[start]
    if first.op != "module" or first.target != "0" or len(first.args) != 1 or first.kwargs:
        return None
    base = first.args[0]
    outs: list[Ref] = []
    i = start
    while i < len(stmts) and stmts[i].op == "module" and stmts[i].target == str(len(outs)):
        if stmts[i].args != (base, *outs) or stmts[i].kwargs:
            return None
        outs.append(Ref(stmts[i].out))
        i += 1
    if len(outs) < shortest or i >= len(stmts):
        return None
    join = stmts[i]
    if join.target != "torch.cat" or join.args[:1] != (("__list__", base, *outs),):
        return None
    # Nothing else may read a layer's map: the loop keeps them only in its list.
    readers = [r for s in stmts[i + 1 :] for r in _refs((s.args, s.kwargs))]
    if set(outs) & {*readers, *_refs(forward.output)}:
        return None
    return len(outs), base, i


def write(
    forward: Forward,
    *,
    access: Callable[[str], str],
    optional: set[str],
    names: Namer,
    first_name: str,
    release: bool,
    to_input: frozenset[str] = frozenset(),
    layers: str = "",
) -> Body:
    """The parameters and the lines of ``forward``'s body; ``layers`` is how many layers
    a ``layers`` statement (a dense stage's run, see runs.py) loops over."""
    local: dict[int, str] = {}
    if forward.varargs:
        local[0] = "features"
        params = ["*features: torch.Tensor"]
    else:
        for i in range(forward.inputs):
            local[i] = "x" if i == 0 else names.new(f"x{i}")
        params = [f"{local[i]}: torch.Tensor" for i in range(forward.inputs)]
    names.used.update(local.values())
    stmts = forward.stmts

    def read(stmt: Stmt) -> list[Ref]:
        # An optional child that falls back to the input keeps the input alive.
        fallback = stmt.op == "module" and stmt.target.split(".")[0] in to_input
        return _refs((stmt.args, stmt.kwargs)) + ([Ref(0)] if fallback else [])

    last: dict[int, int] = {}
    for i, stmt in enumerate(stmts):
        for ref in read(stmt):
            last[ref.id] = i
    for ref in _refs(forward.output):
        last[ref.id] = len(stmts)

    lines: list[str] = []
    i = 0
    while i < len(stmts):
        loop: tuple[int | str, Ref, int] | None = dense_loop(forward, i)
        if stmts[i].op == "layers":
            loop = (layers, stmts[i].args[0], i)
        if loop is not None:
            count, base, join = loop
            lines += [
                f"features = [{local[base.id]}]",
                f"for i in range({count}):",
                "    features.append(getattr(self, str(i))(*features))",
            ]
            stmt = stmts[join]
            name = local[base.id] if last.get(base.id) == join else names.new(first_name)
            rest = [f"{k}={expression(v, local, access)}" for k, v in stmt.kwargs]
            lines.append(f"{name} = torch.cat({', '.join(['features', *rest])})")
            local[stmt.out] = name
            i = join + 1
            continue
        stmt = stmts[i]
        reads = list(dict.fromkeys(r.id for r in read(stmt)))
        dying = [r for r in reads if last.get(r) == i]
        target = stmt.args[0].id if stmt.args and isinstance(stmt.args[0], Ref) else None
        if stmt.op == "iadd" and target in dying:
            lines.append(f"{local[target]} += {expression(stmt.args[1], local, access)}")
            local[stmt.out] = local[target]
            taken = {local[target]}
        else:
            # Only a generic name passes to the next value: a name that says what a value
            # is (gate, downsample) must not end up on another value.
            generic = [r for r in dying if local[r] in ("x", first_name)]
            if generic:
                name = local[generic[0]]
            elif first_name not in names.used:
                name = names.new(first_name)
            else:
                name = names.new(_base(stmt))
            rhs = _rhs(stmt, forward, local, access)
            child = stmt.target.split(".")[0] if stmt.op == "module" else ""
            if child in optional:
                given = local[target] if target is not None else ""
                if child in to_input:
                    given = local[0]
                guard = f"if {access(child)} is not None"
                if name == given:
                    lines += [f"{guard}:", f"    {name} = {rhs}"]
                else:
                    lines.append(f"{name} = {rhs} if {access(child)} is not None else {given}")
            else:
                lines.append(f"{name} = {rhs}")
            local[stmt.out] = name
            taken = {name}
        if release:
            dead = [local[r] for r in dying if local[r] not in taken and local[r] != "features"]
            dead = list(dict.fromkeys(dead))
            for start in range(0, len(dead), 8):  # short lines: eight names a del
                lines.append(f"del {', '.join(dead[start : start + 8])}")
        i += 1
    lines.append(f"return {_returned(forward.output, local, access)}")
    return Body(params, lines)


def _returned(output: Any, local: dict[int, str], access: Callable[[str], str]) -> str:
    if isinstance(output, tuple) and output and output[0] == "__tuple__":
        return ", ".join(expression(v, local, access) for v in output[1:])
    return expression(output, local, access)
