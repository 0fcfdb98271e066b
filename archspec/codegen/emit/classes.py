"""One parameterised class per kind of container: every block of a kind shares one class
(``BasicBlock(in_channels, out_channels, stride, downsample=False)``), its numbers
parameters, a child that only some blocks have an optional one. A part built differently
from block to block (resnet50d's pooled projection, a CSP stage's run of blocks) is
passed in ready-made (``downsample: nn.Module | None = None``), a pre-activation block
without its projection adds its raw input, a highway gate given its skip once is given
it twice, and a dense stage's layers are one run of ``num_layers`` (runs.py). Blocks that
still cannot share code (another forward, another layer layout) get a class of their own
(``BasicBlock2``).

Containers are resolved deepest first, so a block's class is known when its stage's
constructor is written. The work is linear in the number of containers: each is read
once and compared with its class's reference instance.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from archspec.codegen.emit.forward import Forward, fed, gathered, hoisted, without
from archspec.codegen.emit.modules import child_access, composite, mutates, unmovable
from archspec.codegen.emit.names import Namer, attribute, identifier
from archspec.codegen.emit.runs import RUN, collapsed
from archspec.codegen.emit.slots import (
    CHANNELS,
    annotation,
    covers,
    lift,
    progression,
    renumber,
    slot_contexts,
)
from archspec.codegen.emit.statements import write
from archspec.codegen.emit.templates import Call, Const, Slot, render, structure, unify


@dataclass
class Member:
    """One container: its path, forward, children's constructors and measured shapes."""

    path: str
    module: nn.Module
    forward: Forward
    children: dict[str, Any]
    features: dict[str, Any]
    # Set when the member takes more inputs than its parent gives it: the parent then
    # passes argument ``widened[i]`` as input ``i`` (a skip given twice).
    widened: tuple[int, ...] | None = None


@dataclass
class Variant:
    members: list[Member]
    ref: Member  # a member that has every child any member has
    structs: dict[str, Any] = field(default_factory=dict)
    # Children whose absence leaves the skip reading the block's input (see without()).
    to_input: frozenset[str] = frozenset()


@dataclass
class ClassDef:
    name: str
    source: str
    calls: dict[str, Call]  # member path -> its constructor call


def _fits(variant: Variant, member: Member, loose: set[str]) -> frozenset[str] | None:
    """The variant's ``to_input`` set with ``member`` in it, or None if it does not fit."""
    for child, tree in member.children.items():
        known = variant.structs.get(child)
        if known is not None and known != structure(tree) and child not in loose:
            return None
    union = set(variant.ref.children) | set(member.children)
    ref, others = variant.ref, [member]
    if not set(variant.ref.children) >= union:
        if not set(member.children) >= union:
            return None
        ref, others = member, variant.members
    # First as the variant reads its skips, then with a missing child's skip read from
    # the block's input (a pre-activation block without its projection).
    for to_input in (variant.to_input, variant.to_input | frozenset(loose)):
        if all(_specializes(ref, m, to_input) for m in others):
            return to_input
    return None


def _specializes(ref: Member, member: Member, to_input: frozenset[str]) -> bool:
    """Whether ``member``'s forward is ``ref``'s without the children it lacks."""
    missing = set(ref.children) - set(member.children)
    if not missing:
        return ref.forward.key == member.forward.key
    trimmed = without(ref.forward, missing, to_input)
    return trimmed is not None and trimmed.key == member.forward.key


def _add(variant: Variant, member: Member, to_input: frozenset[str]) -> None:
    variant.members.append(member)
    variant.to_input = to_input
    if len(member.children) > len(variant.ref.children):
        variant.ref = member
    for child, tree in member.children.items():
        variant.structs.setdefault(child, structure(tree))


def _gather_if_needed(members: list[Member]) -> None:
    # A dense layer reads every map before it: its inputs differ in number from layer to
    # layer, so the class takes them as *features.
    if len({m.forward.inputs for m in members}) == 1:
        return
    forwards = [gathered(m.forward) for m in members]
    if all(f is not None for f in forwards):
        single = any(f.gather_single for f in forwards if f is not None)
        for m, f in zip(members, forwards, strict=True):
            assert f is not None
            f.gather_single = single
            m.forward = f


def _widen_if_needed(members: list[Member], can_widen: Callable[[str, int], bool]) -> None:
    # A highway gate reads the block's input as x and as its skip; where a projection
    # makes the skip another value it takes one input more. The gate of fewer inputs
    # is the same code given one of them twice, if its parent can say so.
    counts = {m.forward.inputs for m in members}
    if len(counts) == 1 or any(m.forward.varargs for m in members) or max(counts) > 4:
        return
    ref = next(m.forward for m in members if m.forward.inputs == max(counts))
    found: dict[tuple, tuple[int, ...] | None] = {}
    for member in members:
        fewer = member.forward.inputs
        if fewer == ref.inputs or not can_widen(member.path, fewer):
            continue
        if member.forward.key not in found:
            maps = itertools.product(range(fewer), repeat=ref.inputs)
            found[member.forward.key] = next(
                (
                    f
                    for f in maps
                    if set(f) == set(range(fewer)) and fed(ref, f).key == member.forward.key
                ),
                None,
            )
        mapping = found[member.forward.key]
        if mapping is not None:
            member.forward, member.widened = ref, mapping


