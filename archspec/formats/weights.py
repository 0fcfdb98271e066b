"""``.safetensors`` checkpoints: the weights as safetensors tensors, the normalized spec
and its ``arch_id`` in the file's metadata (string to string, as the format has it)::

    {"format": "archspec.checkpoint", "version": "1", "archspec": "0.1.0",
     "spec": "<the spec as YAML>", "arch_id": "...", "seed": "0"}

Reading one runs no pickle: safetensors' own loader reads a JSON header and raw tensor
bytes, the spec is parsed as text (its ``extends:`` may name a shipped preset only, so
no file is read on its behalf), and the tensors' names, shapes and dtypes are checked
against the spec's model, from the header, before any tensor is read.

Example::

    save_safetensors(model, spec, "resnet20.safetensors", seed=0)
    archspec.load_checkpoint("resnet20.safetensors")
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import torch

from archspec.checkpoint import FORMAT, VERSION, Checkpoint, _check_fits, _misfit
from archspec.errors import ArchSpecError, FileError, shown
from archspec.files import atomic_file
from archspec.spec.model import ArchSpec


def is_safetensors(path: Path) -> bool:
    """Whether ``path`` starts as a safetensors file does: an 8-byte little-endian header
    length, then the header's ``{``."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    return len(head) == 9 and head[8:] == b"{" and int.from_bytes(head[:8], "little") > 0


def _need() -> None:
    if importlib.util.find_spec("safetensors") is None:
        raise ArchSpecError(
            "safetensors files need the safetensors package: pip install 'archspec[safetensors]'"
        )


def save_safetensors(
    model: torch.nn.Module, spec: ArchSpec, path: str | Path, *, seed: int | None = None
) -> Path:
    """Write ``model``'s weights with ``spec`` to ``path`` (safetensors), atomically.

    Example::

        save_safetensors(archspec.build(spec, seed=0), spec, "net.safetensors", seed=0)
    """
    _need()
    from safetensors.torch import save

    from archspec import __version__

    path = Path(path)
    state = model.state_dict()
    _check_fits(state, spec)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    metadata = {
        "format": FORMAT,
        "version": str(VERSION),
        "archspec": __version__,
        "spec": spec.to_yaml(),
        "arch_id": spec.arch_id,
    }
    if seed is not None:
        metadata["seed"] = str(seed)
    try:
        # Bytes, then written into the atomic write's file: save_file would make a new
        # file in its place, without the permissions of the file it replaces.
        data = save(tensors, metadata=metadata)
    except (ValueError, RuntimeError) as exc:  # tensors sharing memory
        why = " ".join(str(exc).split())[:200]
        raise FileError(path, f"cannot write safetensors: {why}") from None
    with atomic_file(path) as f:
        f.write(data)
    return path


def read_safetensors(path: str | Path) -> Checkpoint:
    """Read an archspec ``.safetensors`` checkpoint, checked, without building the model.

    Example::

        read_safetensors("resnet20.safetensors").spec.name     # 'resnet20'
    """
    _need()
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata()
            header = {k: _entry(f.get_slice(k)) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        why = " ".join(str(exc).split())[:200]
        raise ArchSpecError(f"{path}: not a safetensors file ({why})") from None
    meta = _check_metadata(metadata, path)
    spec = ArchSpec.from_yaml(meta["spec"], file=f"{path}[spec]")
    if spec.arch_id != meta["arch_id"]:
        raise ArchSpecError(
            f"{path}: its spec now gives architecture {spec.arch_id}, not the "
            f"{meta['arch_id']} it was saved with (saved by archspec {meta.get('archspec')})"
        )
    _check_header(header, spec, path)
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        why = " ".join(str(exc).split())[:200]
        raise ArchSpecError(f"{path}: the tensors cannot be read ({why})") from None
    seed = meta.get("seed")
    return Checkpoint(spec, meta["arch_id"], None if seed is None else int(seed), state)


def _check_metadata(metadata: dict[str, str] | None, path: Path) -> dict[str, str]:
    """The metadata of an archspec checkpoint, each field there and of its form."""
    if not metadata or metadata.get("format") != FORMAT:
        raise ArchSpecError(f"{path}: not an archspec checkpoint (no {FORMAT!r} metadata)")
    if metadata.get("version") != str(VERSION):
        raise ArchSpecError(
            f"{path}: checkpoint format version {shown(metadata.get('version'))}; this "
            f"archspec reads version {VERSION}"
        )
    for key in ("spec", "arch_id"):
        if not metadata.get(key):
            raise ArchSpecError(f"{path}: not a complete checkpoint (no {key!r} metadata)")
    seed = metadata.get("seed")
    if seed is not None:
        try:
            int(seed)
        except ValueError:
            why = f"the checkpoint's seed {shown(seed)} is not a number"
            raise ArchSpecError(f"{path}: {why}") from None
    return metadata


Header = dict[str, tuple[tuple[int, ...], str]]


def _entry(view: Any) -> tuple[tuple[int, ...], str]:
    """A tensor's shape and dtype from the header, without reading its data."""
    return tuple(view.get_shape()), view.get_dtype()


def _check_header(header: Header, spec: ArchSpec, path: Path) -> None:
    """Refuse tensors that do not fit ``spec``'s model: names, shapes, kinds of dtype."""
    from archspec.codegen.torch_module import build_module
    from archspec.lowering import lower

    model = build_module(lower(spec), device="meta")
    expected = model.state_dict()
    shapes = {k: torch.empty(shape, device="meta") for k, (shape, _) in header.items()}
    wrong = _misfit(shapes, model)
    if wrong:
        raise ArchSpecError(f"{path}: the weights do not fit the spec: {wrong}")
    for key, (_, dtype) in header.items():
        want = expected[key]
        if _kind(dtype) != ("float" if want.is_floating_point() else str(want.dtype)):
            raise ArchSpecError(
                f"{path}: tensor {shown(key)} is {dtype}; the spec's model holds "
                f"{str(want.dtype).removeprefix('torch.')} there"
            )


_FLOATS = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}
_INTS = {"I64": "torch.int64", "I32": "torch.int32", "I16": "torch.int16", "I8": "torch.int8"}


def _kind(dtype: str) -> str:
    """A safetensors dtype as the check compares it: floats alike, others exactly."""
    return "float" if dtype in _FLOATS else _INTS.get(dtype, dtype)
