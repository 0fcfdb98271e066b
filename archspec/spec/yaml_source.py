"""Read a YAML spec safely and remember where every value was written.

Guarantees of :func:`load_yaml` (and :func:`parse_scalar`, which follows the same rules):

* **Nothing runs.** PyYAML only composes the node tree; every Python value is built here
  from the nodes. Only the standard tags ``!!str``, ``!!int``, ``!!float``, ``!!bool``,
  ``!!null``, ``!!seq`` and ``!!map`` are accepted; any other tag (``!!python/...``,
  ``!!binary``, ``!!set``, ``!!timestamp``, ``!custom``) is refused, so a spec from an
  untrusted source cannot construct objects or call functions. Plain scalars resolve as
  with ``yaml.safe_load`` (YAML 1.1: ``yes`` is true, ``012`` is 10), except that a plain
  scalar which looks like a date stays a string: a spec has no use for datetime objects.
  ``.nan`` and ``.inf`` become float NaN and infinity; validation rejects them later.
* **Bounded work.** Input over 1 MiB is refused before parsing. Aliases expand each time
  they are used, so at most 100,000 values may be built (a "billion laughs" document fails
  in milliseconds), nesting is limited to 64 levels (which also keeps PyYAML's recursive
  composer far from Python's recursion limit) and an alias inside its own anchor is refused.
* **One error type.** Every problem with the input, from undecodable bytes to a syntax
  error, raises :class:`~archspec.errors.SpecError` with a one-line message and, where
  known, the 1-based line and column, so the CLI can print ``file:line:col: message``.
* **Plain data.** The document must be one mapping with string keys and no duplicate
  keys; values are dict, list, str, int, float, bool or None.
* **Positions.** :class:`Source` maps every path (``("stages", 1, "depth")``) to where
  its value starts and, for mapping entries, where its key is written, so later
  validation errors can point at the offending line. A value reached through an alias
  is placed at the alias (``*base``); the values inside it at the anchor, where they
  are written.

Merge keys (``<<: *base`` or ``<<: [*a, *b]``) are supported because shared defaults are
common in YAML configs: the entries of the merged mapping(s) are added, after the
mapping's own entries, unless it sets them itself; with a list, earlier mappings win over
later ones. Merged entries keep the positions of the anchor they come from. A chain of
merges counts towards the nesting limit, and ``<<`` may appear once per mapping.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode

from archspec.errors import Mark, SpecError
from archspec.spec.yaml_build import (
    _IMPLICIT_AS_STR,
    _STR,
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    _Budget,
    _Builder,
    _describe,
    _mark,
    _one_line,
    _short,
)

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Path",
    "Source",
    "load_yaml",
    "parse_scalar",
]

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Source:
    """A parsed spec document and the source position of each of its parts."""

    data: dict[str, Any]
    file: str
    values: dict[Path, Mark]
    keys: dict[Path, Mark]

    def mark(self, path: Path) -> Mark | None:
        """Best position for ``path``: its key, else its value, else the nearest
        ancestor's (a path the document lacks, such as a defaulted field, is reported
        where its parent is written), else None."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            found = self.keys.get(prefix) or self.values.get(prefix)
            if found is not None:
                return found
        return None


def load_yaml(text: str | bytes, file: str = "<string>") -> Source:
    """Parse a spec document; raise :class:`SpecError` for anything unacceptable."""
    source = _decode(text, file)
    root = _compose(source, file)
    if root is None:
        raise SpecError("empty spec", file=file)
    data, builder = _build(root, file)
    if isinstance(data, dict):
        return Source(data=data, file=file, values=builder.values, keys=builder.keys)
    where = _mark(file, root)
    if data is None and root.value == "":
        raise SpecError("empty spec", file=file, line=where.line, column=where.column)
    raise SpecError(
        f"a spec must be a mapping, not {_describe(data)}",
        file=file,
        line=where.line,
        column=where.column,
    )


def parse_scalar(text: str, file: str = "<override>") -> Any:
    """Parse one YAML value, as given on the command line: ``23``, ``basic``,
    ``[1, 2]``, ``{a: 1}``. Same safety rules as :func:`load_yaml`. Block collections
    (``a: 1``, ``- 1``) are refused: on a command line they are almost always a typo."""
    source = _decode(text, file)
    root = _compose(source, file)
    if root is None:
        raise SpecError("empty value (write null for none, or '' for an empty string)", file=file)
    if isinstance(root, SequenceNode | MappingNode) and not root.flow_style:
        where = _mark(file, root)
        kind = "list" if isinstance(root, SequenceNode) else "mapping"
        raise SpecError(
            f"expected a single value, not a block {kind} (use flow style: [..] or {{..}})",
            file=file,
            line=where.line,
            column=where.column,
        )
    return _build(root, file)[0]


