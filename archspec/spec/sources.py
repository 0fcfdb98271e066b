"""Where a spec's text comes from: a file the user named, a shipped preset, or text
handed in (a checkpoint's embedded spec), and the files ``extends:`` may read.

The ``extends:`` rule, which keeps a spec from reading files its user did not mean:

* A preset name (``extends: resnet50``) is always allowed.
* A path is resolved from the directory of the file that holds it. Absolute paths are
  refused, and so is any path that leads (symlinks followed) outside the *spec root*:
  the directory of the spec file the user named, and everything below it.
* A spec that was not read from a file the user named (a shipped preset, YAML text,
  a checkpoint's embedded spec) reads no file at all: it may extend presets only.
* A file beside the spec wins over a preset of the same name; an extended spec is
  read through the same bounded reader as the spec itself.

Example::

    path, display = locate("resnet50")     # (…/specs/resnet50.yaml, "preset:resnet50")
    doc = resolve(read_file(path, display), Origin(path, None))
"""

from __future__ import annotations

import difflib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archspec.errors import Mark, SpecError, shown
from archspec.spec.presets import preset_path, presets
from archspec.spec.yaml_source import MAX_BYTES, load_yaml

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
        # file shown in errors -> the extends: line that brought it in
        self.via: dict[str, Mark] = {}
        self.files: list[Path] = []  # every file read for this document

    def mark(self, path: PathT) -> Mark | str | None:
        # A path an override made (--set a.b=1 creates "a"): the override is to blame,
        # not the file the rest came from.
        for made, label in self.overridden.items():
            if made[: len(path)] == path:
                return label
        for n in range(len(path), -1, -1):
            sub = path[:n]
            if sub in self.overridden:
                return self.overridden[sub]
            if sub in self.marks:
                return self.marks[sub]
        return None

    def chain(self, file: str) -> str:
        """`` (reached through extends: at child.yaml:1:10)`` for a file this document
        inherits from, or ``""`` for its own file."""
        hops = []
        while file in self.via and len(hops) <= MAX_EXTENDS:
            hops.append(str(self.via[file]))
            file = self.via[file].file
        return f" (reached through extends: at {' <- '.join(hops)})" if hops else ""


@dataclass(frozen=True)
class Origin:
    """Where a document was read: its file (None for text) and the spec root its
    ``extends:`` paths must stay in (None: presets only)."""

    file: Path | None
    root: Path | None
    chain: tuple[str, ...] = field(default=())


def read_file(path: Path, display: str | None = None) -> Document:
    """Read one YAML file into a positioned Document (no ``extends:`` resolution).
    At most the size limit is read: a larger file is refused without reading it all."""
    name = display or str(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise SpecError("is not a regular file", file=name)
            raw = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise SpecError(f"cannot read the spec: {err.strerror or err}", file=name) from None
    if len(raw) > MAX_BYTES:
        size = max(info.st_size, len(raw))
        raise SpecError(
            f"file too large ({size:,} bytes; the limit is {MAX_BYTES // 2**20} MiB)", file=name
        )
    doc = from_text(raw, name)
    doc.files.append(path)
    return doc


def from_text(text: str | bytes, file: str) -> Document:
    source = load_yaml(text, file)
    doc = Document(source.data, file)
    doc.marks.update(source.values)
    doc.marks.update(source.keys)
    return doc


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the file system, a loop of links
        return False


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def no_such_spec(text: str) -> str:
    """The message for a name that is neither a file nor a preset, with a hint."""
    close = difflib.get_close_matches(text, presets(), n=3, cutoff=0.6)
    if close:
        return f"no such file or preset; did you mean {' or '.join(map(repr, close))}?"
    return f"no such file or preset ({len(presets())} presets: `archspec list` shows them)"


def locate(spec: str | Path) -> tuple[Path, str]:
    """A spec argument (a path or a preset name) -> (file, name to show in errors).
    A file wins over a preset of the same name."""
    text = str(spec)
    candidate = Path(text)
    if _is_file(candidate):
        return candidate, text
    preset = preset_path(text)
    if preset is not None:
        return preset, f"preset:{text}"
    if _exists(candidate):
        raise SpecError("is not a regular file", file=text)
    raise SpecError(no_such_spec(text), file=text)


def locate_parent(ref: str, origin: Origin) -> tuple[Path, str]:
    """The file ``extends: ref`` names, under the rule in this module's docstring;
    a SpecError message (without position) when the rule refuses it."""
    if Path(ref).is_absolute() or ref.startswith("~"):
        raise SpecError(
            "an absolute path is not allowed; write a path relative to this file or a preset name"
        )
    if origin.file is not None and origin.root is not None:
        candidate = origin.file.parent / ref
        if _is_file(candidate):
            real, root = candidate.resolve(), origin.root.resolve()
            if not real.is_relative_to(root):
                raise SpecError(
                    f"{shown(ref)} leads outside {root}, the directory of the spec named; "
                    "extends: reads only files in it or below"
                )
            return candidate, str(candidate)
    preset = preset_path(ref)
    if preset is not None:
        return preset, f"preset:{ref}"
    if origin.root is None and origin.file is None:
        raise SpecError(
            f"{shown(ref)} is not a preset; a spec not read from a file (a checkpoint's, "
            "or text) may extend only a shipped preset"
        )
    raise SpecError(no_such_spec(ref))


def _merge(base: Any, over: Any) -> Any:
    """Deep-merge mappings; anything else (lists included) is replaced whole."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    return over


def drop_under(marks: dict[PathT, Mark], path: PathT) -> None:
    for key in [k for k in marks if k[: len(path)] == path and len(k) > len(path)]:
        del marks[key]


def resolve(doc: Document, origin: Origin) -> Document:
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
    if len(origin.chain) >= MAX_EXTENDS:
        raise SpecError(f"chains longer than {MAX_EXTENDS} files", **where)
    try:
        parent_path, display = locate_parent(parent_ref, origin)
    except SpecError as err:
        raise SpecError(f"cannot extend {shown(parent_ref)}: {err.message}", **where) from None
    key = str(parent_path.resolve())
    if key in origin.chain:
        raise SpecError(f"cycle through {shown(parent_ref)}", **where)
    # A preset is shipped text: its own extends: names presets only.
    is_preset = display.startswith("preset:")
    parent_origin = Origin(
        parent_path,
        None if is_preset else origin.root,
        (*origin.chain, key),
    )
    raw = read_file(parent_path, display)
    if mark is not None and display != doc.file:
        raw.via[display] = mark
    parent = resolve(raw, parent_origin)
    merged = Document(
        _merge(parent.data, {k: v for k, v in doc.data.items() if k != "extends"}), doc.file
    )
    merged.marks = dict(parent.marks)
    merged.via = {**doc.via, **parent.via}
    merged.files = [*doc.files, *parent.files]
    for path, value in _walk(doc.data):
        if not isinstance(value, dict):
            drop_under(merged.marks, path)
    merged.marks.update({p: m for p, m in doc.marks.items() if p != ("extends",)})
    return merged


def _walk(data: Any, prefix: PathT = ()) -> list[tuple[PathT, Any]]:
    out: list[tuple[PathT, Any]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out.append(((*prefix, k), v))
            out.extend(_walk(v, (*prefix, k)))
    return out
