"""The parts of a spec besides its stages: the input, the stem (named, or a list of
layers), the head, and the field types and strictness every spec model shares.

Every model here is frozen and rejects unknown keys with a "did you mean" hint.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from archspec.spec.fields import ActField, NormField, SpecModel
from archspec.spec.limits import (
    MAX_CHANNELS,
    MAX_CLASSES,
    MAX_INPUT_CHANNELS,
    MAX_INPUT_SIZE,
    MAX_KERNEL,
    MAX_STRIDE,
)


def _int(lo: int, hi: int) -> Any:
    return Annotated[int, Field(strict=True, ge=lo, le=hi)]


def _shown(value: int | tuple[int, ...]) -> str:
    return str(value) if isinstance(value, int) else str(list(value))


def unknown_key_error(key: str, allowed: list[str], where: str = "") -> PydanticCustomError:
    """The error for a key no model knows, with the nearest allowed one as a hint."""
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
    message = f"unknown key {key!r}{where}{hint}".replace("{", "{{").replace("}", "}}")
    return PydanticCustomError("unknown_key", message, {"key": key})


class Strict(SpecModel):
    """A spec model whose unknown keys get a "did you mean" hint."""

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key not in cls.model_fields:
                    raise unknown_key_error(str(key), list(cls.model_fields))
        return data


_Size = _int(1, MAX_INPUT_SIZE)
# One number (the same on every axis) or one number per spatial axis: kernels, strides
# and padding anywhere a spec sets them. The length is checked against the input's rank
# once the whole spec is read (ArchSpec._axes_fit_rank), so the error names the field.
_Kernel = (
    _int(1, MAX_KERNEL)
    | Annotated[tuple[_int(1, MAX_KERNEL), ...], Field(strict=False, min_length=1, max_length=3)]
)
_Stride = (
    _int(1, MAX_STRIDE)
    | Annotated[tuple[_int(1, MAX_STRIDE), ...], Field(strict=False, min_length=1, max_length=3)]
)
_Padding = (
    _int(0, MAX_KERNEL)
    | Annotated[tuple[_int(0, MAX_KERNEL), ...], Field(strict=False, min_length=1, max_length=3)]
)


def axes(value: int | tuple[int, ...], rank: int) -> tuple[int, ...]:
    """A kernel, stride or padding as one int per spatial axis: ``axes(3, 2) == (3, 3)``."""
    return (value,) * rank if isinstance(value, int) else tuple(value)


class InputSpec(Strict):
    channels: _int(1, MAX_INPUT_CHANNELS) = 3
    "Channels of the input (3 for RGB images and video, 12 for a 12-lead ECG)."
    size: _Size | Annotated[tuple[_Size, ...], Field(strict=False, min_length=1, max_length=3)] = (
        224
    )
    """The input's spatial size, which gives the network's rank: [L] for a 1-D signal,
    [H, W] or one number (a square) for a 2-D image, [D, H, W] for a 3-D volume or video
    (D frames)."""

    @property
    def rank(self) -> int:
        """Spatial axes: 1, 2 or 3."""
        return 2 if isinstance(self.size, int) else len(self.size)

    @property
    def shape(self) -> tuple[int, ...]:
        """(C, *spatial) of one input sample: (C, L), (C, H, W) or (C, D, H, W)."""
        return (self.channels, *axes(self.size, self.rank))


StemName = Literal["imagenet", "deep", "cifar", "r3d", "r2plus1d", "none"]
# Stems whose kernels are written for a 3-D input ([D, H, W]).
VIDEO_STEMS = ("r3d", "r2plus1d")


class NamedStem(Strict):
    type: StemName
    """imagenet: 7x7/2 conv, norm, act, 3x3/2 max pool. deep: three 3x3 convs (ResNet-C),
    norm, act, then the pool. cifar: one 3x3 conv, norm, act. At any rank (7 is 7x7x7 on a
    volume). Video (3-D input only), as torchvision's: r3d: 3x7x7 conv with stride
    1x2x2, norm, act; r2plus1d: 1x7x7/1x2x2 conv to 45 channels (width·45/64), norm, act,
    3x1x1 conv, norm, act. none: nothing."""
    width: _int(1, MAX_CHANNELS) | None = None
    "Output channels (default 64 for imagenet and deep, 16 for cifar)."
    norm: NormField | None = None
    """The stem's norm (as a stage's `norm` takes it); default: the first stage's norm,
    so `defaults: {norm: group}` makes the whole network group-normed."""


class ConvLayer(Strict):
    conv: _int(1, MAX_CHANNELS)
    "Output channels."
    kernel: _Kernel = 3
    "Kernel size: one number (every axis) or one per axis ([3, 7, 7] for a video stem)."
    stride: _Stride = 1
    "Stride: one number or one per axis ([1, 2, 2])."
    padding: _Padding | None = None
    "Zero padding on each side, one number or one per axis; default kernel // 2 per axis."
    groups: _int(1, MAX_CHANNELS) = 1
    "Grouped convolution: channels split into this many groups."
    bias: bool = False
    "Add a bias (off when a norm follows)."


class NormLayer(Strict):
    norm: NormField
    """Normalization, as a stage's `norm` takes it: batch | group | layer | instance |
    frozen_batch | none, or {kind: group, groups: 16}."""


class ActLayer(Strict):
    act: ActField
    "Activation, as a stage's `act` takes it: a name, or {kind: leaky_relu, slope: 0.2}."


class PoolLayer(Strict):
    pool: Literal["max", "avg"]
    "Max or average pooling."
    kernel: _Kernel = 2
    "Window size: one number (every axis) or one per axis."
    stride: _Stride | None = None
    "Stride, one number or one per axis; default the kernel size."
    padding: _Padding = 0
    "Padding on each side; at most half the kernel (PyTorch's pools refuse more)."

    @model_validator(mode="after")
    def _padding_fits_kernel(self) -> PoolLayer:
        lengths = {len(v) for v in (self.kernel, self.padding) if isinstance(v, tuple)}
        if len(lengths) > 1:
            return self  # lists of different lengths: the rank check names them
        rank = lengths.pop() if lengths else 1
        pairs = zip(axes(self.kernel, rank), axes(self.padding, rank), strict=True)
        if any(2 * p > k for k, p in pairs):
            raise ValueError(
                f"padding {_shown(self.padding)} is more than half the kernel size "
                f"{_shown(self.kernel)}"
            )
        return self


# The union's tags show in pydantic's error locations. They are the class names, not the
# keys ("conv" ...), so the loader can tell them from a key the user wrote: with the key as
# tag, an error in {conv: 16, kernal: 3} was reported at stem[0].conv.kernal.
_STEM_LAYER_TAGS = {
    "conv": "ConvLayer",
    "norm": "NormLayer",
    "act": "ActLayer",
    "pool": "PoolLayer",
}


def _stem_layer_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for kind, tag in _STEM_LAYER_TAGS.items():
            if kind in value:
                return tag
    return None


StemLayer = Annotated[
    Annotated[ConvLayer, Tag("ConvLayer")]
    | Annotated[NormLayer, Tag("NormLayer")]
    | Annotated[ActLayer, Tag("ActLayer")]
    | Annotated[PoolLayer, Tag("PoolLayer")],
    Discriminator(
        _stem_layer_kind,
        custom_error_type="stem_layer",
        custom_error_message="a stem layer is a mapping with one of conv, norm, act, pool",
    ),
]


class HeadSpec(Strict):
    pool: Literal["avg", "max"] = "avg"
    "Global pooling before the classifier."
    classes: _int(1, MAX_CLASSES)
    "Outputs of the final linear layer."
    dropout: Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)] = 0.0
    "Dropout probability before the classifier."


# The width a named stem gets when none is written: lowering/network.py builds it from here.
NAMED_STEM_WIDTH = {"imagenet": 64, "deep": 64, "cifar": 16, "r3d": 64, "r2plus1d": 64}
