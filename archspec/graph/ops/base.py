"""What an op of the graph IR is: every fact about one primitive, in one record.

An :class:`Op` holds its shape rule, parameter count and MACs (read by the builder and
the analytic stats), the torch module it becomes or the function it calls (codegen), the
source it is written as in standalone code (emit_python), its diagram label and style
(render) and its init rule. This module is torch-free: factories import torch when
called, so ``import archspec`` and the analytic path never load it.

Shapes exclude the batch dimension: ``(C, *spatial)`` for feature maps at any rank
(``(C, L)``, ``(C, H, W)``, ``(C, D, H, W)``), ``(F,)`` after flatten. Kernel sizes,
strides, padding and dilation are an int (the same on every axis) or one int per axis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]
Params = dict[str, Any]
Attrs = dict[str, str]

# A module op: (params, whether it may compute in place, input shape) -> nn.Module.
ModuleFactory = Callable[[Params, bool, Shape], Any]
# A function op: (params, fx argument nodes, in place) -> (callable, args, kwargs) for fx.
FunctionCall = Callable[[Params, list[Any], bool], tuple[Callable[..., Any], tuple, dict]]
# How a module op's module takes the op's inputs (fx nodes), as its call's arguments.
ModuleArgs = Callable[[list[Any]], tuple[Any, ...]]
# How the op is written in standalone source: a module op's constructor expression, or a
# function op's expression over its argument names; the flag says the op is in place.
Source = Callable[[Params, Shape, Sequence[str], bool], str]
# (the made module, params, start at zero) -> None; draws from torch's global generator.
InitRule = Callable[[Any, Params, bool], None]


class ShapeMismatch(Exception):
    """Raised by a shape rule; the builder turns it into a GraphError naming the block."""


def _zero(p: Params, ins: Sequence[Shape]) -> int:
    return 0


def _no_macs(p: Params, ins: Sequence[Shape], out: Shape) -> int:
    return 0


def no_init(module: Any, p: Params, zero: bool) -> None:
    """Ops without weights, or whose module's constructor already sets them."""


def default_init(module: Any, p: Params, zero: bool) -> None:
    """PyTorch's own initialization of the module (``reset_parameters``)."""
    reset = getattr(module, "reset_parameters", None)
    if reset is not None:
        reset()


@dataclass(frozen=True)
class Op:
    """One primitive op: all a backend needs to know of it."""

    shape: Callable[[Params, Sequence[Shape]], Shape]
    label: Callable[[Params], str]
    style: Attrs
    source: Source
    module: ModuleFactory | None = None
    call: FunctionCall | None = None
    params: Callable[[Params, Sequence[Shape]], int] = _zero
    macs: Callable[[Params, Sequence[Shape], Shape], int] = _no_macs
    init: InitRule = no_init
    # Whether `macs` is this op's true cost under the conv+linear convention, or the op
    # does arithmetic that convention leaves out (reports say so instead of claiming 0).
    counted: bool = False
    arity: int = 1  # inputs it takes; 0 means any number >= 2
    # A module op's call: one positional argument per input unless this regroups them
    # (a list of paths, which TorchScript compiles where it compiles no ``*inputs``).
    module_args: ModuleArgs | None = None

    def module_call_args(self, args: list[Any]) -> tuple[Any, ...]:
        """The arguments the op's module is called with, given its inputs."""
        return tuple(args) if self.module_args is None else self.module_args(args)


# -- per-axis arithmetic, at any rank ------------------------------------------------------


def per_axis(value: int | Sequence[int], rank: int, what: str = "value") -> tuple[int, ...]:
    """``3`` -> ``(3, 3)`` at rank 2; a list must have one entry per spatial axis."""
    if isinstance(value, int):
        return (value,) * rank
    values = tuple(value)
    if len(values) != rank:
        raise ShapeMismatch(
            f"a {what} of {list(values)} has {len(values)} entries for a {rank}-D feature map"
        )
    return values


def feature_map(shape: Shape, op: str) -> tuple[int, tuple[int, ...]]:
    """(channels, spatial sizes) of a feature map of any rank, or a clear refusal."""
    if not 2 <= len(shape) <= 4:
        raise ShapeMismatch(
            f"{op} needs a (C, L), (C, H, W) or (C, D, H, W) feature map, got {shape}"
        )
    return shape[0], tuple(shape[1:])


def check_stride(sizes: Sequence[int], strides: Sequence[int], op: str) -> None:
    # A strided op on a 1-pixel axis cannot downsample: the network was designed for a
    # larger input than the spec gives it.
    if any(s > 1 and n == 1 for n, s in zip(sizes, strides, strict=True)):
        biggest = max(strides)
        raise ShapeMismatch(
            f"a stride-{biggest} {op} gets a {'x'.join(map(str, sizes))} feature map: the "
            "input is too small for the network's downsampling"
        )


def out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def ceil_out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    # PyTorch's ceil_mode: round up, but a window may not start in the right padding.
    out = -(-(size + 2 * padding - kernel) // stride) + 1
    return out - 1 if (out - 1) * stride >= size + padding else out


def sized(shape: Shape, op: str, what: str) -> Shape:
    if any(d < 1 for d in shape):
        raise ShapeMismatch(f"{op} would produce {shape}: the input is too small for the {what}")
    return shape


def same(p: Params, ins: Sequence[Shape]) -> Shape:
    return ins[0]


def nd(name: str, in_shape: Shape) -> Any:
    """The torch.nn class for the input's rank: ``nd("Conv", (64, 56, 56))`` is Conv2d."""
    from torch import nn

    return getattr(nn, f"{name}{len(in_shape) - 1}d")


def square(value: int | Sequence[int]) -> int | tuple[int, ...]:
    """A per-axis value as torch.nn prints it: one int when every axis agrees."""
    if isinstance(value, int):
        return value
    values = tuple(value)
    return values[0] if len(set(values)) == 1 else values


def axes_text(value: int | Sequence[int], rank: int = 2) -> str:
    """``3`` -> ``3×3``; ``[3, 7, 7]`` -> ``3×7×7``."""
    values = (value,) * rank if isinstance(value, int) else tuple(value)
    return "×".join(str(v) for v in values)


def stride_text(p: Params) -> str:
    """``/2`` for a strided op (``/1×2×2`` per axis), nothing at stride 1."""
    stride = square(p.get("stride", 1))
    if stride == 1:
        return ""
    return f"/{stride}" if isinstance(stride, int) else f"/{axes_text(stride)}"


def kwargs_text(**kwargs: Any) -> str:
    """Keyword arguments of a constructor, the defaults (None) left out."""
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if v is not None)
