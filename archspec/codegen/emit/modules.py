"""What the emitter asks of a built container's modules: how its forward reaches a
child (``self.downsample[0]``), whether a child is made of layers of its own, and
whether a call may not move past another (it draws random numbers or changes a value
in place)."""

from __future__ import annotations

from torch import nn

from archspec.codegen.emit.forward import Stmt
from archspec.codegen.emit.names import access, attribute


def composite(module: nn.Module | None) -> bool:
    return module is not None and bool(module._modules)


def unmovable(module: nn.Module) -> bool:
    return any(
        "drop" in type(m).__name__.lower() or getattr(m, "inplace", False) for m in module.modules()
    )


def mutates(module: nn.Module, stmt: Stmt) -> bool:
    """Whether ``stmt`` may change a value it reads in place (or draws random numbers:
    kept in its place too, to be safe)."""
    if stmt.op == "iadd" or (stmt.op == "method" and stmt.target.endswith("_")):
        return True
    if stmt.op == "module":
        return unmovable(module.get_submodule(stmt.target))
    return stmt.op == "call" and bool(dict(stmt.kwargs).get("inplace"))


def child_access(module: nn.Module, path: str) -> str:
    """``self.downsample[0]`` for the module at ``path`` under ``module``."""
    parts = path.split(".")
    text = access(parts[0])
    node = module._modules[parts[0]]
    for part in parts[1:]:
        if isinstance(node, nn.Sequential) and part.isdigit():
            text += f"[{part}]"
        elif attribute(part):
            text += f".{part}"
        else:
            text += f"._modules[{part!r}]"
        node = node._modules[part]
    return text
