"""Names in emitted source: identifiers made from module paths and spec names, unique in
their namespace, never one that the file itself uses (``torch``, ``nn``, ``load``, a
helper class, a builtin the generated code calls)."""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Iterable

# What generated code refers to by name, besides the classes it defines.
FILE_NAMES = frozenset(
    {"torch", "nn", "F", "checkpoint", "load", "INPUT_SHAPE", "annotations", "self", "features"}
)
RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))


def identifier(text: str) -> str:
    """A Python identifier for ``text``: ``layer1.0`` -> ``layer1_0``; never a keyword."""
    name = re.sub(r"\W+", "_", text.replace("#", "_")).strip("_") or "v"
    if name[0].isdigit():
        name = f"v{name}"
    return name


def camel(text: str) -> str:
    """``dense_layer`` -> ``DenseLayer``, as a class name."""
    parts = re.split(r"[^0-9A-Za-z]+", text)
    name = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return name if name and not name[0].isdigit() else f"C{name}"


class Namer:
    """Unique names within one namespace (a file's top level, a function's locals)."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.used: set[str] = set(RESERVED) | set(FILE_NAMES) | set(taken)

    def new(self, base: str, *, camel_case: bool = False) -> str:
        base = camel(base) if camel_case else identifier(base)
        name, i = base, 2
        while name in self.used:
            name, i = f"{base}{i}" if camel_case else f"{base}_{i}", i + 1
        self.used.add(name)
        return name

    def child(self) -> Namer:
        """A namespace inside this one: it may not shadow any name of this one."""
        return Namer(self.used)


def attribute(name: str) -> bool:
    """Whether a child module can be set and read as ``self.<name>``: an identifier that
    is no keyword and no attribute of nn.Module (``forward``, ``training``...)."""
    from torch import nn

    return name.isidentifier() and not keyword.iskeyword(name) and not hasattr(nn.Module, name)


def access(name: str) -> str:
    """How a forward reads its child module ``name``."""
    return f"self.{name}" if attribute(name) else f"self._modules[{name!r}]"