def _decode(text: str | bytes, file: str) -> str:
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise SpecError(_too_large(len(text)), file=file)
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            line, column = _line_column(text, exc.start, b"\n")
            raise SpecError("not a UTF-8 text file", file=file, line=line, column=column) from None
    elif isinstance(text, str):
        # len() first so a huge string is refused without encoding it.
        size = len(text)
        if size <= MAX_BYTES:
            size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_BYTES:
            raise SpecError(_too_large(size), file=file)
        decoded = text
    else:
        raise TypeError(f"expected str or bytes, not {type(text).__name__}")
    # Editors do not count a byte-order mark as a column, so neither should the marks.
    return decoded.removeprefix("\ufeff")


def _too_large(size: int) -> str:
    return f"file too large ({size:,} bytes; the limit is {MAX_BYTES // 1024 // 1024} MiB)"


def _line_column(text: str | bytes, index: int, newline: Any) -> tuple[int, int]:
    line = text.count(newline, 0, index) + 1
    column = index - (text.rfind(newline, 0, index) + 1) + 1
    return line, column


EXPONENT_NUMBER = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+")
_FLOAT = "tag:yaml.org,2002:float"


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer bounds nesting, refuses recursive aliases and places
    each use of an alias at the alias itself."""

    def __init__(self, stream: str, file: str) -> None:
        # Set before super().__init__, which already reads (and may reject) the stream.
        self._file = file
        self._depth = 0
        self._open_anchors: set[str] = set()
        super().__init__(stream)

    def resolve(self, kind: type[Node], value: str | None, implicit: Any) -> str:
        tag = super().resolve(kind, value, implicit)
        # YAML 1.1 reads `1e-3` (no dot) as a string; YAML 1.2 and every reader of a
        # config file since read a number, as a user writing `rtol: 1e-3` means.
        if tag == _STR and value is not None and implicit[0] and EXPONENT_NUMBER.fullmatch(value):
            return _FLOAT
        return _STR if tag in _IMPLICIT_AS_STR else tag

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            if event.anchor in self._open_anchors:
                raise self._error(
                    f"recursive alias '*{_short(event.anchor)}' (the anchor contains itself)",
                    event.start_mark,
                )
            target = super().compose_node(parent, index)
            # The composer hands back the anchored node itself; a shallow copy (sharing
            # the children) lets this use of it carry its own position.
            alias = copy.copy(target)
            alias.start_mark, alias.end_mark = event.start_mark, event.end_mark
            return alias
        # _depth is the number of collections around this node, i.e. its path length.
        if self._depth > MAX_DEPTH:
            raise self._error(f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
        anchor = event.anchor
        self._depth += 1
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.discard(anchor)

    def _error(self, message: str, mark: yaml.Mark) -> SpecError:
        return SpecError(message, file=self._file, line=mark.line + 1, column=mark.column + 1)


def _compose(text: str, file: str) -> Node | None:
    """The document's root node, or None for an empty stream."""
    loader: _Loader | None = None
    try:
        loader = _Loader(text, file)
        return loader.get_single_node()
    except SpecError:
        raise
    except yaml.reader.ReaderError as exc:
        line, column = _line_column(text, exc.position, "\n")
        if exc.character == 0:
            message = "not a UTF-8 text file (it contains NUL characters)"
        else:
            message = f"unsupported character U+{exc.character:04X} ({exc.reason})"
        raise SpecError(message, file=file, line=line, column=column) from None
    except yaml.MarkedYAMLError as exc:
        raise _from_marked(exc, file) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML error: {_one_line(str(exc))}", file=file) from None
    except RecursionError:
        raise SpecError(f"nesting deeper than {MAX_DEPTH} levels", file=file) from None
    except Exception as exc:
        # PyYAML is not meant to fail otherwise, but the promise to callers is "SpecError
        # or a value", so an unforeseen parser failure is still reported as bad input.
        raise SpecError(
            f"YAML error: the parser failed ({type(exc).__name__}: {_one_line(str(exc))})",
            file=file,
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def _from_marked(exc: yaml.MarkedYAMLError, file: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    context, problem = exc.context or "", exc.problem or ""
    if context.startswith("expected a single document"):
        message = "expected a single YAML document, found a second one"
    elif context.startswith("found duplicate anchor") and exc.context_mark is not None:
        anchor = context.removeprefix("found duplicate anchor ").split(";")[0]
        message = f"duplicate anchor {anchor} (first at line {exc.context_mark.line + 1})"
    else:
        message = f"YAML syntax error: {problem or context}"
        if problem and context:
            message += f" ({context}"
            if exc.context_mark is not None and exc.context_mark is not mark:
                message += f" at line {exc.context_mark.line + 1}"
            message += ")"
    if mark is None:
        return SpecError(_one_line(message), file=file)
    return SpecError(_one_line(message), file=file, line=mark.line + 1, column=mark.column + 1)


def _build(root: Node, file: str) -> tuple[Any, _Builder]:
    builder = _Builder(file, _Budget(file))
    try:
        return builder.build(root, (), 0), builder
    except RecursionError:
        # Nesting is bounded far below the recursion limit; this only happens when the
        # caller is itself almost out of stack, and must still surface as a SpecError.
        raise SpecError(f"nesting deeper than {MAX_DEPTH} levels", file=file) from None
