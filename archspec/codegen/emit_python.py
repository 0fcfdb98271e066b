"""Standalone PyTorch source for a graph IR: a Python file that needs only torch, builds
the same module hierarchy as :func:`archspec.build` (so the same ``state_dict`` loads with
``strict=True``) and computes the same outputs.

The source is read off the ``torch.fx`` module archspec builds, so it computes exactly
what the built model computes. It is laid out as a person would write it: a class per
distinct block (``Bottleneck``, ``BottleneckDown``...), stages as ``nn.Sequential``
when their blocks form a chain, and a top-level class whose ``forward`` reads like
torchvision's. Modules come from ``torch.nn`` or, for archspec's own (a pad skip, a
gate), from their class source copied into the file.

Example::

    source = emit_python(archspec.lower("resnet18"), spec_yaml=spec.to_yaml())
    Path("resnet18.py").write_text(source)
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
import keyword
import operator
import re
import textwrap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import torch
from torch import fx, nn

from archspec.codegen.torch_module import _class_name, build_flat
from archspec.errors import GraphError

_INFIX: dict[Callable[..., Any], str] = {
    operator.add: "+",
    operator.sub: "-",
    operator.mul: "*",
    operator.truediv: "/",
    operator.matmul: "@",
}
_INPLACE: dict[Callable[..., Any], str] = {
    operator.iadd: "+=",
    operator.isub: "-=",
    operator.imul: "*=",
}
_RESERVED = {"self", "torch", "nn", "F", "operator", "math", "x"}


class EmitError(GraphError):
    """The graph uses something that cannot be written as standalone source."""


# -- module constructors -------------------------------------------------------------------


def _state_shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _is_torch_nn(cls: type) -> bool:
    return cls.__module__.startswith("torch.nn") and getattr(nn, cls.__name__, None) is cls


def _plain(value: Any) -> Any:
    """``(3, 3)`` -> ``3``: torch.nn takes an int for a square size."""
    square = isinstance(value, tuple) and value and all(v == value[0] for v in value)
    if square and isinstance(value[0], int) and not isinstance(value[0], bool):
        return value[0]
    return value


def _is_default(param: inspect.Parameter | None, value: Any) -> bool:
    if param is None or param.default is inspect.Parameter.empty:
        return False
    try:
        return bool(param.default == value) and type(param.default) is type(value)
    except Exception:  # a default that does not compare (a tensor): keep the argument
        return False


def _torch_nn_candidates(module: nn.Module) -> list[str]:
    """Constructor calls for a torch.nn module: without the arguments that equal their
    defaults first (``nn.Conv2d(64, 64, kernel_size=3, padding=1, bias=False)``), then
    the module's own ``extra_repr``, which for torch.nn is its constructor arguments."""
    cls = type(module)
    full = f"nn.{cls.__name__}({module.extra_repr()})"
    try:
        args, kwargs = eval(  # extra_repr of a torch.nn module: literal arguments
            f"_collect({module.extra_repr()})",
            {"_collect": lambda *a, **k: (a, k), "torch": torch, "inf": float("inf")},
        )
    except Exception:
        return [full]
    parameters = inspect.signature(cls.__init__).parameters
    parts = [repr(_plain(a)) for a in args]
    for key, value in kwargs.items():
        if not _is_default(parameters.get(key), _plain(value)):
            parts.append(f"{key}={_plain(value)!r}")
    return [f"nn.{cls.__name__}({', '.join(parts)})", full]


def _custom_candidates(module: nn.Module) -> list[str]:
    """A constructor call for a module class of archspec's: its arguments are read
    back from the attributes of the same names (the convention its modules follow)."""
    cls = type(module)
    parts = []
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if not hasattr(module, p.name):
            raise EmitError(
                f"cannot write {cls.__name__} as source: its constructor argument "
                f"{p.name!r} is not kept as an attribute of the same name"
            )
        value = getattr(module, p.name)
        if not _is_default(p, value):
            parts.append(f"{p.name}={value!r}")
    return [f"{cls.__name__}({', '.join(parts)})"]


