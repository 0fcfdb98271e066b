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

from archspec.errors import GraphError, SpecError, format_path, shown
from archspec.spec.model import ArchSpec, stage_errors
from archspec.spec.overrides import apply_overrides, copied
from archspec.spec.sources import (
    Document,
    Origin,
    PathT,
    from_text,
    locate,
    read_file,
    resolve,
)


def validate(doc: Document) -> ArchSpec:
    """Validate a resolved document as an ArchSpec, errors pointed at their source."""
    try:
        spec = ArchSpec.model_validate(doc.data)
    except ValidationError as exc:
        errors = exc.errors()
        # The stages are resolved only once every field is valid; a spec with a bad head
        # gets its stages checked here, so the count of further problems includes theirs.
        if not any(e["loc"][:1] in (("stages",), ("defaults",)) for e in errors):
            errors += stage_errors(doc.data)
        error = spec_error(errors, doc)
        more = _behind_unknown_keys(doc.data, errors)
        if more:
            error.problems = spec_error([*errors, *more], doc).problems
        raise error from None
    return spec


def with_stage_line(
    error: GraphError,
    spec: str | Path | ArchSpec,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
) -> GraphError:
    """``error`` with where its stage is written (``stage 2 is written at
    spec.yaml:11:5``), when its block (``layer2.0``) is in a stage of a spec read from a
    file. Called on the error path only: the spec is read again for its positions."""
    found = re.match(r"layer(\d+)(\.|$)", error.scope or "")
    if found is None or "(stage " in error.message or isinstance(spec, ArchSpec):
        return error
    index = int(found.group(1)) - 1
    try:
        path, display = locate(spec)
        root = None if display.startswith("preset:") else path.parent
        doc = resolve(read_file(path, display), Origin(path, root, (str(path.resolve()),)))
        if overrides:
            apply_overrides(doc, overrides)
    except SpecError:  # the file changed since: no position to add
        return error
    where = doc.mark(("stages", index))
    if where is None:
        return error
    places = [f"stage {index + 1} is written at {where}"]
    # A cause outside the stage: the input too small for the downsampling is set by the
    # input size; a setting the stage does not write comes from defaults.
    size = doc.marks.get(("input", "size")) or doc.marks.get(("input",))
    if "input is too small" in error.message and size is not None:
        places.append(f"the input size at {size}")
    defaults = doc.marks.get(("defaults",))
    if defaults is not None and "input is too small" not in error.message:
        places.append(f"its defaults at {defaults}")
    message = f"{error.message} ({'; '.join(places)})"
    return GraphError(message, scope=error.scope, shapes=error.shapes)


MAX_ROUNDS = 16


def _behind_unknown_keys(data: Any, errors: list[Any]) -> list[Any]:
    """The errors an unknown key hid: a model refuses an unknown key before it checks
    its fields, so ``validate --all`` validates again without those keys."""
    trimmed = copy.deepcopy(data)
    found: list[Any] = []
    seen = {(tuple(e["loc"]), e["type"]) for e in errors}
    latest = errors
    for _ in range(MAX_ROUNDS):
        removed = False
        for e in latest:
            if e["type"] == "unknown_key" and "ctx" in e:
                node = trimmed
                for part in _clean_loc(tuple(e["loc"]), trimmed):
                    node = node[part] if isinstance(node, dict | list) else None
                if isinstance(node, dict) and e["ctx"]["key"] in node:
                    del node[e["ctx"]["key"]]
                    removed = True
        if not removed:
            break
        try:
            ArchSpec.model_validate(trimmed)
            break
        except ValidationError as exc:
            latest = exc.errors()
            if not any(e["loc"][:1] in (("stages",), ("defaults",)) for e in latest):
                latest += stage_errors(trimmed)
        latest = [e for e in latest if (tuple(e["loc"]), e["type"]) not in seen]
        seen |= {(tuple(e["loc"]), e["type"]) for e in latest}
        found += latest
    return found


def spec_error(errors: Sequence[Mapping[str, Any]], doc: Document) -> SpecError:
    """The most specific of pydantic's errors, as one positioned line; every distinct
    problem, positioned the same way, is in its ``problems`` (``validate --all``)."""
    candidates = []
    for e in errors:
        path = _clean_loc(tuple(e["loc"]), doc.data)
        if e["type"] == "unknown_key" and "ctx" in e:
            path = (*path, e["ctx"]["key"])
        candidates.append((len(path), path, e))
    # The deepest error; at equal depth, rather a union branch that took the value's kind
    # (a list for input.size: "at most 2 items") than one refusing it ("not an integer").
    _, path, e = max(candidates, key=_rank)
    message = _message(e)
    # Errors at an ancestor of another error's path are the other branches of a union
    # failing on the same value (stem: not a name, not a list ...), not more problems.
    paths = {c[1] for c in candidates}
    distinct = [p for p in paths if not any(o != p and o[: len(p)] == p for o in paths)]
    others = len({p for p in distinct if p != path[: len(p)]})
    if others:
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    first = _positioned(message, path, doc)
    problems = []
    for p in sorted(distinct, key=lambda p: _order(p, doc)):
        best = max((c for c in candidates if c[1] == p), key=_rank)
        problems.append(_positioned(_message(best[2]), p, doc))
    first.problems = tuple(problems) or (first,)
    return first


