"""Reading specs: file or preset -> positioned YAML -> ``extends:`` -> overrides -> ArchSpec.

Every failure is a :class:`~archspec.errors.SpecError` naming the file, line, column
and field, wherever in that chain it happens.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from archspec.errors import Mark, SpecError, format_path, shown
from archspec.spec.model import ArchSpec, stage_errors
from archspec.spec.presets import preset_path, presets
from archspec.spec.yaml_source import MAX_DEPTH, load_yaml, parse_scalar

PathT = tuple[str | int, ...]
MAX_EXTENDS = 32


class Document:
    """A spec mapping with the position of each of its parts, across ``extends:`` files
    and overrides, so an error anywhere can be pointed at where it was written."""

    def __init__(self, data: dict[str, Any], file: str) -> None:
        self.data = data
        self.file = file
        self.marks: dict[PathT, Mark] = {}  # key mark if the path is a mapping entry
        self.overridden: dict[PathT, str] = {}  # path -> the override that set it

    def mark(self, path: PathT) -> Mark | str | None:
        for n in range(len(path), -1, -1):
            sub = path[:n]
            if sub in self.overridden:
                return self.overridden[sub]
            if sub in self.marks:
                return self.marks[sub]
        return None


def read_file(path: Path, display: str | None = None) -> Document:
    """Read one YAML file into a positioned Document (no ``extends:`` resolution)."""
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise SpecError(f"cannot read the spec: {err.strerror or err}", file=name) from None
    return from_text(raw, name)


def from_text(text: str | bytes, file: str) -> Document:
    source = load_yaml(text, file)
    doc = Document(source.data, file)
    doc.marks.update(source.values)
    doc.marks.update(source.keys)
    return doc


def locate(spec: str | Path, relative_to: Path | None = None) -> tuple[Path, str]:
    """A spec argument (a path or a preset name) -> (file, name to show in errors)."""
    text = str(spec)
    candidates = [Path(text)]
    if relative_to is not None and not Path(text).is_absolute():
        candidates.insert(0, relative_to / text)
    for candidate in candidates:
        if candidate.is_file():
            return candidate, str(candidate)
    preset = preset_path(text)
    if preset is not None:
        return preset, f"preset:{text}"
    if candidates[0].exists():
        raise SpecError("is not a file", file=text)
    raise SpecError(f"no such file or preset; presets: {', '.join(presets())}", file=text)


def _merge(base: Any, over: Any) -> Any:
    """Deep-merge mappings; anything else (lists included) is replaced whole."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    return over


def _drop_under(marks: dict[PathT, Mark], path: PathT) -> None:
    for key in [k for k in marks if k[: len(path)] == path and len(k) > len(path)]:
        del marks[key]


def resolve(doc: Document, origin: Path | None, chain: tuple[str, ...] = ()) -> Document:
    """Resolve ``extends:``: load the parent, merge this document over it."""
    parent_ref = doc.data.get("extends")
    if parent_ref is None:
        doc.data.pop("extends", None)
        return doc
    mark = doc.marks.get(("extends",))
    where = {
        "file": doc.file,
        "line": mark.line if mark else None,
        "column": mark.column if mark else None,
        "path": ("extends",),
    }
    if not isinstance(parent_ref, str) or not parent_ref:
        raise SpecError("must name a preset or a path", **where)
    if len(chain) >= MAX_EXTENDS:
        raise SpecError(f"chains longer than {MAX_EXTENDS} files", **where)
    try:
        parent_path, display = locate(parent_ref, origin.parent if origin else None)
    except SpecError as err:
        raise SpecError(f"cannot extend {parent_ref!r}: {err.message}", **where) from None
    key = str(parent_path.resolve())
    if key in chain:
        raise SpecError(f"cycle through {parent_ref!r}", **where)
    parent = resolve(read_file(parent_path, display), parent_path, (*chain, key))
    merged = Document(
        _merge(parent.data, {k: v for k, v in doc.data.items() if k != "extends"}), doc.file
    )
    merged.marks = dict(parent.marks)
    for path, value in _walk(doc.data):
        if not isinstance(value, dict):
            _drop_under(merged.marks, path)
    merged.marks.update({p: m for p, m in doc.marks.items() if p != ("extends",)})
    return merged