def _constructor(module: nn.Module, namespace: dict[str, Any]) -> str:
    """Source that rebuilds ``module``: the first candidate that gives the same repr and
    the same state_dict shapes."""
    cls = type(module)
    candidates = _torch_nn_candidates(module) if _is_torch_nn(cls) else _custom_candidates(module)
    for source in candidates:
        try:
            with torch.device("meta"):
                rebuilt = eval(source, namespace)  # text made above from the module itself
        except Exception:
            continue
        if repr(rebuilt) == repr(module) and _state_shapes(rebuilt) == _state_shapes(module):
            return source
    raise EmitError(f"cannot write {module!r} as source: {candidates[-1]} does not rebuild it")


_ARCHSPEC_IMPORT = re.compile(r"^\s*(from|import)\s+archspec\b", re.MULTILINE)


def _referenced_names(obj: Any) -> set[str]:
    """Global names a function's or a class's methods use (from their code objects)."""
    codes = []
    if inspect.isclass(obj):
        for member in vars(obj).values():
            member = getattr(member, "__func__", member)  # staticmethod, classmethod
            if isinstance(member, property):
                member = member.fget
            if inspect.isfunction(member):
                codes.append(member.__code__)
    elif inspect.isfunction(obj):
        codes.append(obj.__code__)
    names: set[str] = set()
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if inspect.iscode(c))
    return names


def _class_source(obj: type | Callable[..., Any]) -> str:
    """The source of a class or function of archspec's, to copy into the file."""
    source = textwrap.dedent(inspect.getsource(obj))
    if _ARCHSPEC_IMPORT.search(source):
        raise EmitError(f"{obj.__name__} imports archspec; it cannot be copied standalone")
    return source


# -- naming --------------------------------------------------------------------------------


def _identifier(text: str) -> str:
    name = re.sub(r"\W+", "_", text.replace("#", "_")).strip("_") or "v"
    if name[0].isdigit():
        name = f"v{name}"
    return f"{name}_" if keyword.iskeyword(name) else name


