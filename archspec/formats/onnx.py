"""``.onnx`` files through torch's own exporter (``torch.onnx.export``, dynamo-based),
with the batch dimension left free: the file runs in onnxruntime at any batch size.

The exporter needs the ``onnx`` extra (``pip install 'archspec[onnx]'``: onnx and
onnxscript); onnxruntime runs the file and is not needed to write it.

Example::

    export_onnx(archspec.build("resnet20", seed=0), (3, 32, 32), "resnet20.onnx")
    # onnxruntime.InferenceSession("resnet20.onnx").run(None, {"input": x})
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from archspec.errors import ArchSpecError
from archspec.files import atomic_path

INPUT = "input"
BATCH = "batch"
# One protobuf holds at most 2 GiB; past that the exporter would write the weights to a
# second file named after the atomic write's temporary file.
MAX_BYTES = 2**31 - 2**24


def onnx_available() -> bool:
    """Whether the exporter's packages (onnx, onnxscript) are installed."""
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


def output_names(model: nn.Module) -> list[str]:
    """``logits`` for a classifier; a backbone's feature maps by their modules."""
    info = getattr(model, "feature_info", None)
    if info and getattr(model, "backbone", False):
        return [f"features.{name}" if name else "features.input" for name in info.module_name()]
    return ["logits"]


def export_onnx(model: nn.Module, input_shape: Sequence[int], path: str | Path) -> Path:
    """Write ``model`` (traced in eval mode, its mode restored after) to ``path`` as ONNX:
    one input ``input`` of shape ``(batch, *input_shape)``, outputs named by
    :func:`output_names`. An ArchSpecError when the extra is missing or export fails.

    Example::

        export_onnx(model, (3, 224, 224), "resnet50.onnx")
    """
    path = Path(path)
    if not onnx_available():
        raise ArchSpecError(
            "writing .onnx needs the onnx extra (onnx and onnxscript): pip install 'archspec[onnx]'"
        )
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    if size > MAX_BYTES:
        raise ArchSpecError(
            f"{path}: the weights take {size / 2**30:.1f} GiB; an .onnx file holds at most "
            "2 GiB (write .pt2 or .safetensors instead)"
        )
    # Traced at batch 2: a batch of 1 would be specialized to 1.
    example = torch.zeros(2, *input_shape)
    was_training = model.training
    model.eval()
    try:
        with _quiet():
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                input_names=[INPUT],
                output_names=output_names(model),
                dynamic_shapes=({0: torch.export.Dim(BATCH)},),
                verbose=False,
            )
    except ArchSpecError:
        raise
    except Exception as exc:  # the exporter raises many kinds, each a failed export
        lines = [line for line in str(exc).strip().splitlines() if line.strip()]
        why = " ".join(lines[0].split())[:200] if lines else type(exc).__name__
        raise ArchSpecError(f"{path}: ONNX export failed: {why}") from None
    finally:
        model.train(was_training)
    if program is None:  # only with dynamo=False, never here
        raise ArchSpecError(f"{path}: ONNX export produced no program")
    with atomic_path(path) as tmp:
        program.save(tmp)
    return path


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's progress lines and deprecation warnings, kept off the console."""
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        yield
