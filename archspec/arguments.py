"""Checks of the arguments the public functions take, so a wrong type or an absurd value
is an :class:`~archspec.errors.ArchSpecError` that says what was expected, raised before
any work, never a ``TypeError`` from deep inside torch or a process that runs for hours.

Each check returns the value in the form the caller uses (a ``torch.device``, a tuple).

Example::

    seed = check_seed(seed)                   # ArchSpecError for 2**70, 1.5 or "0"
    device = check_device("cuda:7")           # ArchSpecError if there is no such device
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.errors import ArchSpecError, GraphError, shown
from archspec.spec.limits import MAX_BATCH, MAX_INPUT_CHANNELS, MAX_INPUT_SIZE

if TYPE_CHECKING:
    import torch

    from archspec.spec.model import ArchSpec

# The seeds torch.manual_seed takes.
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1
MAX_PATH = 4096  # longer than any path the file system takes (PATH_MAX)
MAX_DEPTH_LEVELS = 1000
MAX_WORKERS = 1024


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(name: str, value: Any, lo: int, hi: int) -> int:
    """``value`` if it is a whole number (not a bool) from ``lo`` to ``hi``.

    Example::

        check_int("depth", 3, 0, 1000)        # 3
    """
    if not _is_int(value):
        raise ArchSpecError(
            f"{name} must be a whole number, got {type(value).__name__} {shown(value)}"
        )
    if not lo <= value <= hi:
        raise ArchSpecError(f"{name} must be from {lo:,} to {hi:,}, got {shown(value)}")
    return value


def check_seed(seed: Any, *, optional: bool = True) -> int | None:
    """A seed torch accepts (``None`` if ``optional``)."""
    if seed is None and optional:
        return None
    if not _is_int(seed) or not SEED_MIN <= seed <= SEED_MAX:
        none = " or None" if optional else ""
        raise ArchSpecError(
            f"seed must be a whole number from -2**63 to 2**64 - 1{none}, "
            f"got {type(seed).__name__} {shown(seed)}"
        )
    return seed


def check_path(value: Any, name: str = "path") -> Path:
    """A file path given as ``str`` or ``os.PathLike``."""
    if isinstance(value, bytes) or not isinstance(value, str | os.PathLike):
        raise ArchSpecError(
            f"{name} must be a str or Path, got {type(value).__name__} {shown(value)}"
        )
    path = Path(value)
    text = str(path)
    if not str(value) or text == ".":
        raise ArchSpecError(f"{name} must name a file, got {shown(str(value))}")
    if len(text) > MAX_PATH or "\0" in text:
        raise ArchSpecError(f"{name} is not a usable path ({shown(text)})")
    return path


def check_device(device: Any) -> torch.device:
    """A device that exists here: ``"cpu"``, ``"meta"``, ``"cuda:0"`` if there is one."""
    import torch

    if not isinstance(device, str | torch.device):
        raise ArchSpecError(
            f"device must be a str or torch.device, got {type(device).__name__} {shown(device)}"
        )
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise ArchSpecError(
            f"device {shown(device)} is not a torch device (e.g. 'cpu', 'cuda:0', 'meta')"
        ) from None
    if parsed.type not in ("cpu", "meta"):
        try:  # the one reliable test of a backend and an index: use it
            torch.empty(0, device=parsed)
        except (RuntimeError, AssertionError, ValueError):
            raise ArchSpecError(
                f"device {shown(device)} is not available on this machine"
            ) from None
    return parsed


def check_dtype(dtype: Any) -> torch.dtype | None:
    """``None`` or a floating-point dtype a network's weights can have."""
    import torch

    allowed = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
    if dtype is not None and dtype not in allowed:
        names = ", ".join(str(d) for d in allowed)
        raise ArchSpecError(f"dtype must be None or one of {names}, got {shown(dtype)}")
    return dtype


def check_input_size(input_size: Any) -> tuple[int, ...] | None:
    """``None``, or an input's dims of whole numbers within the limits: ``(N, C, *spatial)``
    or ``(C, *spatial)`` with 1 to 3 spatial axes (``(1, 12, 5000)``, ``(2, 3, 16, 112, 112)``);
    which of the two a spec reads is :func:`split_input_size`'s rule."""
    if input_size is None:
        return None
    usage = "(N, C, *spatial) or (C, *spatial) with 1 to 3 spatial axes"
    if isinstance(input_size, str | bytes) or not isinstance(input_size, Sequence):
        raise ArchSpecError(f"input_size is {usage}, got {shown(input_size)}")
    dims = tuple(input_size)
    if len(dims) not in (2, 3, 4, 5) or not all(_is_int(d) for d in dims):
        raise ArchSpecError(f"input_size is {usage}, of whole numbers, got {shown(dims)}")
    for d in dims:  # which is the batch, channels or an axis: split_input_size's rule
        check_int("an input dimension", d, 1, max(MAX_INPUT_SIZE, MAX_BATCH, MAX_INPUT_CHANNELS))
    return dims