def _collapse_if_needed(members: list[Member]) -> None:
    # A dense stage's layers become one run (see runs.py), so stages whose layers start
    # at other widths or number otherwise still share their class. One that cannot (a
    # stage of one layer) keeps its layers, and a class of its own.
    for member in members:
        found = collapsed(member.children, member.forward)
        if found is not None:
            member.children, member.forward = found


def define(
    name: str,
    members: list[Member],
    top: Namer,
    *,
    is_top: bool,
    can_widen: Callable[[str, int], bool] = lambda path, inputs: False,
) -> list[ClassDef]:
    """The classes for ``members`` (containers of one kind at one depth)."""
    _gather_if_needed(members)
    _widen_if_needed(members, can_widen)
    _collapse_if_needed(members)
    # A child only some members have, or one made of layers of its own, may be built
    # differently from member to member (an average-pooled downsample in one block, a
    # plain projection in another): the class then takes it ready-made, as torchvision's
    # blocks take ``downsample``. A single layer that differs splits the class.
    loose = set().union(*(m.children for m in members))
    loose -= set.intersection(*(set(m.children) for m in members))
    loose |= {c for m in members for c, child in m.module._modules.items() if composite(child)}
    variants: list[Variant] = []
    for member in members:
        for variant in variants:
            to_input = _fits(variant, member, loose)
            if to_input is not None:
                _add(variant, member, to_input)
                break
        else:
            variant = Variant([], member)
            _add(variant, member, frozenset())
            variants.append(variant)
    return [_class(top.new(name, camel_case=True), v, top, is_top) for v in variants]


