"""Shared helpers for the archspec test suite (imported as ``helpers``; pytest puts
tests/ on sys.path because it is not a package).

Everything here uses real torch and the real pipeline: specs are built as plain dicts,
validated by the loader, lowered, built and run. Inputs are tiny (16x16 or 32x32,
batch 2) so the whole suite runs in a few minutes on two cores.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import networkx as nx
import torch
from torch import fx, nn

import archspec
from archspec.blocks import blocks
from archspec.blocks.base import BlockConfig
from archspec.blocks.skips import SKIPS
from archspec.spec.load import from_data


def tiny_spec(
    block: str = "basic",
    *,
    skip: str = "identity",
    downsample: str = "projection",
    size: int = 16,
    classes: int = 5,
    extra: dict[str, Any] | None = None,
    name: str = "tiny",
) -> dict[str, Any]:
    """A two-stage spec: a cifar stem of width 8, a stage of width 32, then a stage of
    width 64 at stride 2, so both stages' first blocks change the channels and the second
    also the spatial size. 32 so that grouped convs (32 groups by default) divide."""
    return {
        "name": name,
        "input": {"channels": 3, "size": size},
        "stem": {"type": "cifar", "width": 8},
        "defaults": {"block": block, "skip": skip, "downsample": downsample, **(extra or {})},
        "stages": [{"depth": 2, "width": 32}, {"depth": 2, "width": 64, "stride": 2}],
        "head": {"classes": classes},
    }


def pip(*args: str | Path) -> None:
    """Run this interpreter's pip quietly, without dependencies (nothing is fetched):
    ``pip("wheel", "-w", out, ROOT)``, ``pip("install", "--target", site, wheel)``."""
    command, *rest = (str(a) for a in args)
    subprocess.run(
        [sys.executable, "-m", "pip", command, "--quiet", "--no-deps", *rest],
        check=True,
        capture_output=True,
        timeout=300,
    )


def write_file(path: Path, text: str | bytes) -> Path:
    """Write ``text`` (or bytes) to ``path``, making its directories; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def spec_of(data: dict[str, Any], file: str = "<test>") -> archspec.ArchSpec:
    """Validate a spec dict through the loader (errors come out as SpecError)."""
    return from_data(copy.deepcopy(data), file)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


BASE_FIELDS = set(BlockConfig.model_fields)


def block_skips(name: str) -> tuple[str, ...]:
    """The skip kinds block type ``name`` takes: its own list, or every registered kind."""
    return blocks()[name].config.skip_kinds or tuple(SKIPS)


def block_default_skip(name: str) -> str:
    return blocks()[name].config.model_fields["skip"].default


def block_variants(name: str) -> Iterator[dict[str, Any]]:
    """Settings that change how block type ``name`` lowers, one at a time: each
    non-default value of each ``Literal`` option it adds to the common config (bottleneck
    ``stride_at``, preact ``form``), each of its own boolean options switched, and ``null``
    for an option that takes it. So a new option is exercised without editing the tests.
    A block whose config needs a field the common config lacks fails loudly here."""
    fields = blocks()[name].config.model_fields
    required = [k for k, f in fields.items() if f.is_required() and k not in BASE_FIELDS]
    assert not required, f"block {name!r} needs {required}: teach tiny_spec about them"
    for key, field in fields.items():
        if key in BASE_FIELDS:
            continue
        args = get_args(field.annotation)
        origin = get_origin(field.annotation)
        if origin is Literal:
            for value in args:
                if value != field.default:
                    yield {key: value}
        elif field.annotation is bool:
            yield {key: not field.default}
        if type(None) in args and field.default is not None:
            yield {key: None}


