"""Writing a built model to a file, the format told by the path's suffix: what
``archspec build SPEC -o PATH`` and :func:`archspec.export` write.

* ``model.pt2``: a ``torch.export`` program (:mod:`.pt2`); ``torch.export.load``.
* ``model.pt``: the state_dict with the spec (``torch.save``); ``archspec.load_checkpoint``.
* ``model.onnx``: ONNX with the batch dimension free (:mod:`.onnx`); onnxruntime.
* ``model.safetensors``: the weights, the spec in the metadata (:mod:`.weights`);
  ``archspec.load_checkpoint``.
* ``model_dir`` (no suffix): config.json + model.safetensors (:mod:`.pretrained`);
  ``archspec.from_pretrained``.

Example::

    write(model, spec, "resnet20.onnx", seed=0)     # "ONNX"
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from archspec.spec.model import ArchSpec

# suffix -> what the file holds, as the command line reports it
FORMATS = {
    ".pt2": "torch.export program",
    ".pt": "state_dict and spec",
    ".onnx": "ONNX",
    ".safetensors": "safetensors weights and spec",
    "": "config.json and model.safetensors",
}


def describe(path: Path) -> str | None:
    """What ``path`` would hold, or None if its suffix is not a format archspec writes.

    Example::

        describe(Path("m.onnx"))      # 'ONNX'
    """
    return FORMATS.get(path.suffix)


def outputs(path: Path) -> list[Path]:
    """The files a write to ``path`` replaces, to check before any work: ``path`` itself,
    or for a directory (no suffix) the two files in it that exist now.

    Example::

        outputs(Path("resnet20"))     # [resnet20/model.safetensors, resnet20/config.json]
    """
    if path.suffix:
        return [path]
    from archspec.formats.pretrained import CONFIG, WEIGHTS

    return [path / name for name in (WEIGHTS, CONFIG) if path.is_dir()]


def write(model: nn.Module, spec: ArchSpec, path: str | Path, *, seed: int | None = None) -> str:
    """Write ``model`` (built from ``spec`` with ``seed``) to ``path`` in the format its
    suffix names; returns what it wrote (``FORMATS``). Every file is written atomically.

    Example::

        write(archspec.build(spec, seed=0), spec, "net.safetensors", seed=0)
    """
    from archspec.errors import ArchSpecError

    path = Path(path)
    what = describe(path)
    if what is None:
        raise ArchSpecError(
            f"{path}: unknown format {path.suffix!r}; write .pt2, .pt, .onnx, .safetensors "
            "or a directory (no suffix)"
        )
    if path.suffix == ".pt2":
        from archspec.formats.pt2 import export_program, save_pt2

        save_pt2(export_program(model, spec.input.shape), path)
    elif path.suffix == ".onnx":
        from archspec.formats.onnx import export_onnx

        export_onnx(model, spec.input.shape, path)
    elif path.suffix == "":
        from archspec.formats.pretrained import save_pretrained

        save_pretrained(model, spec, path, seed=seed)
    else:  # .pt and .safetensors: checkpoints
        from archspec.checkpoint import save_checkpoint

        save_checkpoint(model, spec, path, seed=seed)
    return what


def size_of(path: Path) -> int:
    """Bytes in a file, or in the files of a directory (a pretrained directory).

    Example::

        size_of(Path("resnet20"))      # config.json + model.safetensors
    """
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return path.stat().st_size
