"""The package's layers, read from the source: which modules import which when they are
imported (docs/extending.md states the rules). Imports inside functions (lazy) and under
``if TYPE_CHECKING:`` do not count: they run later or never."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "archspec"
# Third-party packages `import archspec` must not load: they cost seconds, and a sweep or a
# spec check needs none of them.
HEAVY = ("torch", "torchinfo", "graphviz", "torchdiffeq", "onnx", "onnxruntime", "safetensors")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _eager_imports(tree: ast.AST) -> list[str]:
    """The modules a module imports when it is imported: statements at module level,
    inside classes and ifs, not inside functions or ``if TYPE_CHECKING:``."""
    found: list[str] = []
    modules = _modules()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit(ast.Module(body=child.orelse, type_ignores=[]))
                continue
            if isinstance(child, ast.Import):
                found.extend(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for alias in child.names:
                    # `from archspec.blocks import basic` imports the submodule.
                    sub = f"{child.module}.{alias.name}"
                    found.append(sub if sub in modules else child.module)
            visit(child)

    visit(tree)
    return found


@cache
def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for name, path in _modules().items():
        graph.add_node(name)
        for imported in _eager_imports(ast.parse(path.read_text(), str(path))):
            graph.add_edge(name, imported)
    return graph


def _imports_of(module: str) -> set[str]:
    return set(_graph().successors(module))


def _ours(names: set[str]) -> set[str]:
    return {n for n in names if n == "archspec" or n.startswith("archspec.")}


def _layer(name: str) -> str:
    """The package a module belongs to (``archspec.graph.ops.conv`` -> ``graph``)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def _modules_in(layer: str) -> list[str]:
    return [m for m in _modules() if _layer(m) == layer]


def test_no_module_imports_itself_through_others() -> None:
    ours = _graph().subgraph(_ours(set(_graph().nodes)))
    # A package's __init__ importing its own submodules is how packages are made; a
    # submodule importing its package back is a cycle.
    edges = [(a, b) for a, b in ours.edges if not b.startswith(a + ".")]
    cycles = list(nx.simple_cycles(nx.DiGraph(edges)))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles)


@pytest.mark.parametrize("module", _modules_in("blocks"))
def test_blocks_import_graph_for_typing_only(module: str) -> None:
    allowed = {"blocks", "errors"}
    found = {
        n
        for n in _ours(_imports_of(module))
        if _layer(n) not in allowed and n not in ("archspec.spec.fields", "archspec.spec.limits")
    }
    assert not found, f"{module} imports {sorted(found)} when imported (graph: under TYPE_CHECKING)"


@pytest.mark.parametrize("module", _modules_in("graph"))
def test_graph_is_a_leaf_package(module: str) -> None:
    found = {n for n in _ours(_imports_of(module)) if _layer(n) not in ("graph", "errors")}
    assert not found, f"the IR package's {module} imports {sorted(found)}"


@pytest.mark.parametrize("module", _modules_in("spec"))
def test_spec_knows_nothing_of_what_comes_after_it(module: str) -> None:
    later = {"graph", "lower", "codegen", "render", "report", "nn", "formats", "cli", "sweep"}
    found = {n for n in _ours(_imports_of(module)) if _layer(n) in later}
    heavy = {n for n in _imports_of(module) if n.split(".")[0] in HEAVY}
    assert not found | heavy, f"{module} imports {sorted(found | heavy)}"


def test_importing_archspec_loads_no_heavy_library() -> None:
    code = (
        "import sys, archspec; archspec.load('resnet18'); archspec.presets(); "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"`import archspec` loads {out.stdout.strip()}"


def test_the_reader_sees_what_python_runs() -> None:
    # The ast reading above must see what Python really does: archspec.spec.model, a
    # module it reads as free of torch, imports without torch in a fresh interpreter.
    code = (
        "import sys; import archspec.spec.model; import archspec.graph.builder; "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    assert "archspec.blocks.basic" in _imports_of("archspec.blocks")
    assert "archspec.graph.builder" not in _imports_of("archspec.blocks.basic")


def test_files_stay_readable() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text().splitlines())) > 400
    }
    assert not long, f"modules over 400 lines (split them by what they do): {long}"