def generated_modules(model: nn.Module) -> list[tuple[str, fx.GraphModule]]:
    """Every module of the built tree whose forward is generated, with its path."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, fx.GraphModule)]


def module_nodes(model: fx.GraphModule) -> list[fx.Node]:
    """The fx nodes of one generated forward that compute something."""
    return [n for n in model.graph.nodes if n.op not in ("placeholder", "output")]


class _Run(fx.Interpreter):
    """Runs one generated forward op by op, and the containers it calls the same way,
    recording every op's output by IR node (a copy, taken before a later in-place op
    changes it). Leaves inside an ``nn.Sequential`` are recorded by their module path."""

    def __init__(self, module: fx.GraphModule, prefix: str, run: TreeRun) -> None:
        super().__init__(module)
        self.prefix = prefix
        self.tree = run

    def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
        path = f"{self.prefix}.{target}" if self.prefix else str(target)
        return self.tree.call(self.fetch_attr(target), path, args, kwargs)

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        tag = n.meta.get("archspec_node")
        if tag is not None and n.op != "placeholder" and isinstance(result, torch.Tensor):
            self.tree.values[tag] = result.detach().clone()
        return result


class TreeRun:
    """Runs a built model through every level of its module tree and keeps each IR
    node's value: ``TreeRun(model, graph).run(x).values["layer1.0.add"]``."""

    def __init__(self, model: nn.Module, graph: nx.DiGraph) -> None:
        self.model = model
        self.values: dict[str, torch.Tensor] = {}
        self.calls: dict[str, int] = {}  # module path -> times called
        self.by_scope: dict[str, str] = {}
        for node, data in graph.nodes(data=True):
            self.by_scope.setdefault(data["scope"], node)

    def call(
        self, module: nn.Module, path: str, args: Any, kwargs: Any, in_sequence: bool = False
    ) -> Any:
        self.calls[path] = self.calls.get(path, 0) + 1
        if isinstance(module, fx.GraphModule):
            return _Run(module, path, self).run(*args)
        if isinstance(module, nn.Sequential):
            (x,) = args
            for i, child in enumerate(module):
                x = self.call(child, f"{path}.{i}", (x,), {}, in_sequence=True)
            return x
        out = module(*args, **kwargs)
        tag = self.by_scope.get(path) if in_sequence else None  # else run_node has its tag
        if tag is not None and isinstance(out, torch.Tensor):
            self.values[tag] = out.detach().clone()
        return out

    def run(self, x: torch.Tensor) -> TreeRun:
        self.output = _Run(self.model, "", self).run(x)
        return self


def assert_modules_work_alone(model: nn.Module, x: torch.Tensor) -> int:
    """Every module of the tree, called alone on the inputs it got inside the network,
    gives what it gave there (in eval mode). Returns how many modules were checked."""
    model.eval()
    seen: dict[str, tuple[tuple[Any, ...], Any]] = {}
    handles = []

    def clone(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.detach().clone()
        if isinstance(value, tuple | list):
            return type(value)(clone(v) for v in value)
        return value

    for name, module in model.named_modules():
        if not name:
            continue

        def pre(mod: nn.Module, args: tuple[Any, ...], name: str = name) -> None:
            if name not in seen:
                seen[name] = (clone(args), None)

        def post(mod: nn.Module, args: Any, out: Any, name: str = name) -> None:
            if seen[name][1] is None:
                seen[name] = (seen[name][0], clone(out))

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    with torch.no_grad():
        model(x)
        for handle in handles:
            handle.remove()
        for name, (args, expected) in seen.items():
            got = model.get_submodule(name)(*clone(args))
            torch.testing.assert_close(got, expected, rtol=0, atol=0, equal_nan=True, msg=name)
    return len(seen)


def assert_ir_shapes(graph: nx.DiGraph, model: fx.GraphModule, x: torch.Tensor) -> None:
    """Run ``model`` on ``x`` through every level of its tree, and check the shape of
    every op's output equals the shape the graph IR inferred for it (batch dim aside).
    Ops inside a checkpointed region run within one call and are checked through that
    call's output."""
    was_training = model.training
    with torch.no_grad():
        run = TreeRun(model, graph).run(x)
    model.train(was_training)
    for ir_node, value in run.values.items():
        data = graph.nodes[ir_node]
        real = tuple(value.shape)
        assert real == (x.shape[0], *data["shape"]), (ir_node, real, data["shape"])
    in_regions = {n for region in graph.graph.get("checkpoints", ()) for n in region}
    ops = {n for n, d in graph.nodes(data=True) if d["op"] != "input"}
    assert ops - in_regions <= set(run.values), sorted(ops - in_regions - set(run.values))[:5]


def leaf_module_names(model: nn.Module) -> set[str]:
    return {name for name, m in model.named_modules() if name and not list(m.children())}


# --- the command line ------------------------------------------------------------------


def run_cli(
    *args: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """``archspec ARGS...`` in a fresh interpreter (``python -m archspec.cli``), output
    captured, so the command sees no terminal: what a user's pipe gets."""
    # One thread each: the CLI runs next to pytest-xdist workers (see conftest.py).
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "archspec.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=environment,
    )


def assert_clean_failure(proc: subprocess.CompletedProcess, code: int = 1) -> str:
    """Exit ``code`` with a short message on stderr and never a traceback: one or two
    lines, or for a usage error click's usual four (usage, hint, blank, error)."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert 1 <= len(lines) <= (4 if code == 2 else 2), proc.stderr
    assert lines[-1].lower().startswith("error:"), proc.stderr
    return proc.stderr