def _class(name: str, variant: Variant, top: Namer, is_top: bool) -> ClassDef:
    members, ref = variant.members, variant.ref
    order = list(ref.children)
    optional = [c for c in order if not all(c in m.children for m in members)]
    passed = [c for c in order if len(_structures(members, c)) > 1]
    params = top.child()
    # Each child's constructor, unified over the members that have it.
    slots: list[list[Any]] = []
    vectors: list[tuple[Any, ...]] = []
    unified: dict[str, Any] = {}
    contexts: dict[int, tuple[str, str]] = {}
    for child in order:
        if child in passed:
            continue
        having = [i for i, m in enumerate(members) if child in m.children]
        local: list[list[Any]] = []
        unified[child] = unify([members[i].children[child] for i in having], local)
        if not is_top:
            unified[child] = lift(unified[child], local, [members[i].features for i in having])
        where: dict[int, str] = {}
        slot_contexts(unified[child], where)
        renumbered: dict[int, int] = {}
        for k, values in enumerate(local):
            full: list[Any] = [None] * len(members)
            for i, value in zip(having, values, strict=True):
                full[i] = value
            renumbered[k] = len(slots)
            contexts[len(slots)] = (child, where.get(k, ""))
            slots.append(values)
            vectors.append(tuple(full))
        unified[child] = renumber(unified[child], renumbered)
    # Slots that vary together are one parameter, named for what it is where it can be.
    # A slot of an optional child agrees with a parameter where that child exists.
    names: dict[int, str] = {}
    required: list[tuple[str, str, list[Any]]] = []
    # Slots every member has come first, so an optional child's number takes the name of
    # the one it agrees with (a stage's ``in_channels``) rather than the other way round.
    for index in sorted(range(len(vectors)), key=lambda i: None in vectors[i]):
        vector = vectors[index]
        for pname, _, known in required:
            if covers(known, vector):
                names[index] = pname
                break
        else:
            pname = params.new(_param_name(vector, members, *contexts[index]))
            names[index] = pname
            required.append((pname, "", list(vector)))
    required = [(p, annotation(v), tuple(v)) for p, _, v in required]
    rank = {"in_channels": 0, "out_channels": 1, "width": 2, "stride": 3}
    required.sort(key=lambda p: rank.get(p[0].rstrip("_0123456789"), 4))
    flags = {child: params.new(child) for child in optional if child not in passed}
    modules = {child: params.new(identifier(child)) for child in passed}
    given = [modules[c] for c in passed if c not in optional]  # every member has it

    # A parameter only an optional child reads is a keyword, given by the blocks that
    # have the child.
    partial = [r for r in required if None in r[2]]
    required = [r for r in required if None not in r[2]]
    signature = "".join(f", {p}: {a}" for p, a, _ in required)
    signature += "".join(f", {m}: nn.Module" for m in given)
    signature += "".join(f", {flag}: bool = False" for flag in flags.values())
    signature += "".join(
        f", {m}: nn.Module | None = None" for m in modules.values() if m not in given
    )
    signature += "".join(f", {p}: {a} = None" for p, a, _ in partial)
    lines = [f"class {name}(nn.Module):"]
    if not is_top:
        count = f" ({len(members)} in all)" if len(members) > 1 else ""
        # As many paths as fit on one line of 100 (deep paths such as
        # layer1.0.conv1.paths.0 fit fewer), at least one.
        for n in range(min(4, len(members)), 0, -1):
            shown = ", ".join(m.path for m in members[:n]) + (", ..." if len(members) > n else "")
            if len(f'    """Used at {shown}{count}."""') <= 100:
                break
        lines += [f'    """Used at {shown}{count}."""', ""]
    lines += [f"    def __init__(self{signature}) -> None:", "        super().__init__()"]
    layers = ""
    position = 0
    while position < len(order):
        loop = progression(order, position, unified, {**flags, **modules})
        if loop is not None:
            count, label, text = loop
            lines += [
                f"        for i in range({count}):",
                f"            self.add_module({label}, {text})",
            ]
            position += count
            continue
        child = order[position]
        position += 1
        if child == RUN:
            run = unified[RUN]
            count = render(run.count, names)
            if isinstance(run.count, Slot):  # the forward loops as far
                lines.append(f"        self.{count} = {count}")
                layers = f"self.{count}"
            else:
                layers = count
            lines += [
                f"        for i in range({count}):",
                f"            self.add_module(str(i), {render(run.item, names)})",
            ]
            continue
        if child in modules:
            if attribute(child):
                lines.append(f"        self.{child} = {modules[child]}")
            else:
                lines.append(f"        self.add_module({child!r}, {modules[child]})")
            continue
        expr = render(unified[child], names)
        if child in flags and attribute(child):
            lines += [
                f"        self.{child} = None",
                f"        if {flags[child]}:",
                f"            self.{child} = {expr}",
            ]
        elif child in flags:
            lines.append(f"        self.add_module({child!r}, {expr} if {flags[child]} else None)")
        elif attribute(child):
            lines.append(f"        self.{child} = {expr}")
        else:
            lines.append(f"        self.add_module({child!r}, {expr})")
    forward, to_input = ref.forward, variant.to_input & set(optional)
    # Moved up only where that cannot change the order random numbers are drawn in, nor
    # what a child that changes its input in place gives the statements it passes.
    if to_input and not any(unmovable(getattr(ref.module, c)) for c in to_input):
        forward = hoisted(forward, set(to_input), functools.partial(mutates, ref.module))
    body = write(
        forward,
        access=lambda path: child_access(ref.module, path),
        optional=set(optional),
        to_input=to_input,
        names=top.child(),
        first_name="x" if is_top else "out",
        release=is_top,
        layers=layers,
    )
    returns = "torch.Tensor"
    output = ref.forward.output
    if isinstance(output, tuple) and output and output[0] == "__tuple__":
        returns = f"tuple[{', '.join(['torch.Tensor'] * (len(output) - 1))}]"
    elif isinstance(output, tuple) and output and output[0] == "__list__":
        returns = "list[torch.Tensor]"
    lines += ["", f"    def forward(self, {', '.join(body.params)}) -> {returns}:"]
    lines += [f"        {line}" for line in body.lines]

    calls = {}
    positional = len(required)
    defaults = tuple((flag, False) for flag in flags.values())
    defaults += tuple((m, None) for m in modules.values() if m not in given)
    defaults += tuple((p, None) for p, _, _ in partial)
    for i, member in enumerate(members):
        values = [(p, Const(vector[i])) for p, _, vector in required]
        built = {m: member.children.get(child, Const(None)) for child, m in modules.items()}
        values += [(m, built[m]) for m in given]
        values += [(flag, Const(child in member.children)) for child, flag in flags.items()]
        values += [(m, tree) for m, tree in built.items() if m not in given]
        values += [(p, Const(vector[i])) for p, _, vector in partial]
        calls[member.path] = Call(name, tuple(values), positional, defaults)
    return ClassDef(name, "\n".join(lines) + "\n", calls)


def _structures(members: list[Member], child: str) -> set[str]:
    return {repr(structure(m.children[child])) for m in members if child in m.children}


def _param_name(vector: tuple[Any, ...], members: list[Member], child: str, param: str) -> str:
    if child == RUN:  # where the layers' channels start, how far they grow, how many
        return "growth" if param.endswith("_step") else "width" if param in CHANNELS else param
    for feature in ("in_channels", "out_channels", "stride"):
        known = [(v, m.features.get(feature)) for v, m in zip(vector, members, strict=True)]
        if all(v == f for v, f in known if v is not None):
            return feature
    if param in CHANNELS and all(isinstance(v, int) for v in vector if v is not None):
        return "width"
    return f"{identifier(child)}_{param}" if param else identifier(child)