def _walk(data: Any, prefix: PathT = ()) -> list[tuple[PathT, Any]]:
    out: list[tuple[PathT, Any]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out.append(((*prefix, k), v))
            out.extend(_walk(v, (*prefix, k)))
    return out


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
        node[last] = _copy(value, label)
        _drop_under(doc.marks, path)
        doc.overridden[path] = label


def _copy(value: Any, file: str) -> Any:
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


def validate(doc: Document) -> ArchSpec:
    """Validate a resolved document as an ArchSpec, errors pointed at their source."""
    try:
        return ArchSpec.model_validate(doc.data)
    except ValidationError as exc:
        errors = exc.errors()
        # The stages are resolved only once every field is valid; a spec with a bad head
        # gets its stages checked here, so the count of further problems includes theirs.
        if not any(e["loc"][:1] in (("stages",), ("defaults",)) for e in errors):
            errors += stage_errors(doc.data)
        raise spec_error(errors, doc) from None


def spec_error(errors: Sequence[Mapping[str, Any]], doc: Document) -> SpecError:
    """The most specific of pydantic's errors, as one positioned line."""
    candidates = []
    for e in errors:
        path = _clean_loc(tuple(e["loc"]), doc.data)
        if e["type"] == "unknown_key" and "ctx" in e:
            path = (*path, e["ctx"]["key"])
        candidates.append((len(path), path, e))
    # The deepest error; at equal depth, rather a union branch that took the value's kind
    # (a list for input.size: "at most 2 items") than one refusing it ("not an integer").
    _, path, e = max(candidates, key=lambda c: (c[0], not c[2]["type"].endswith("_type")))
    message = _message(e)
    if len(candidates) > 1:
        # Errors at an ancestor of the chosen path are the other branches of a union
        # failing on the same value (stem: not a name, not a list ...), not more problems.
        others = len({c[1] for c in candidates if c[1] != path[: len(c[1])]})
        if others:
            message += f" (and {others} more problem{'s' if others > 1 else ''})"
    mark = doc.mark(path)
    if isinstance(mark, str):
        return SpecError(message, file=mark, path=path)
    return SpecError(
        message,
        file=mark.file if mark else doc.file,
        line=mark.line if mark else None,
        column=mark.column if mark else None,
        path=path,
    )


def _clean_loc(loc: PathT, data: Any) -> PathT:
    """Drop pydantic's union-branch labels, keep the keys and indexes the user wrote."""
    out: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list | tuple) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            node = node[part]
            out.append(part)
        elif isinstance(part, str) and ("[" in part or part[:1].isupper() or "-" in part):
            continue  # a union branch such as 'tuple[...]' or 'NamedStem'
        else:
            out.append(part)
            node = None
    return tuple(out)


# What a pattern in the schema means, for the error when a value does not match it.
_PATTERNS = {r"^[A-Za-z0-9_.\-]+$": "may hold only letters, digits and _ . -"}


def _message(e: Mapping[str, Any]) -> str:
    kind, msg = e["type"], str(e["msg"])
    value = e.get("input")
    ctx = e.get("ctx") or {}
    if kind == "missing":
        return "missing required field"
    if kind in {"unknown_key", "spec_error", "stem_layer", "value_error"}:
        return msg.removeprefix("Value error, ")  # a validator's own, complete message
    msg = msg.replace("Input should be", "must be").replace("Value error, ", "")
    # pydantic's words for Python types, in the words of YAML
    msg = re.sub(r"a valid dictionary( or instance of \w+)?", "a mapping", msg)
    msg = msg.replace("a valid tuple", "a list").replace("a valid list", "a list")
    if kind in {"too_short", "too_long"}:  # "Tuple should have at least 1 item after ..."
        msg = "must have" + msg.split(" should have", 1)[-1].replace(" after validation", "")
    elif kind == "string_too_short":
        n = ctx.get("min_length", 1)
        msg = "must not be empty" if n == 1 else f"must have at least {n} characters"
    elif kind == "string_too_long":
        msg = f"must have at most {ctx.get('max_length')} characters"
    elif kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        msg = _PATTERNS.get(pattern, f"must match the pattern {pattern}")
    if kind in {"int_type", "bool_type", "string_type", "float_type"} and isinstance(value, float):
        msg += " (a whole number, not a fraction)" if kind == "int_type" else ""
    if isinstance(value, str | int | float | bool) or value is None:
        msg += f" (got {shown(value)})"
    elif isinstance(value, dict | list):
        msg += f" (got a {'mapping' if isinstance(value, dict) else 'list'})"
    return msg


def load(
    spec: str | Path | ArchSpec,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
) -> ArchSpec:
    """Load a spec from a preset name or a YAML path, resolve ``extends:`` and apply
    dotted-path overrides, then validate.

    Example::

        spec = archspec.load("resnet50")
        spec = archspec.load("my.yaml", overrides={"stages.0.depth": 2})
    """
    if isinstance(spec, ArchSpec):
        return spec.override(overrides) if overrides else spec
    path, display = locate(spec)
    doc = resolve(read_file(path, display), path, (str(path.resolve()),))
    if overrides:
        apply_overrides(doc, overrides)
    return validate(doc)


def load_text(
    text: str | bytes,
    file: str = "<string>",
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
) -> ArchSpec:
    """Like :func:`load`, for YAML text; ``extends:`` paths resolve from the working dir."""
    doc = resolve(from_text(text, file), None)
    if overrides:
        apply_overrides(doc, overrides)
    return validate(doc)


def from_data(
    data: dict[str, Any],
    file: str = "<spec>",
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
) -> ArchSpec:
    doc = Document(_copy(data, file), file)
    if overrides:
        apply_overrides(doc, overrides)
    return validate(doc)
