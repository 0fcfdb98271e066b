"""Copying archspec's own torch classes and functions into a standalone file: a class of
archspec/nn (a pad skip, a gate) or the checkpoint helper, with what it refers to."""

from __future__ import annotations

import importlib
import inspect
import re
import textwrap
from typing import Any

import torch
from torch import nn

from archspec.errors import GraphError


class EmitError(GraphError):
    """The graph uses something that cannot be written as standalone source."""


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


class Embedder:
    """The helpers and imports a file needs, in an order where each comes after what it
    uses. Helpers keep their own names: the file reserves them before naming anything
    that a spec can name."""

    def __init__(self) -> None:
        self.imports: set[str] = set()  # import lines beyond torch, nn and F
        self.helpers: dict[str, str] = {}  # name -> source
        self.namespace: dict[str, Any] = {"torch": torch, "nn": nn}

    def function(self, target: Any) -> str:
        """How source names the callable ``target`` (``torch.cat``, an embedded helper)."""
        module = getattr(target, "__module__", None) or ""
        name = getattr(target, "__name__", repr(target))
        if module in ("builtins", ""):
            return name
        if module.startswith("archspec") or module == "__main__":
            return self.embed(target)
        top = module.split(".")[0]
        if top != "torch":
            self.imports.add(f"import {top}")
        if module.startswith("torch") and getattr(torch, name, None) is target:
            return f"torch.{name}"
        if module.startswith("torch.nn.functional"):
            return f"F.{name}"
        return f"{module}.{name}"

    def embed(self, obj: Any) -> str:
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
        source = textwrap.dedent(inspect.getsource(obj))
        if _ARCHSPEC_IMPORT.search(source):
            raise EmitError(f"{name} imports archspec; it cannot be copied standalone")
        self.helpers[name] = source
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
            embedded = self.embed(value)
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
