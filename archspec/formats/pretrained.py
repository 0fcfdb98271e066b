"""The Hugging Face directory layout: ``config.json`` (the spec and its ``arch_id``)
beside ``model.safetensors`` (the weights, with the same spec in their metadata), as
``transformers`` writes and ``huggingface_hub`` uploads and downloads. Local only:
:func:`from_pretrained` reads a directory and never a hub; download a repository first
(``huggingface_hub.snapshot_download``) and pass its directory.

``config.json``::

    {"model_type": "archspec", "format": "archspec.pretrained", "version": 1,
     "archspec": "0.1.0", "name": "resnet20", "arch_id": "...", "seed": 0,
     "spec": {...the normalized spec...}}

Example::

    save_pretrained(model, spec, "resnet20/", seed=0)
    model = from_pretrained("resnet20/")
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from torch import nn

from archspec.errors import ArchSpecError, FileError, shown
from archspec.files import atomic_write
from archspec.formats.weights import read_safetensors, save_safetensors
from archspec.spec.model import ArchSpec

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
FORMAT = "archspec.pretrained"
VERSION = 1
MAX_CONFIG = 16 * 2**20  # a spec is kilobytes; a larger config.json is not one of ours


def save_pretrained(
    model: nn.Module, spec: ArchSpec, directory: str | Path, *, seed: int | None = None
) -> Path:
    """Write ``directory/model.safetensors`` and ``directory/config.json`` (each atomically;
    the directory is made if missing, its other files left alone).

    Example::

        save_pretrained(archspec.build(spec, seed=0), spec, "resnet20", seed=0)
    """
    from archspec import __version__

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise FileError(directory, "is not a directory; a pretrained model is a directory")
    if not directory.parent.is_dir():
        raise FileError(directory, f"the directory {directory.parent} does not exist")
    try:
        directory.mkdir(exist_ok=True)
    except OSError as err:
        raise FileError(directory, f"cannot make the directory: {err.strerror or err}") from None
    save_safetensors(model, spec, directory / WEIGHTS, seed=seed)
    config = {
        "model_type": "archspec",
        "format": FORMAT,
        "version": VERSION,
        "archspec": __version__,
        "name": spec.name,
        "arch_id": spec.arch_id,
        "seed": seed,
        "spec": yaml.safe_load(spec.to_yaml()),
    }
    # Written last: a directory with a config.json holds the weights it describes.
    atomic_write(directory / CONFIG, json.dumps(config, indent=2) + "\n")
    return directory


def read_config(directory: Path) -> tuple[ArchSpec, str]:
    """The spec and arch_id of ``directory/config.json``, checked."""
    path = directory / CONFIG
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG + 1)
    except OSError as err:
        raise ArchSpecError(f"{path}: cannot read: {err.strerror or err}") from None
    if len(raw) > MAX_CONFIG:
        raise ArchSpecError(f"{path}: larger than {MAX_CONFIG // 2**20} MiB; not a config")
    try:
        config = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ArchSpecError(f"{path}: not JSON ({shown(str(exc))})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ArchSpecError(f"{path}: not an archspec config (no 'format': {FORMAT!r})")
    if config.get("version") != VERSION:
        raise ArchSpecError(
            f"{path}: config version {shown(config.get('version'))}; this archspec reads "
            f"version {VERSION}"
        )
    spec, arch_id = config.get("spec"), config.get("arch_id")
    if not isinstance(spec, dict) or not isinstance(arch_id, str):
        raise ArchSpecError(f"{path}: needs 'spec' (a mapping) and 'arch_id' (a string)")
    # As text, as a checkpoint's spec is read: extends: may name a shipped preset only,
    # so a downloaded config can make archspec read no file.
    loaded = ArchSpec.from_yaml(json.dumps(spec), file=f"{path}[spec]")
    if loaded.arch_id != arch_id:
        raise ArchSpecError(
            f"{path}: its spec gives architecture {loaded.arch_id}, not its arch_id {arch_id}"
        )
    return loaded, arch_id


def from_pretrained(directory: str | Path, *, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model of a directory written by :func:`save_pretrained` and load its
    weights strictly; ``model.spec`` is the config's spec.

    Example::

        model = from_pretrained("resnet20")
    """
    from archspec.checkpoint import load_state

    directory = Path(directory)
    if not directory.is_dir():
        raise ArchSpecError(
            f"{directory}: no such directory; from_pretrained reads a local directory "
            f"({CONFIG} and {WEIGHTS}) and downloads nothing"
        )
    spec, arch_id = read_config(directory)
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise ArchSpecError(f"{weights}: no such file")
    checkpoint = read_safetensors(weights)
    if checkpoint.arch_id != arch_id:
        raise ArchSpecError(
            f"{weights}: holds the weights of architecture {checkpoint.arch_id}; "
            f"{CONFIG} describes {arch_id}"
        )
    return load_state(spec, checkpoint.state_dict, weights, device=device)
