"""Checkpoints: a model's ``state_dict`` saved with the normalized spec that built it,
so one file is enough to rebuild the model (``archspec build SPEC -o model.pt``).

The file is a plain ``torch.save`` of a dict, readable with
``torch.load(path, weights_only=True)`` and by the standalone source from
``archspec build --emit-python``::

    {"format": "archspec.checkpoint", "version": 1, "archspec": "0.1.0",
     "spec": "<the spec as YAML>", "arch_id": "...", "seed": 0,
     "state_dict": {...}}

Example::

    save_checkpoint(model, spec, "resnet50.pt", seed=0)
    model = load_checkpoint("resnet50.pt")
    model.spec.name                     # "resnet50"
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archspec.errors import ArchSpecError, shown
from archspec.files import atomic_file
from archspec.spec.model import ArchSpec

FORMAT = "archspec.checkpoint"
VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint's contents: the spec, its ``arch_id``, the seed the weights were
    initialized with (``None`` if none was given) and the ``state_dict``."""

    spec: ArchSpec
    arch_id: str
    seed: int | None
    state_dict: dict[str, torch.Tensor]


def save_checkpoint(
    model: nn.Module, spec: ArchSpec, path: str | Path, *, seed: int | None = None
) -> Path:
    """Save ``model``'s weights with ``spec`` to ``path``, atomically: a ``.pt`` file, or
    safetensors for a ``.safetensors`` path (:mod:`archspec.formats.weights`).

    Example::

        save_checkpoint(archspec.build(spec, seed=0), spec, "net.pt", seed=0)
    """
    from archspec import __version__

    if Path(path).suffix == ".safetensors":
        from archspec.formats.weights import save_safetensors

        return save_safetensors(model, spec, path, seed=seed)
    state = model.state_dict()
    _check_fits(state, spec)
    record: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "archspec": __version__,
        "spec": spec.to_yaml(),
        "arch_id": spec.arch_id,
        "seed": seed,
        "state_dict": {k: v.detach().cpu() for k, v in state.items()},
    }
    path = Path(path)
    with atomic_file(path) as f:
        torch.save(record, f)
    return path


def _misfit(state: dict[str, torch.Tensor], model: nn.Module) -> str | None:
    """How ``state`` differs from ``model``'s tensors (names and shapes), in a few
    words, or None if it fits."""
    expected = {k: tuple(t.shape) for k, t in model.state_dict().items()}
    got = {k: tuple(t.shape) for k, t in state.items()}
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    shapes = [k for k in got if k in expected and got[k] != expected[k]]
    parts = [
        f"{len(keys)} {what}, first {shown(keys[0])}"
        for keys, what in (
            (missing, "missing"),
            (extra, "unexpected"),
            (shapes, "of another shape"),
        )
        if keys
    ]
    return "; ".join(parts) or None


def _check_fits(state: dict[str, torch.Tensor], spec: ArchSpec) -> None:
    """An ArchSpecError unless ``state`` is what ``spec``'s model holds, with data: a
    checkpoint that could not be loaded back is refused when saved, not when read."""
    from archspec.codegen.torch_module import build_module
    from archspec.lowering import lower

    if any(t.is_meta for t in state.values()):
        raise ArchSpecError("the model is on the meta device: it has no weights to save")
    misfit = _misfit(state, build_module(lower(spec), device="meta"))
    if misfit:
        raise ArchSpecError(
            f"the model's weights do not fit spec {spec.name!r} ({misfit}); "
            "save a model built from that spec"
        )


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint (``.pt``, or safetensors, told by its first bytes) without
    building the model; an ArchSpecError if ``path`` is not an archspec checkpoint or
    its spec no longer gives the same architecture."""
    path = Path(path)
    try:
        is_file = path.is_file()
    except OSError:  # a name too long for the file system
        is_file = False
    if not is_file:
        raise ArchSpecError(f"{path}: no such file")
    from archspec.formats.weights import is_safetensors, read_safetensors

    if is_safetensors(path):
        return read_safetensors(path)
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except (
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        IndexError,
        NotImplementedError,
    ) as exc:
        # weights_only refuses anything but tensors and plain data; what it raises for a
        # damaged file varies with the damage.
        why = " ".join(str(exc).split())[:200]
        raise ArchSpecError(f"{path}: not a checkpoint torch can read ({why})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ArchSpecError(f"{path}: not an archspec checkpoint (no {FORMAT!r} record)")
    if record.get("version") != VERSION:
        raise ArchSpecError(
            f"{path}: checkpoint format version {record.get('version')}; this archspec "
            f"reads version {VERSION}"
        )
    _check_record(record, path)
    spec = ArchSpec.from_yaml(record["spec"], file=f"{path}[spec]")
    if spec.arch_id != record["arch_id"]:
        raise ArchSpecError(
            f"{path}: its spec now gives architecture {spec.arch_id}, not the "
            f"{record['arch_id']} it was saved with (saved by archspec {record.get('archspec')})"
        )
    return Checkpoint(spec, record["arch_id"], record.get("seed"), record["state_dict"])


def _check_record(record: dict[Any, Any], path: Path) -> None:
    """Every field a checkpoint must have, of its type: a file from anywhere may hold
    any data under these keys."""
    expected = {"spec": str, "arch_id": str, "state_dict": dict}
    for key, kind in expected.items():
        if key not in record:
            raise ArchSpecError(f"{path}: not a complete checkpoint (no {key!r})")
        if not isinstance(record[key], kind):
            raise ArchSpecError(
                f"{path}: the checkpoint's {key!r} is {type(record[key]).__name__}, "
                f"not {kind.__name__}"
            )
    seed = record.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ArchSpecError(f"{path}: the checkpoint's 'seed' is {type(seed).__name__}, not int")
    for key, tensor in record["state_dict"].items():
        if not isinstance(key, str) or not isinstance(tensor, torch.Tensor):
            raise ArchSpecError(
                f"{path}: the checkpoint's state_dict holds {type(key).__name__} -> "
                f"{type(tensor).__name__}; it maps names to tensors"
            )


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model saved at ``path`` (a ``.pt`` or ``.safetensors`` checkpoint) and
    load its weights (strictly: every tensor must match). The spec it was built from is
    ``model.spec``.

    Example::

        model = archspec.load_checkpoint("resnet50.pt")
        model.spec.name, model(torch.randn(1, 3, 224, 224)).shape
    """
    checkpoint = read_checkpoint(path)
    return load_state(checkpoint.spec, checkpoint.state_dict, path, device=device)


def load_state(
    spec: ArchSpec,
    state_dict: dict[str, torch.Tensor],
    path: str | Path,
    *,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """``spec``'s model holding ``state_dict`` (read from ``path``, named in errors).

    Example::

        model = load_state(checkpoint.spec, checkpoint.state_dict, "resnet50.pt")
    """
    from archspec.codegen.torch_module import build_module
    from archspec.lowering import lower

    # Built on meta and given the loaded tensors: no time or memory goes into initial
    # weights that would be overwritten at once.
    model = build_module(lower(spec), device="meta")
    misfit = _misfit(state_dict, model)
    if misfit:
        raise ArchSpecError(f"{path}: the weights do not fit the spec: {misfit}")
    try:
        model.load_state_dict(state_dict, strict=True, assign=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        first = " ".join(str(exc).strip().splitlines()[:2])
        raise ArchSpecError(f"{path}: the weights do not fit the spec: {first}") from None
    model = model.to(device)
    model.spec = spec
    return model
