"""The node tree of a YAML document built into plain Python values, with the position of
every value and key, under the bounds of :mod:`archspec.spec.yaml_source` (standard tags
only, a budget of values, a depth limit, merge keys)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from archspec.errors import Mark, SpecError

Path = tuple[str | int, ...]

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64

_YAML = "tag:yaml.org,2002:"
_STR = _YAML + "str"
_SEQ = _YAML + "seq"
_MAP = _YAML + "map"
_MERGE = _YAML + "merge"
# Implicit resolutions with no use in a spec: a date-like plain scalar and a lone "=".
# They become strings; the same tags written explicitly are still refused.
_IMPLICIT_AS_STR = frozenset({_YAML + "timestamp", _YAML + "value"})

# Called directly rather than through construct_object: these methods are stateless, so
# one shared instance is thread-safe and can never be led to any other constructor.
_SAFE = yaml.constructor.SafeConstructor()
_SCALARS: dict[str, tuple[str, Callable[[ScalarNode], Any]]] = {
    _STR: ("a string", _SAFE.construct_yaml_str),
    _YAML + "int": ("an integer", _SAFE.construct_yaml_int),
    _YAML + "float": ("a float", _SAFE.construct_yaml_float),
    _YAML + "bool": ("a boolean", _SAFE.construct_yaml_bool),
    _YAML + "null": ("null", _SAFE.construct_yaml_null),
}
_KIND_NAMES: dict[type[Node], str] = {
    ScalarNode: "a scalar",
    SequenceNode: "a list",
    MappingNode: "a mapping",
}


class _Budget:
    """Counts values built across a whole document, merged mappings included."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.used = 0

    def spend(self, node: Node, path: Path) -> None:
        self.used += 1
        if self.used > MAX_NODES:
            where = _mark(self.file, node)
            raise SpecError(
                f"too many nodes (alias expansion?): more than {MAX_NODES:,} values",
                file=self.file,
                line=where.line,
                column=where.column,
                path=path,
            )


class _Builder:
    """Turns a node tree into plain Python values, recording positions on the way."""

    def __init__(self, file: str, budget: _Budget) -> None:
        self.file = file
        self.budget = budget
        self.values: dict[Path, Mark] = {}
        self.keys: dict[Path, Mark] = {}

    def error(self, message: str, node: Node, path: Path) -> SpecError:
        where = _mark(self.file, node)
        return SpecError(message, file=self.file, line=where.line, column=where.column, path=path)

    def build(self, node: Node, path: Path, depth: int) -> Any:
        """``depth`` is the path length plus the merges passed through, so chains of
        merge keys are bounded like nesting (and cannot exhaust the Python stack)."""
        self.budget.spend(node, path)
        if depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels", node, path)
        self.values[path] = _mark(self.file, node)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                raise self.tag_error(node, path)
            return [
                self.build(item, (*path, index), depth + 1) for index, item in enumerate(node.value)
            ]
        if isinstance(node, MappingNode):
            if node.tag != _MAP:
                raise self.tag_error(node, path)
            return self.mapping(node, path, depth)
        raise self.error(f"unexpected YAML node {type(node).__name__}", node, path)

    def tag_error(self, node: Node, path: Path) -> SpecError:
        tag = _show_tag(node.tag)
        if node.tag in _SCALARS or node.tag in (_SEQ, _MAP):
            return self.error(
                f"YAML tag '{tag}' cannot be used on {_KIND_NAMES[type(node)]}", node, path
            )
        return self.error(f"unsupported YAML tag '{tag}'", node, path)

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        if node.tag == _MERGE and node.value == "<<":
            # "<<" is only special as a key; as a value it is the string it looks like.
            return node.value
        if node.tag not in _SCALARS:
            raise self.tag_error(node, path)
        kind, construct = _SCALARS[node.tag]
        try:
            return construct(node)
        except (ValueError, IndexError, KeyError, OverflowError):
            # e.g. "!!int abc", "!!bool maybe", "0x_", or more digits than Python
            # will convert (sys.get_int_max_str_digits).
            raise self.error(f"cannot read {_short(node.value)!r} as {kind}", node, path) from None

    def key(self, node: Node, path: Path) -> str:
        if not isinstance(node, ScalarNode):
            raise self.error(
                f"mapping keys must be strings, not {_KIND_NAMES[type(node)]}", node, path
            )
        self.budget.spend(node, path)
        key = self.scalar(node, path)
        if not isinstance(key, str):
            raise self.error(
                f"mapping keys must be strings, not {_describe(key)} "
                f"({_short(node.value)!r}; quote it to use it as a name)",
                node,
                path,
            )
        return key

    def mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first: dict[str, Node] = {}
        merges: list[Node] = []
        merge_key: Node | None = None
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                if merge_key is not None:
                    line = _mark(self.file, merge_key).line
                    raise self.error(f"duplicate key '<<' (first at line {line})", key_node, path)
                merge_key = key_node
                merges = self.merge_sources(value_node, path)
                continue
            key = self.key(key_node, path)
            entry = (*path, key)
            if key in first:
                line = _mark(self.file, first[key]).line
                raise self.error(
                    f"duplicate key {_short(key)!r} (first at line {line})", key_node, entry
                )
            first[key] = key_node
            self.keys[entry] = _mark(self.file, key_node)
            result[key] = self.build(value_node, entry, depth + 1)
        for source in merges:
            self.merge(result, source, path, depth)
        return result

    def merge_sources(self, node: Node, path: Path) -> list[Node]:
        if isinstance(node, MappingNode):
            return [node]
        if isinstance(node, SequenceNode) and all(
            isinstance(item, MappingNode) for item in node.value
        ):
            if node.tag != _SEQ:
                raise self.tag_error(node, path)
            return list(node.value)
        raise self.error(
            "the merge key '<<' takes a mapping or a list of mappings (e.g. <<: *defaults)",
            node,
            path,
        )

    def merge(self, result: dict[str, Any], source: Node, path: Path, depth: int) -> None:
        # Built apart so that entries this mapping overrides leave no stale positions.
        sub = _Builder(self.file, self.budget)
        merged = sub.build(source, path, depth + 1)
        added = [key for key in merged if key not in result]
        for key in added:
            result[key] = merged[key]
        taken = set(added)
        size = len(path)
        for found, target in ((sub.values, self.values), (sub.keys, self.keys)):
            for entry, where in found.items():
                if len(entry) > size and entry[size] in taken:
                    target[entry] = where


def _mark(file: str, node: Node) -> Mark:
    # PyYAML counts lines and columns from 0.
    return Mark(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _show_tag(tag: str) -> str:
    return _short("!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _short(text: str, limit: int = 60) -> str:
    """Keep user text from stretching a message over many lines or screens."""
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())
