"""Standalone PyTorch source for a graph IR: a Python file that needs only torch, builds
the same module tree as :func:`archspec.build` (so the same ``state_dict`` loads with
``strict=True``) and computes the same outputs.

The source follows the built tree: one class per kind of container, parameterised and
reused by every block of that kind (``BasicBlock(in_channels, out_channels, stride,
downsample=False)``), stages as ``nn.Sequential`` where their blocks chain, and a top
class whose ``forward`` reads like torchvision's. Each forward is read off the built
container's fx graph, so it computes exactly what the built model computes; layers are
written from the op table's source. Modules of archspec's own (a pad skip, a gate) are
copied into the file. Every name the file defines is unique, whatever a spec names.

Example::

    import archspec
    source = archspec.emit_python(archspec.load("resnet18"))
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import replace
from typing import Any

import networkx as nx
import torch
from torch import fx, nn

from archspec.codegen.emit.classes import ClassDef, Member, define
from archspec.codegen.emit.embed import Embedder, EmitError
from archspec.codegen.emit.forward import Child, Forward, leaves, read
from archspec.codegen.emit.names import Namer
from archspec.codegen.emit.templates import Call, Const, Seq, bind, parse
from archspec.codegen.emit.wrap import wrap
from archspec.codegen.torch_module import _class_name, build_module
from archspec.graph.ops import OPS
from archspec.nn.ode import FixedGridOde, OdeStage

__all__ = ["EmitError", "emit_python"]


def _leaf_sources(graph: nx.DiGraph) -> dict[str, tuple[str, dict[str, Any], tuple[int, ...]]]:
    out = {}
    for _, data in graph.nodes(data=True):
        if OPS[data.op].module is not None and not data.call:
            out[data.scope] = (
                data.op,
                data.params,
                graph.nodes[data.inputs[0]].shape,
            )
    return out


def _measure(model: nn.Module, graph: nx.DiGraph) -> dict[str, dict[str, Any]]:
    """Each container's input channels (all inputs' for one that joins them), output
    channels and stride, from one forward on the meta device."""
    found: dict[str, dict[str, Any]] = {}
    handles = []
    for path, module in model.named_modules():
        if not isinstance(module, fx.GraphModule):
            continue

        def hook(module: nn.Module, args: tuple, output: Any, path: str = path) -> None:
            tensors = [a for a in args if isinstance(a, torch.Tensor)]
            out = output[0] if isinstance(output, tuple | list) else output
            if not tensors or not isinstance(out, torch.Tensor):
                return
            first = tensors[0]
            features = {"in_channels": sum(t.shape[1] for t in tensors)}
            if len(tensors) == 1:
                features["in_channels"] = first.shape[1]
            if out.dim() >= 2:
                features["out_channels"] = out.shape[1]
            if first.dim() >= 3 and out.dim() >= 3 and out.shape[2]:
                features["stride"] = max(1, round(first.shape[2] / out.shape[2]))
            found[path] = features

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            # Two samples: a norm in training mode refuses one value per channel (a
            # norm after a global pool, as selective-kernel attention has).
            model(torch.empty(2, *graph.graph["input_shape"], device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return found


def _calls_of(forwards: dict[str, Forward], path: str) -> tuple[str, list[int]] | None:
    """The parent of ``path`` and the indices of its statements that call it, if the
    parent is a container that calls it only by name."""
    parent, _, name = path.rpartition(".")
    forward = forwards.get(parent)
    if forward is None:
        return None
    calls = [i for i, s in enumerate(forward.stmts) if s.op == "module" and s.target == name]
    for i, stmt in enumerate(forward.stmts):
        children = [v for v in leaves((stmt.args, stmt.kwargs)) if isinstance(v, Child)]
        if i not in calls and any(c.path.split(".")[0] == name for c in children):
            return None
    return parent, calls


def _can_widen(forwards: dict[str, Forward], path: str, inputs: int) -> bool:
    found = _calls_of(forwards, path)
    if found is None or not found[1]:
        return False
    stmts = forwards[found[0]].stmts
    return all(len(stmts[i].args) == inputs and not stmts[i].kwargs for i in found[1])


def _widen_calls(forwards: dict[str, Forward], path: str, mapping: tuple[int, ...]) -> None:
    """The parent of ``path`` passes its arguments as ``mapping`` says (one given twice)."""
    found = _calls_of(forwards, path)
    assert found is not None
    parent, calls = found
    old = forwards[parent]
    stmts = list(old.stmts)
    for i in calls:
        stmts[i] = replace(stmts[i], args=tuple(stmts[i].args[j] for j in mapping))
    forwards[parent] = Forward(old.inputs, stmts, old.output, old.varargs, old.gather_single)


class _Writer:
    def __init__(self, graph: nx.DiGraph) -> None:
        self.graph = graph
        self.model = build_module(graph, device="meta")
        self.leaves = _leaf_sources(graph)
        self.embedder = Embedder()
        self.calls: dict[str, Call] = {}
        self.classes: list[ClassDef] = []

    def tree(self, path: str, module: nn.Module) -> Any:
        """The constructor tree of the module at ``path``."""
        if isinstance(module, fx.GraphModule):
            return self.calls[path]
        if isinstance(module, OdeStage):
            return self._ode(path, module)
        if type(module) is nn.Sequential:
            items = tuple(self.tree(f"{path}.{k}", m) for k, m in module._modules.items())
            return Call("nn.Sequential", (("args", Seq(items)),), 0, ())
        found = self.leaves.get(path)
        if found is None or module._modules:
            raise EmitError(f"cannot write the module at {path or 'the top'} as source")
        op, params, in_shape = found
        inplace = bool(getattr(module, "inplace", False))
        return parse(OPS[op].source(params, in_shape, [], inplace), self.embedder.namespace)

    def _ode(self, path: str, stage: OdeStage) -> Call:
        """An ODE stage as the file's copy of :class:`FixedGridOde`, f and any first block
        its children; the adaptive solver and the adjoint need torchdiffeq's loop."""
        if stage.eager_only:
            what = "the adjoint method" if stage.adjoint else f"the adaptive solver {stage.solver}"
            raise EmitError(
                f"cannot write the ODE stage {path} as standalone source: {what} needs "
                "torchdiffeq; use a fixed-grid solver (euler, midpoint, rk4) without adjoint, "
                "or build the model with archspec.build",
                scope=path,
            )
        name = self.embedder.embed(FixedGridOde)
        first = getattr(stage, "0", None)
        kwargs = {
            "solver": Const(stage.solver),
            "steps": Const(stage.steps),
            "t": Const(stage.t),
            "time_channel": Const(stage.time_channel),
            "first": Const(None) if first is None else self.tree(f"{path}.0", first),
        }
        func = self.tree(f"{path}.func", stage.func)
        return bind(name, inspect.signature(FixedGridOde), [func], kwargs)  # type: ignore[return-value]

    def emit(self, spec_yaml: str | None) -> str:
        containers = [
            (path, m) for path, m in self.model.named_modules() if isinstance(m, fx.GraphModule)
        ]
        forwards = {path: read(m.graph, self.embedder) for path, m in containers}
        for _, module in self.model.named_modules():
            if not module._modules and not type(module).__module__.startswith("torch."):
                self.embedder.embed(type(module))
        # The file's own names first, so nothing a spec names can take one of them.
        top = Namer(self.embedder.helpers)
        shapes = _measure(self.model, self.graph)
        groups: dict[tuple[int, str], list[str]] = {}
        for path, module in containers:
            depth = path.count(".") + 1 if path else 0
            groups.setdefault((depth, type(module).__name__), []).append(path)
        modules = dict(containers)
        net = ""
        for (depth, kind), paths in sorted(groups.items(), key=lambda g: -g[0][0]):
            members = []
            for path in paths:
                children = {
                    name: self.tree(f"{path}.{name}" if path else name, child)
                    for name, child in modules[path]._modules.items()
                }
                members.append(
                    Member(path, modules[path], forwards[path], children, shapes.get(path, {}))
                )
            name = _class_name(self.graph.graph["name"]) if depth == 0 else kind
            widen = functools.partial(_can_widen, forwards)
            for definition in define(name, members, top, is_top=depth == 0, can_widen=widen):
                self.calls.update(definition.calls)
                self.classes.append(definition)
                net = definition.name if depth == 0 else net
            for member in members:
                if member.widened is not None:
                    _widen_calls(forwards, member.path, member.widened)
        return self._file(net, spec_yaml)

    def _file(self, net: str, spec_yaml: str | None) -> str:
        title = f"{self.graph.graph['name']}: a PyTorch model generated from its archspec spec."
        imports = ["import torch", "import torch.nn.functional as F", "from torch import nn"]
        imports += sorted(self.embedder.imports)
        header = (
            f'"""{title}\n\n'
            "Generated by archspec; it needs only PyTorch. Module names match archspec's\n"
            "build, so its checkpoints load as they are::\n\n"
            '    model = load("model.pt")  # the weights of `archspec build SPEC -o model.pt`\n'
            f"    model = {net}()  # PyTorch's default initialization\n"
            '"""\n\n'
            "from __future__ import annotations\n\n" + "\n".join(imports) + "\n\n"
        )
        if spec_yaml:
            commented = "".join(f"#   {line}".rstrip() + "\n" for line in spec_yaml.splitlines())
            header += f"# The spec this file was generated from:\n{commented}"
        shape = tuple(self.graph.graph["input_shape"])
        header += f"INPUT_SHAPE = {shape!r}  # (channels, *spatial sizes)\n"
        sections = [header, *self.embedder.helpers.values()]
        sections += [c.source for c in self.classes]
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
        output = "[t.shape for t in y]" if self.graph.graph.get("features") else "tuple(y.shape)"
        sections.append(
            'if __name__ == "__main__":\n'
            f"    model = {net}().eval()\n"
            "    with torch.no_grad():\n"
            "        y = model(torch.zeros(1, *INPUT_SHAPE))\n"
            "    params = sum(p.numel() for p in model.parameters())\n"
            f'    print(f"{net}: {{params:,}} params, output {{{output}}}")\n'
        )
        text = "\n\n".join(s.rstrip("\n") + "\n" for s in sections)
        if "F." not in text.replace("import torch.nn.functional as F", ""):
            text = text.replace("import torch.nn.functional as F\n", "", 1)
        return "\n".join(wrap(line) for line in text.split("\n"))