def _rank(candidate: tuple[int, PathT, Mapping[str, Any]]) -> tuple[int, bool]:
    return candidate[0], not candidate[2]["type"].endswith("_type")


def _order(path: PathT, doc: Document) -> tuple[str, int, int, str]:
    mark = doc.mark(path)
    if isinstance(mark, str) or mark is None:
        return (str(mark), 0, 0, format_path(path))
    return (mark.file, mark.line, mark.column, format_path(path))


def _positioned(message: str, path: PathT, doc: Document) -> SpecError:
    mark = doc.mark(path)
    if isinstance(mark, str):
        return SpecError(message, file=mark, path=path)
    if path[:1] == ("stages",):
        # A stage is the defaults with its own keys over them: an override of the
        # defaults (--set defaults.width=64) may be what broke the stage written here.
        made = [label for p, label in doc.overridden.items() if p[:1] == ("defaults",)]
        if made:
            message += f" (after {', '.join(made)})"
    if mark is not None:
        message += doc.chain(mark.file)  # a parent's line: say how the user's file got there
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
    return load_with_files(spec, overrides)[0]


def load_with_files(
    spec: str | Path | ArchSpec,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
) -> tuple[ArchSpec, tuple[Path, ...]]:
    """:func:`load`, and every file it read (the spec's, then its ``extends:`` chain), so
    a command can refuse to write over any of them.

    Example::

        spec, read = load_with_files("my.yaml")     # read: (my.yaml, base.yaml, …/resnet50.yaml)
    """
    if isinstance(spec, ArchSpec):
        return (spec.override(overrides) if overrides else spec), ()
    if not isinstance(spec, str | Path):
        raise SpecError(
            f"a spec is a preset name, a path or an ArchSpec, not {type(spec).__name__} "
            f"{shown(spec)}",
            file="<argument>",
        )
    path, display = locate(spec)
    preset = display.startswith("preset:")
    if preset and not overrides:
        return _shipped(path, display)
    # A preset is shipped text and extends presets only; a file the user named may
    # extend files in its own directory (archspec/spec/sources.py has the rule).
    return _read(path, display, None if preset else path.parent, overrides)


def _read(
    path: Path,
    display: str,
    root: Path | None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
) -> tuple[ArchSpec, tuple[Path, ...]]:
    doc = resolve(read_file(path, display), Origin(path, root, (str(path.resolve()),)))
    if overrides:
        apply_overrides(doc, overrides)
    return validate(doc), tuple(doc.files)


# Validated presets, by file: loading a preset again (a build in a loop, a sweep's base)
# skips parsing and validation. Each caller gets a shallow copy (the fields are frozen and
# shared; a copy's private state is its own), and each entry keeps the (mtime, size) of
# every file it read, so an edited or removed file is read anew.
_PRESETS: dict[Path, tuple[tuple[tuple[int, int], ...] | None, ArchSpec, tuple[Path, ...]]] = {}


def _stamps(files: Sequence[Path]) -> tuple[tuple[int, int], ...] | None:
    try:
        return tuple((s.st_mtime_ns, s.st_size) for s in (f.stat() for f in files))
    except OSError:
        return None  # gone: read again, and let reading say what is wrong


def _shipped(path: Path, display: str) -> tuple[ArchSpec, tuple[Path, ...]]:
    hit = _PRESETS.get(path)
    if hit is None or _stamps(hit[2]) != hit[0]:
        spec, files = _read(path, display, None)
        stamps = _stamps(files)
        hit = (stamps, spec, files)
        if stamps is not None:
            _PRESETS[path] = hit
    return hit[1].model_copy(), hit[2]


def load_text(
    text: str | bytes,
    file: str = "<string>",
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
) -> ArchSpec:
    """Like :func:`load`, for YAML text. Text has no directory and may come from anywhere
    (a checkpoint's embedded spec): its ``extends:`` may name a shipped preset only, so
    no file is ever read on its behalf."""
    doc = resolve(from_text(text, file), Origin(None, None))
    if overrides:
        apply_overrides(doc, overrides)
    return validate(doc)


def from_data(
    data: dict[str, Any],
    file: str = "<spec>",
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
) -> ArchSpec:
    doc = Document(copied(data, file), file)
    if overrides:
        apply_overrides(doc, overrides)
    return validate(doc)