def split_input_size(dims: Sequence[int], rank: int) -> tuple[int, int, tuple[int, ...]]:
    """(batch, channels, spatial sizes) of input dims for a spec of ``rank`` spatial axes.

    Dims that fit the spec's rank keep it: ``(C, *spatial)`` or ``(N, C, *spatial)``; any
    other length is ``(N, C, *spatial)`` and gives the rank (``2x3x16x112x112`` makes a 2-D
    spec 3-D). So ``3x224x224`` is one 2-D image, and ``1x12x5000`` one 12-channel signal
    for a 1-D spec.

    Example::

        split_input_size((8, 3, 160, 160), 2)   # (8, 3, (160, 160))
    """
    if len(dims) == rank + 1:
        batch, (c, *sizes) = 1, dims
    elif len(dims) >= 3:
        batch, c, *sizes = dims
    else:
        raise ArchSpecError(
            f"input_size {shown(tuple(dims))} has no spatial axis for a {rank}-D network: "
            "give (N, C, *spatial) or (C, *spatial)"
        )
    check_int("the batch size", batch, 1, MAX_BATCH)
    check_int("the input channels", c, 1, MAX_INPUT_CHANNELS)
    for size in sizes:
        check_int("an input size", size, 1, MAX_INPUT_SIZE)
    return batch, c, tuple(sizes)


def check_mapping(value: Any, name: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise ArchSpecError(f"{name} must be a mapping, got {type(value).__name__} {shown(value)}")
    return value


def check_module(model: Any, name: str = "model") -> Any:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ArchSpecError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    return model


def check_state_dict(value: Any, name: str = "state_dict") -> Mapping[str, Any]:
    """A mapping of string keys to tensors."""
    import torch

    check_mapping(value, name)
    for key, tensor in value.items():
        if not isinstance(key, str) or not isinstance(tensor, torch.Tensor):
            raise ArchSpecError(
                f"{name} maps names to tensors; entry {shown(key)} is "
                f"{type(key).__name__} -> {type(tensor).__name__}"
            )
    return value


def available_memory() -> int:
    """Bytes this process may still allocate: the smaller of the machine's available
    memory and what its address-space limit (``ulimit -v``, RLIMIT_AS) leaves."""
    limits = []
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    if not limits:
        with contextlib.suppress(ValueError, OSError, AttributeError):
            limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/statm", encoding="ascii") as statm:
                used = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            limits.append(max(0, soft - used))
    except (ImportError, OSError, ValueError):
        pass
    return min(limits) if limits else 1 << 62


def check_memory(need: int, what: str, hint: str = "") -> None:
    """A GraphError if ``need`` bytes would not fit in :func:`available_memory`: one clear
    line instead of an allocator failure (or the OOM killer) half-way through.

    Example::

        check_memory(params * 4, "the weights", "build on device='meta' to inspect it")
    """
    have = available_memory()
    if need > have:
        raise GraphError(
            f"{what} would take {need / 2**30:,.1f} GiB, more than the {have / 2**30:,.1f} GiB "
            f"this process can allocate{'; ' + hint if hint else ''}"
        )


def tensor_bytes(*shapes: Sequence[int], dtype_bytes: int = 4) -> int:
    return sum(math.prod(s) for s in shapes) * dtype_bytes


def check_weights_fit(graph: Any, device: torch.device, dtype: torch.dtype | None) -> None:
    """A GraphError if a graph's weights would not fit in what this process may allocate
    on the CPU (the address-space limit included); other devices are not measured."""
    import torch

    if device.type != "cpu":
        return
    from archspec.graph.stats import graph_stats

    need = graph_stats(graph).params * torch.finfo(dtype or torch.float32).bits // 8
    check_memory(need, "the weights", "build on device='meta' to inspect it")


def with_features(spec: ArchSpec, features: bool | Sequence[str] | None) -> ArchSpec:
    """``spec`` as a backbone returning ``features`` (see :func:`build`); None: as it is.

    Example::

        backbone = with_features(archspec.load("resnet50"), ["layer2", "layer4"])
    """
    if features is None:
        return spec
    if isinstance(features, str) or not (
        isinstance(features, bool)
        or (isinstance(features, Sequence) and all(isinstance(f, str) for f in features))
    ):
        raise ArchSpecError(
            f"features is True, False or a list of module paths, got {shown(features)}"
        )
    return spec.override({"features": features if isinstance(features, bool) else list(features)})


def with_input_size(spec: ArchSpec, input_size: Sequence[int] | None) -> tuple[ArchSpec, int]:
    """``spec`` with the input ``(N, C, *spatial)`` or ``(C, *spatial)`` asks for, and the
    batch size N (1 if not given): the channels and size become the spec's input, at any
    rank (see :func:`archspec.arguments.split_input_size`).

    Example::

        spec, batch = with_input_size(archspec.load("resnet50"), (8, 3, 160, 160))
    """
    dims = check_input_size(input_size)
    if dims is None:
        return spec, 1
    batch, c, sizes = split_input_size(dims, spec.input.rank)
    if (c, *sizes) != spec.input.shape:
        spec = spec.override({"input.channels": c, "input.size": list(sizes)})
    return spec, batch