def emit_python(graph: nx.DiGraph, *, spec_yaml: str | None = None) -> str:
    """Standalone PyTorch source computing ``graph`` (see the module docstring).

    ``spec_yaml`` is copied into a comment, so the file records what it was made from.
    Raises :class:`EmitError` (an :class:`~archspec.errors.ArchSpecError`) if a module
    cannot be written as source: an ODE stage with dopri5 or the adjoint method (the
    fixed-grid solvers are copied in as :class:`~archspec.nn.ode.FixedGridOde`).
    """
    writer = _Writer(graph)
    source = writer.emit(spec_yaml)
    _check(source, writer.model, writer.classes[-1].name)
    return source


def _state_shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _check(source: str, model: nn.Module, class_name: str) -> None:
    """The source defines a module with exactly the built model's modules and state."""
    namespace: dict[str, Any] = {"__name__": "archspec_emitted"}
    exec(compile(source, "<emitted>", "exec"), namespace)  # the source we just wrote
    with torch.device("meta"):
        rebuilt = namespace[class_name]()
    ours, theirs = _state_shapes(rebuilt), _state_shapes(model)
    if ours != theirs:
        missing = sorted(set(theirs) - set(ours))[:3]
        extra = sorted(set(ours) - set(theirs))[:3]
        raise EmitError(f"emitted module differs from the build: missing {missing}, extra {extra}")
    if {n for n, _ in rebuilt.named_modules()} != {n for n, _ in model.named_modules()}:
        raise EmitError("emitted module's tree differs from the build's")
