"""Overrides: dotted-path edits (``stages.2.depth=23``) applied to a spec document
before it validates, each remembered so an error it causes names the override."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from archspec.errors import SpecError, format_path, shown
from archspec.spec.sources import Document, PathT, drop_under
from archspec.spec.yaml_source import MAX_DEPTH, parse_scalar


def parse_override(item: str) -> tuple[str, Any]:
    """``"stages.2.depth=23"`` -> ``("stages.2.depth", 23)``; the value is read as YAML."""
    if not isinstance(item, str):
        raise SpecError(
            f"an override is a 'PATH=VALUE' string (e.g. 'stages.2.depth=23'), got {shown(item)}",
            file="override",
        )
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise SpecError(
            f"an override is PATH=VALUE (e.g. stages.2.depth=23), got {shown(item)}",
            file="--set",
        )
    try:
        return key.strip(), parse_scalar(value, file="--set")
    except SpecError as err:
        # The value's own line and column would read as a position in a file.
        at = f" (column {err.column} of the value)" if err.column and "\n" not in value else ""
        written = item if len(item) <= 60 and item.isprintable() else shown(item)
        raise SpecError(f"{written}: {err.message}{at}", file="--set") from None


def split_path(dotted: str) -> PathT:
    parts: list[str | int] = []
    for part in dotted.split("."):
        if not part:
            raise SpecError(f"bad override path {dotted!r}", file="override")
        # isdecimal and ASCII: "²".isdigit() is true, but int("²") fails.
        parts.append(int(part) if part.isascii() and part.isdecimal() else part)
    return tuple(parts)


def apply_overrides(doc: Document, overrides: Mapping[str, Any] | Sequence[str]) -> None:
    """Set each dotted path in place; numbers index lists, missing mapping keys are made."""
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    elif isinstance(overrides, Sequence) and not isinstance(overrides, str | bytes):
        items = [parse_override(o) for o in overrides]
    else:
        hint = " (put it in a list)" if isinstance(overrides, str) else ""
        raise SpecError(
            "overrides are a mapping of dotted paths to values or a list of 'PATH=VALUE' "
            f"strings, got {type(overrides).__name__} {shown(overrides)}{hint}",
            file="override",
        )
    for dotted, value in items:
        if not isinstance(dotted, str):
            raise SpecError(
                f"an override path is a dotted string such as 'stages.2.depth', "
                f"got {shown(dotted)}",
                file="override",
            )
        label = f"override {dotted}={shown(value)}"
        node: Any = doc.data
        path: PathT = ()
        *parents, last = split_path(dotted)
        for part in parents:
            path = (*path, _key(node, part))
            node = _step(node, path[-1], path, label, create=True)
        last = _key(node, last)
        path = (*path, last)
        if isinstance(node, list):
            _step(node, last, path, label, create=False)
        elif not isinstance(node, dict):
            raise SpecError(f"{format_path(path[:-1])} is not a mapping or list", file=label)
        node[last] = copied(value, label)
        drop_under(doc.marks, path)
        doc.overridden[path] = label


def copied(value: Any, file: str) -> Any:
    """A deep copy of data handed in from Python, which no YAML reader bounded."""
    try:
        return copy.deepcopy(value)
    except RecursionError:
        message = f"nested deeper than Python can copy (a spec file nests {MAX_DEPTH} at most)"
        raise SpecError(message, file=file) from None


def _key(node: Any, part: str | int) -> str | int:
    """A path part as the key it is in ``node``: digits index a list, but in a mapping
    they are a key like any other (spec keys are strings)."""
    return str(part) if isinstance(node, dict) and isinstance(part, int) else part


def _step(node: Any, part: str | int, path: PathT, label: str, create: bool) -> Any:
    if isinstance(node, list):
        if not isinstance(part, int) or part >= len(node):
            raise SpecError(
                f"{format_path(path[:-1])} has {len(node)} entries; no index {part}", file=label
            )
        return node[part]
    if isinstance(node, dict):
        if part not in node or node[part] is None:
            if not create:
                raise SpecError(f"no {format_path(path)}", file=label)
            node[part] = {}
        return node[part]
    raise SpecError(f"{format_path(path[:-1])} is not a mapping or list", file=label)