class _Names:
    """Unique local variable names within one forward."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.used = set(_RESERVED) | set(taken)

    def new(self, base: str) -> str:
        base = _identifier(base)
        name, i = base, 2
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        self.used.add(name)
        return name


def _access(root: str, path: str, sequential: set[str], prefix: str = "") -> str:
    """``self.layer1[0].conv1`` for module path ``layer1.0.conv1`` (relative to prefix)."""
    out = root
    full = prefix
    for part in path.split(".") if path else []:
        if full in sequential and part.isdigit():
            out += f"[{part}]"
        elif part.isidentifier() and not keyword.iskeyword(part):
            out += f".{part}"
        else:
            out += f"[{part!r}]"
        full = f"{full}.{part}" if full else part
    return out


def _relative(path: str, prefix: str) -> str:
    if not prefix:
        return path
    return path[len(prefix) + 1 :] if path.startswith(prefix + ".") else path


# -- the emitter ---------------------------------------------------------------------------


@dataclass
class _Block:
    scope: str
    kind: str
    nodes: list[fx.Node] = field(default_factory=list)
    inputs: list[fx.Node] = field(default_factory=list)  # values from outside, in order
    outputs: list[fx.Node] = field(default_factory=list)  # values used outside, in order
    class_name: str = ""


@dataclass
class _Unit:
    """One statement of a forward: the values it produces and reads, and its right-hand
    side; ``inplace`` (``+=``) with ``operand`` for an in-place update of ``reads[0]``."""

    produces: list[fx.Node]
    reads: list[fx.Node]
    render: Callable[[dict[fx.Node, str]], str]
    base: str
    inplace: str | None = None
    operand: Any = None


class _Emitter:
    def __init__(self, graph: nx.DiGraph) -> None:
        self.graph = graph
        # Read off the flat form: one graph with every op, each module by its full path.
        self.model = build_flat(graph)
        self.nodes = list(self.model.graph.nodes)
        self.modules = dict(self.model.named_modules())
        self.imports: set[str] = set()  # import lines beyond torch, nn and F
        self.helpers: dict[str, str] = {}  # class or function name -> source
        self.constructors: dict[tuple, str] = {}  # (class, repr, state shapes) -> source
        self.namespace: dict[str, Any] = {"torch": torch, "nn": nn}
        self.ir_of = self._ir_nodes()
        self.blocks = self._blocks()
        # Containers whose children are 0..n-1 become nn.Sequential, indexed with [i].
        self.sequential = {
            path
            for path, module in self.modules.items()
            if list(module._modules) and all(k == str(i) for i, k in enumerate(module._modules))
        }
        self.prefix = ""  # the module path of the forward being written
        self.block_classes: dict[str, str] = {}  # class body -> class name
        self.class_sources: list[tuple[str, str]] = []  # (name, source) in order

    # fx node -> IR node: tagged by build_module; helper nodes a lowering adds take the
    # IR node of the first tagged node that uses them.
    def _ir_nodes(self) -> dict[fx.Node, str]:
        ir: dict[fx.Node, str] = {}
        for node in reversed(self.nodes):
            tag = node.meta.get("archspec_node")
            if tag is None:
                users = [ir[u] for u in node.users if u in ir]
                tag = users[0] if users else ""
            ir[node] = tag
        return ir

    def block_of(self, node: fx.Node) -> str:
        tag = self.ir_of.get(node, "")
        return self.graph.nodes[tag]["block"] if tag in self.graph else ""

    def _blocks(self) -> dict[str, _Block]:
        kinds = {r.scope: r.kind for r in self.graph.graph["blocks"]}
        blocks: dict[str, _Block] = {}
        for node in self.nodes:
            scope = self.block_of(node)
            if scope and node.op != "output":
                blocks.setdefault(scope, _Block(scope, kinds.get(scope, "block"))).nodes.append(
                    node
                )
        for block in blocks.values():
            inside = set(block.nodes)
            for node in block.nodes:
                for arg in node.all_input_nodes:
                    if arg.op == "get_attr":
                        continue
                    if arg not in inside and arg not in block.inputs:
                        block.inputs.append(arg)
                if any(user not in inside for user in node.users):
                    block.outputs.append(node)
            # Every module a block calls must live under its scope, or the block class
            # could not own it.
            for node in block.nodes:
                if node.op == "call_module" and not str(node.target).startswith(block.scope + "."):
                    raise EmitError(f"block {block.scope} calls {node.target}, outside it")
        return blocks

    # -- expressions -------------------------------------------------------------------
    def _function(self, target: Callable[..., Any]) -> str:
        module = getattr(target, "__module__", None) or ""
        name = getattr(target, "__name__", repr(target))
        if module in ("builtins", ""):
            return name
        if module == "_operator":
            module = "operator"
        if module.startswith("archspec") or module == "__main__":
            return self._embed(target)
        top = module.split(".")[0]
        if top != "torch":
            self.imports.add(f"import {top}")
        if module.startswith("torch") and getattr(torch, name, None) is target:
            return f"torch.{name}"
        if module.startswith("torch.nn.functional"):
            return f"F.{name}"
        return f"{module}.{name}"

    def _embed(self, obj: Any) -> str:
        """Copy a function or class of archspec's into the file, with what it refers to:
        other such functions and classes (copied too), imports and constants."""
        name = obj.__name__
        if name in self.helpers:
            return name
        self.helpers[name] = ""  # claimed: a reference cycle stops here
        for ref in sorted(_referenced_names(obj)):
            value = vars(inspect.getmodule(obj)).get(ref)
            if value is not None:
                self._global(ref, value)
        del self.helpers[name]  # re-added after what it needs, so it is defined after it
        self.helpers[name] = _class_source(obj)
        self.namespace[name] = obj
        return name

    def _global(self, ref: str, value: Any) -> None:
        """Make module-level name ``ref`` mean ``value`` in the file."""
        if ref in ("torch", "nn", "F") and value in (torch, nn, torch.nn.functional):
            return
        if inspect.ismodule(value):
            line = f"import {value.__name__}"
            self.imports.add(line if value.__name__ == ref else f"{line} as {ref}")
            return
        module = getattr(value, "__module__", "") or ""
        if (inspect.isfunction(value) or inspect.isclass(value)) and module.startswith("archspec"):
            embedded = self._embed(value)
            if embedded != ref:
                self.helpers.setdefault(f"{ref} = ", f"{ref} = {embedded}\n")
            return
        if callable(value) and module and getattr(value, "__name__", None):
            try:
                found = getattr(importlib.import_module(module), value.__name__, None)
            except ImportError:
                found = None
            if found is value:
                alias = "" if value.__name__ == ref else f" as {ref}"
                self.imports.add(f"from {module} import {value.__name__}{alias}")
                return
        if isinstance(value, int | float | str | bool | tuple | frozenset) or value is None:
            self.helpers.setdefault(f"{ref} = ", f"{ref} = {value!r}\n")
            return
        raise EmitError(f"cannot write {ref} ({type(value).__name__}) as standalone source")

    def _arg(self, value: Any, names: dict[fx.Node, str]) -> str:
        if isinstance(value, fx.Node):
            if value.op == "get_attr":  # a module or tensor handed to a function: inline
                target = _relative(str(value.target), self.prefix)
                return _access("self", target, self.sequential, self.prefix)
            return names[value]
        if isinstance(value, tuple):
            inner = ", ".join(self._arg(v, names) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        if isinstance(value, list):
            return "[" + ", ".join(self._arg(v, names) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k!r}: {self._arg(v, names)}" for k, v in value.items()) + "}"
        if isinstance(value, torch.dtype | torch.device | torch.memory_format):
            return f"torch.{str(value).removeprefix('torch.')}"
        if isinstance(value, slice):
            parts = (self._arg(v, names) for v in (value.start, value.stop, value.step))
            return f"slice({', '.join(parts)})"
        return repr(value)

    def _call_args(self, node: fx.Node, names: dict[fx.Node, str], skip: int = 0) -> str:
        args = [self._arg(a, names) for a in node.args[skip:]]
        args += [f"{k}={self._arg(v, names)}" for k, v in node.kwargs.items()]
        return ", ".join(args)

    def _expression(self, node: fx.Node, names: dict[fx.Node, str], prefix: str) -> str:
        if node.op == "call_module":
            path = _relative(str(node.target), prefix)
            access = _access("self", path, self.sequential, prefix)
            return f"{access}({self._call_args(node, names)})"
        if node.op == "call_function":
            if node.target in _INFIX and len(node.args) == 2 and not node.kwargs:
                a, b = (self._arg(v, names) for v in node.args)
                return f"{a} {_INFIX[node.target]} {b}"
            return f"{self._function(node.target)}({self._call_args(node, names)})"
        if node.op == "call_method":
            return (
                f"{self._arg(node.args[0], names)}.{node.target}({self._call_args(node, names, 1)})"
            )
        if node.op == "get_attr":
            return _access("self", _relative(str(node.target), prefix), self.sequential, prefix)
        raise EmitError(f"no source for fx node {node.op} {node.target}")

    # -- modules -----------------------------------------------------------------------
    def _module_expr(self, path: str, indent: int) -> str:
        """Source that builds the module at ``path`` with all its children."""
        if path in self.blocks:
            return f"{self.blocks[path].class_name}()"
        module = self.modules[path]
        children = list(module._modules)
        if not children:
            cls = type(module)
            if not _is_torch_nn(cls):
                self._embed(cls)
            key = (cls, repr(module), tuple(_state_shapes(module).items()))
            if key not in self.constructors:
                self.constructors[key] = _constructor(module, self.namespace)
            return self.constructors[key]
        pad = " " * (indent + 4)
        child_paths = [f"{path}.{c}" if path else c for c in children]
        exprs = [self._module_expr(p, indent + 4) for p in child_paths]
        if path in self.sequential:
            lines = []
            i = 0
            while i < len(exprs):  # runs of identical blocks: one line, not hundreds
                j = i
                while j < len(exprs) and exprs[j] == exprs[i]:
                    j += 1
                if j - i >= 3 and "\n" not in exprs[i]:
                    lines.append(f"{pad}*({exprs[i]} for _ in range({j - i})),")
                else:
                    lines.extend(f"{pad}{e}," for e in exprs[i:j])
                i = j
            return "nn.Sequential(\n" + "\n".join(lines) + "\n" + " " * indent + ")"
        lines = [f"{pad}{json.dumps(c)}: {e}," for c, e in zip(children, exprs, strict=True)]
        return "nn.ModuleDict({\n" + "\n".join(lines) + "\n" + " " * indent + "})"

    def _init_lines(self, prefix: str) -> list[str]:
        """``self.name = ...`` for each child of the module at ``prefix``."""
        root = self.modules[prefix] if prefix else self.model
        lines = []
        for child in root._modules:
            path = f"{prefix}.{child}" if prefix else child
            if child.isidentifier() and not keyword.iskeyword(child):
                lines.append(f"self.{child} = {self._module_expr(path, 8)}")
            else:
                lines.append(f"self.add_module({json.dumps(child)}, {self._module_expr(path, 8)})")
        return lines

    # -- blocks ------------------------------------------------------------------------
    def _block_class(self, block: _Block) -> str:
        names = _Names()
        local: dict[fx.Node, str] = {}
        params = []
        for i, value in enumerate(block.inputs):
            local[value] = "x" if i == 0 else names.new(f"x{i + 1}")
            params.append(f"{local[value]}: torch.Tensor")
        self.prefix = block.scope
        units = [self._node_unit(n, block.scope) for n in block.nodes if n.op != "get_attr"]
        body = self._statements(units, local, names, first_name="out", release=False)
        self.prefix = ""
        outs = [local[o] for o in block.outputs]
        body.append(f"return {', '.join(outs)}")
        init = self._init_lines(block.scope)
        returns = (
            "torch.Tensor"
            if len(outs) == 1
            else f"tuple[{', '.join(['torch.Tensor'] * len(outs))}]"
        )
        signature = ", ".join(["self", *params])
        return (
            "    def __init__(self) -> None:\n"
            "        super().__init__()\n"
            + "".join(f"        {line}\n" for line in init)
            + f"\n    def forward({signature}) -> {returns}:\n"
            + "".join(f"        {line}\n" for line in body)
        )

    def _name_blocks(self) -> None:
        bodies: dict[str, list[_Block]] = {}
        # Children first: a block's init builds its own modules only, so its body does
        # not depend on other blocks' names.
        for block in self.blocks.values():
            bodies.setdefault(self._block_class(block), []).append(block)
        per_kind: dict[str, int] = {}
        for blocks in bodies.values():
            per_kind[blocks[0].kind] = per_kind.get(blocks[0].kind, 0) + 1
        seen: dict[str, int] = {}
        for body, blocks in bodies.items():
            kind = blocks[0].kind
            seen[kind] = seen.get(kind, 0) + 1
            base = _class_name(kind) or "Block"
            name = base if per_kind[kind] == 1 else f"{base}{seen[kind]}"
            for block in blocks:
                block.class_name = name
            shown = ", ".join(b.scope for b in blocks[:4]) + (", ..." if len(blocks) > 4 else "")
            count = f" ({len(blocks)} in all)" if len(blocks) > 1 else ""
            doc = f'    """Block{"s" if count else ""} {shown}{count}.'
            self.class_sources.append((name, f'class {name}(nn.Module):\n{doc}"""\n\n{body}'))

    # -- the network -------------------------------------------------------------------
    def _chain(self, path: str) -> bool:
        """True if the Sequential at ``path`` holds blocks that feed one another."""
        module = self.modules.get(path)
        if path not in self.sequential or module is None:
            return False
        members = [self.blocks.get(f"{path}.{c}") for c in module._modules]
        if any(b is None or len(b.inputs) != 1 or len(b.outputs) != 1 for b in members):
            return False
        for before, after in itertools.pairwise(members):
            if after.inputs[0] is not before.outputs[0]:
                return False
            if any(self.block_of(user) != after.scope for user in before.outputs[0].users):
                return False
        return True

    def _node_unit(self, node: fx.Node, prefix: str) -> _Unit:
        """One fx node as a statement of a forward whose modules sit under ``prefix``."""
        tag = node.meta.get("archspec_node")
        base = _relative(tag, prefix) if tag else node.name
        inplace = None
        binary = len(node.args) == 2 and isinstance(node.args[0], fx.Node) and not node.kwargs
        if node.op == "call_function" and node.target in _INPLACE and binary:
            inplace = _INPLACE[node.target]
        return _Unit(
            [node],
            [n for n in node.all_input_nodes if n.op != "get_attr"],
            lambda local: self._expression(node, local, prefix),
            base,
            inplace,
            node.args[1] if inplace else None,
        )

    def _statements(
        self,
        units: list[_Unit],
        local: dict[fx.Node, str],
        names: _Names,
        *,
        first_name: str,
        release: bool,
    ) -> list[str]:
        """The statements of a forward. A value whose input dies at that statement
        takes over the input's name (``x = self.bn1(x)``, ``out += identity``), as
        hand-written PyTorch does; with ``release``, other values are deleted after
        their last use. A block's or stage's inputs live until its call returns, as in
        any hand-written model; a block's own ops are written out one by one, so the
        source frees values inside a block (a downsample's input, say) when it is done
        with them, where the built model's ``downsample`` module holds its input until it
        returns.
        """
        last: dict[fx.Node, int] = {}
        for i, unit in enumerate(units):
            for value in unit.reads:
                last[value] = i
        lines: list[str] = []
        for i, unit in enumerate(units):
            dying = [v for v in dict.fromkeys(unit.reads) if last[v] == i]
            if unit.inplace and unit.reads and last.get(unit.produces[0].args[0]) == i:
                target = unit.produces[0].args[0]
                lines.append(f"{local[target]} {unit.inplace} {self._arg(unit.operand, local)}")
                local[unit.produces[0]] = local[target]
                taken = {local[target]}
            else:
                rhs = unit.render(local)
                # Only a generic name (x, out) passes to the next value: a name that
                # says what a value is (gate_conv) must not end up on another value.
                generic = [v for v in dying if local[v] in ("x", first_name)]
                if len(unit.produces) == 1 and generic:
                    name = local[generic[0]]
                elif len(unit.produces) == 1 and first_name not in names.used:
                    name = names.new(first_name)
                else:
                    name = ""
                outs = []
                for _ in unit.produces:
                    outs.append(name or names.new(unit.base))
                    name = ""
                for value, out in zip(unit.produces, outs, strict=True):
                    local[value] = out
                lines.append(f"{', '.join(outs)} = {rhs}")
                taken = set(outs)
            dead = [name for name in dict.fromkeys(local[v] for v in dying) if name not in taken]
            if release:
                for start in range(0, len(dead), 8):  # short lines: eight names a del
                    lines.append(f"del {', '.join(dead[start : start + 8])}")
        return lines

    def _forward_lines(self) -> list[str]:
        units: list[_Unit] = []
        done: set[str] = set()
        output = None
        for node in self.nodes:
            if node.op == "placeholder":
                continue
            if node.op == "output":
                output = node
                continue
            if node.op == "get_attr":  # written inline where it is used
                continue
            scope = self.block_of(node)
            if not scope:
                units.append(self._node_unit(node, ""))
                continue
            stage = scope.rsplit(".", 1)[0] if "." in scope else ""
            if stage and self._chain(stage):
                if stage not in done:
                    done.add(stage)
                    children = list(self.modules[stage]._modules)
                    first = self.blocks[f"{stage}.{children[0]}"]
                    last = self.blocks[f"{stage}.{children[-1]}"]
                    units.append(self._call_unit(stage, first.inputs, last.outputs))
                continue
            if scope not in done:
                done.add(scope)
                block = self.blocks[scope]
                units.append(self._call_unit(scope, block.inputs, block.outputs))
        assert output is not None
        placeholder = next(n for n in self.nodes if n.op == "placeholder")
        local = {placeholder: "x"}
        lines = self._statements(units, local, _Names(), first_name="x", release=True)
        lines.append(f"return {self._arg(output.args[0], local)}")
        return lines

    def _call_unit(self, path: str, inputs: list[fx.Node], outputs: list[fx.Node]) -> _Unit:
        access = _access("self", path, self.sequential)
        return _Unit(
            list(outputs),
            list(inputs),
            lambda local: f"{access}({', '.join(local[v] for v in inputs)})",
            path,
        )

    def emit(self, title: str, spec_yaml: str | None) -> str:
        self._name_blocks()
        net = _class_name(self.graph.graph["name"])
        init = self._init_lines("")
        forward = self._forward_lines()
        input_shape = tuple(self.graph.graph["input_shape"])
        imports = [
            "import torch",
            "import torch.nn.functional as F",
            "from torch import nn",
            *sorted(self.imports),
        ]
        sections = [
            f'"""{title}\n\n'
            "Generated by archspec; it needs only PyTorch. Module names match archspec's\n"
            "build, so its checkpoints load as they are::\n\n"
            '    model = load("model.pt")  # the weights of `archspec build SPEC -o model.pt`\n'
            f"    model = {net}()  # PyTorch's default initialization\n"
            '"""\n\n'
            "from __future__ import annotations\n\n" + "\n".join(imports) + "\n"
        ]
        # One blank line between the imports and the first statement, as isort has it.
        preamble = ""
        if spec_yaml:
            commented = "".join(f"#   {line}".rstrip() + "\n" for line in spec_yaml.splitlines())
            preamble = f"# The spec this file was generated from:\n{commented}"
        preamble += f"INPUT_SHAPE = {input_shape!r}  # (channels, height, width)\n"
        sections[-1] += "\n" + preamble
        sections.extend(self.helpers.values())
        sections.extend(source for _, source in self.class_sources)
        sections.append(
            f"class {net}(nn.Module):\n"
            "    def __init__(self) -> None:\n"
            "        super().__init__()\n"
            + "".join(f"        {line}\n" for line in init)
            + "\n    def forward(self, x: torch.Tensor) -> torch.Tensor:\n"
            + "".join(f"        {line}\n" for line in forward)
        )
        sections.append(
            f'def load(path: str, map_location: str = "cpu") -> {net}:\n'
            f'    """{net} with the weights of a checkpoint: an archspec ``.pt`` file (its\n'
            '    ``state_dict`` entry) or a bare state_dict."""\n'
            "    state = torch.load(path, map_location=map_location, weights_only=True)\n"
            '    if "state_dict" in state:\n'
            '        state = state["state_dict"]\n'
            f"    model = {net}()\n"
            "    model.load_state_dict(state)\n"
            "    return model\n"
        )
        sections.append(
            'if __name__ == "__main__":\n'
            f"    model = {net}().eval()\n"
            "    with torch.no_grad():\n"
            "        y = model(torch.zeros(1, *INPUT_SHAPE))\n"
            "    params = sum(p.numel() for p in model.parameters())\n"
            f'    print(f"{net}: {{params:,}} params, output {{tuple(y.shape)}}")\n'
        )
        text = "\n\n".join(s.rstrip("\n") + "\n" for s in sections)
        if not re.search(r"\bF\.", text):
            text = text.replace("import torch.nn.functional as F\n", "", 1)
        return "\n".join(_wrap(line) for line in text.split("\n"))


