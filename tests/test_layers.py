"""The package's layers, read from the source: which modules import which when they are
imported (docs/extending.md states the rules). Imports inside functions (lazy) and under
``if TYPE_CHECKING:`` do not count: they run later or never. ``importlib`` calls are not
seen; archspec makes none at import time."""

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


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The module an ``from ... import`` names, relative ones resolved."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _eager_imports(module: str, path: Path) -> list[str]:
    """The modules a module imports when it is imported: statements at module level,
    inside classes and ifs, not inside functions or ``if TYPE_CHECKING:``."""
    found: list[str] = []
    modules = _modules()
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            test = ast.unparse(child.test) if isinstance(child, ast.If) else ""
            if test in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                visit(ast.Module(body=child.orelse, type_ignores=[]))
                continue
            if isinstance(child, ast.Import):
                found.extend(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                source = _absolute(module, is_package, child)
                for alias in child.names:
                    # `from archspec.blocks import basic` imports the submodule.
                    sub = f"{source}.{alias.name}"
                    found.append(sub if sub in modules else source)
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


@cache
def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for name, path in _modules().items():
        graph.add_node(name)
        for imported in _eager_imports(name, path):
            graph.add_edge(name, imported)
    return graph


def _imports_of(module: str) -> set[str]:
    """Everything importing ``module`` imports, directly or through other modules."""
    return nx.descendants(_graph(), module)


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
    cycles = list(nx.simple_cycles(ours))
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
    later = {"graph", "lowering", "codegen", "render", "report", "nn", "formats", "cli"}
    later |= {"sweep", "analysis", "checkpoint", "integrations", "testing", ""}
    found = {n for n in _ours(_imports_of(module)) if _layer(n) in later}
    heavy = {n for n in _imports_of(module) if n.split(".")[0] in HEAVY}
    assert not found | heavy, f"{module} imports {sorted(found | heavy)}"


def test_the_lower_function_is_not_shadowed_by_a_module() -> None:
    # Importing a submodule sets the package's attribute of that name: no submodule of
    # archspec may be named like one of its functions.
    code = (
        "import importlib, archspec; "
        "[importlib.import_module(m) for m in ('archspec.lowering', 'archspec.render')]; "
        "print(callable(archspec.lower), callable(archspec.stats), callable(archspec.build))"
    )
    assert _run(code).split() == ["True", "True", "True"]
    import archspec

    functions = {n for n in archspec.__all__ if callable(getattr(archspec, n))}
    packages = {m.split(".")[1] for m in _modules() if m.count(".") >= 1}
    assert not (functions & packages) - {"render"}, functions & packages


def _run(code: str) -> str:
    """What ``code`` prints in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _heavy_after(code: str) -> str:
    """The heavy libraries loaded once ``code`` has run in a fresh interpreter."""
    return _run(f"import sys; {code}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")


def test_importing_archspec_loads_no_heavy_library() -> None:
    loaded = _heavy_after("import archspec; archspec.load('resnet18'); archspec.presets()")
    assert loaded == "", f"`import archspec` loads {loaded}"


def test_the_reader_sees_what_python_runs() -> None:
    # The ast reading above must see what Python really does: archspec.spec.model, a
    # module it reads as free of torch, imports without torch in a fresh interpreter.
    assert _heavy_after("import archspec.spec.model; import archspec.graph.builder") == ""
    assert "archspec.blocks.basic" in _graph().successors("archspec.blocks")
    assert "archspec.graph.builder" not in _imports_of("archspec.blocks.basic")
    assert "archspec.errors" in _imports_of("archspec")  # through other modules
    relative = ast.parse("from ..builder import GraphBuilder").body[0]
    assert isinstance(relative, ast.ImportFrom)
    assert _absolute("archspec.graph.ops.conv", False, relative) == "archspec.graph.builder"
    assert _absolute("archspec.graph.ops", True, relative) == "archspec.graph.builder"


def test_files_stay_readable() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text().splitlines())) > 400
    }
    assert not long, f"modules over 400 lines (split them by what they do): {long}"