def _code_chars(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """``(index, char, depth)`` for each character of ``text`` outside string literals,
    ``depth`` counting the brackets open around it (a bracket itself at the outer depth)."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            quote = "" if ch == quote and text[i - 1] != "\\" else quote
        elif ch in "'\"":
            quote = ch
        else:
            if ch in ")]}":
                depth -= 1
            yield i, ch, depth
            if ch in "([{":
                depth += 1


def _matching(text: str, start: int) -> int:
    """Index of the bracket closing the one at ``start`` (strings taken into account)."""
    for i, ch, depth in _code_chars(text, start):
        if ch in ")]}" and depth == 0:
            return i
    return -1


def _split_top_level(text: str) -> list[str]:
    """``text`` cut at its commas outside brackets and strings; a trailing comma ends it."""
    cuts = [i for i, ch, depth in _code_chars(text) if ch == "," and depth == 0]
    parts = [text[a + 1 : b].strip() for a, b in zip([-1, *cuts], [*cuts, len(text)], strict=True)]
    return parts[:-1] if parts and not parts[-1] else parts


def _wrap(line: str, width: int = 100) -> str:
    """Break a line longer than ``width`` at its largest bracket, one item a line with
    a trailing comma, as black and ruff format it; items still too long break again."""
    if len(line) <= width or line.lstrip().startswith("#"):
        return line
    indent = line[: len(line) - len(line.lstrip())]
    best = None
    for i, ch in enumerate(line):
        if ch in "([{":
            j = _matching(line, i)
            if j > i + 1 and (best is None or j - i > best[1] - best[0]):
                best = (i, j)
    if best is None:
        return line
    i, j = best
    parts = _split_top_level(line[i + 1 : j])
    inner = [_wrap(f"{indent}    {part},", width) for part in parts]
    return "\n".join([line[: i + 1], *inner, indent + line[j:]])


def emit_python(graph: nx.DiGraph, *, spec_yaml: str | None = None) -> str:
    """Standalone PyTorch source computing ``graph`` (see the module docstring).

    ``spec_yaml`` is copied into a comment, so the file records what it was made from.
    Raises :class:`EmitError` (an :class:`~archspec.errors.ArchSpecError`) if a module
    cannot be written as source.
    """
    if graph.graph.get("features"):
        # The writer reuses a name once nothing reads it, and it does not yet count a
        # value the forward returns among the reads: refuse rather than write wrong code.
        raise EmitError(
            "standalone source of a backbone (features:) is not written yet; emit the "
            "classifier and take its feature maps with forward hooks"
        )
    emitter = _Emitter(graph)
    name = graph.graph["name"]
    source = emitter.emit(f"{name}: a PyTorch model generated from its archspec spec.", spec_yaml)
    _check(source, emitter.model, _class_name(name))
    return source


def _check(source: str, model: fx.GraphModule, class_name: str) -> None:
    """The source defines a module with exactly the built model's state_dict layout."""
    namespace: dict[str, Any] = {"__name__": "archspec_emitted"}
    exec(compile(source, "<emitted>", "exec"), namespace)  # the source we just wrote
    with torch.device("meta"):
        rebuilt = namespace[class_name]()
    if _state_shapes(rebuilt) != _state_shapes(model):
        ours, theirs = set(_state_shapes(rebuilt)), set(_state_shapes(model))
        missing = sorted(theirs - ours)[:3]
        extra = sorted(ours - theirs)[:3]
        raise EmitError(f"emitted module differs from the build: missing {missing}, extra {extra}")
