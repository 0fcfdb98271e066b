"""The spec language as pydantic models.

:class:`ArchSpec` keeps ``defaults`` and ``stages`` as written (so overrides such as
``defaults.block=basic`` act on what the user wrote, and ``to_yaml`` gives it back), and
resolves each stage into its block type's config while it validates: defaults merged
under the stage, then checked by the config class the block's name selects from the
registry. Every model is frozen and rejects unknown keys.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from archspec.blocks import BlockConfig, blocks, get
from archspec.blocks.base import (
    ActField,
    NormField,
    SpecModel,
)
from archspec.spec.frozen import freeze
from archspec.spec.limits import (
    MAX_CHANNELS,
    MAX_CLASSES,
    MAX_INPUT_CHANNELS,
    MAX_INPUT_SIZE,
    MAX_KERNEL,
    MAX_STAGES,
    MAX_STRIDE,
    MAX_TOTAL_BLOCKS,
)
from archspec.spec.ode import OdeSpec


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


class _Constructed(type(Strict)):  # type: ignore[misc]
    """``ArchSpec(...)`` called from Python raises the same SpecError a file gets, not
    pydantic's ValidationError (not an ArchSpecError). On the metaclass, because an
    ``__init__`` of the model would also run inside every validation."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as exc:
            from archspec.spec.load import Document, spec_error

            raise spec_error(exc.errors(), Document(dict(kwargs), "<ArchSpec>")) from None


class ArchSpec(Strict, metaclass=_Constructed):
    """A validated architecture. Build one with :func:`archspec.load`.

    Example::

        spec = archspec.load("resnet50")
        spec.blocks[2].depth        # 6: the third stage, defaults merged in
        deeper = spec.override({"stages.2.depth": 23})
    """

    name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]
    "Identifier of the network (letters, digits, _ . -)."
    description: Annotated[str, Field(max_length=10_000)] = ""
    "Free text."
    input: InputSpec
    "The input sample: channels and size."
    stem: (
        StemName
        | NamedStem
        | Annotated[tuple[StemLayer, ...], Field(strict=False, min_length=1, max_length=64)]
    ) = "imagenet"
    """A named stem, {type, width}, or a list of layers ({conv: 64, kernel: 7, stride: 2},
    {norm: batch}, {act: relu}, {pool: max, kernel: 3, stride: 2, padding: 1})."""
    defaults: dict[str, Any] = Field(default_factory=dict)
    "Block settings every stage inherits (any key a stage takes)."
    stages: Annotated[
        tuple[dict[str, Any], ...], Field(strict=False, min_length=1, max_length=MAX_STAGES)
    ]
    "The stages, in order; each is `depth` blocks of one type (see the block types)."
    head: Annotated[
        Annotated[HeadSpec, Tag("HeadSpec")] | Annotated[Literal["none"], Tag("none")],
        # A string can only mean "none"; anything else is read as a head's mapping, so
        # `head: 10` reads "must be a mapping", as it did before heads could be none.
        Discriminator(lambda value: "none" if isinstance(value, str) else "HeadSpec"),
    ]
    """Pool, dropout and classifier; none: the network ends with its last stage (and the
    final norm of pre-activation and dense nets), and returns that feature map."""
    features: (
        bool
        | Annotated[
            tuple[Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")], ...],
            Field(strict=False, min_length=1, max_length=64),
        ]
    ) = False
    """A backbone: the forward returns a list of feature maps instead of the head's
    output. true: the stem's last activation before its pool and each stage's output (the
    last one after the final norm, where there is one), as timm's features_only; a list
    of module paths (relu, layer3, layer3.5, layer2.0.conv1): those modules' outputs, in
    that order. Only what the outputs need is built and counted."""
    output_stride: _int(1, 1 << 20) | None = None
    """The network's largest reduction of the input (timm's and DeepLab's output_stride):
    each stage whose stride would take it further trades that stride for dilation, as
    `dilate: true` does, so `output_stride: 8` on resnet50 is torchvision's
    replace_stride_with_dilation=[False, True, True]; none: every stride is kept."""

    _blocks: tuple[BlockConfig, ...] = PrivateAttr(default=())
    _odes: tuple[OdeSpec | None, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _resolve_stages(self) -> ArchSpec:
        resolved: list[BlockConfig] = []
        errors: list[InitErrorDetails] = []
        odes: list[OdeSpec | None] = []
        for i, stage in enumerate(self.stages):
            cfg = _resolve_stage(i, self.defaults, stage, errors, odes)
            if cfg is not None:
                resolved.append(cfg)
                _stage_axes_fit(i, self.defaults, stage, cfg, self.input.rank, errors)
        _stem_axes_fit(self.stem_spec, self.input.rank, errors)
        if not errors and sum(c.depth for c in resolved) > MAX_TOTAL_BLOCKS:
            errors.append(_error(("stages",), f"more than {MAX_TOTAL_BLOCKS} blocks in all", None))
        if not errors:
            from archspec.spec.stage_checks import (  # it reads this module's classes
                apply_output_stride,
                check_dilation,
                check_norm_groups,
            )

            resolved = apply_output_stride(self, resolved, errors)
        if not errors:
            check_dilation(self, resolved, errors)
            check_norm_groups(self, resolved, errors)
        if errors:
            raise ValidationError.from_exception_data("ArchSpec", errors)
        self._blocks = tuple(resolved)
        self._odes = tuple(odes)
        # Read-only from here on (spec/frozen.py); a frozen model's fields are set
        # through __dict__.
        self.__dict__["defaults"] = freeze(self.defaults)
        self.__dict__["stages"] = tuple(freeze(stage) for stage in self.stages)
        return self

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> ArchSpec:
        return self  # nothing in it can change: a copy would be the same spec

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> ArchSpec:
        """A copy; with ``update`` (top-level fields), a re-validated one, as
        :meth:`override` makes (pydantic's own would skip validation)."""
        if update:
            from archspec.spec.load import from_data  # the loader imports this module

            return from_data({**self.model_dump(mode="json"), **update}, f"<{self.name}>")
        return self if deep else super().model_copy()

    @property
    def blocks(self) -> tuple[BlockConfig, ...]:
        """Each stage's block config, defaults merged in, in stage order."""
        return self._blocks

    @property
    def odes(self) -> tuple[OdeSpec | None, ...]:
        """Each stage's ``ode`` setting (None: a discrete stage), in stage order."""
        return self._odes or (None,) * len(self._blocks)

    @property
    def stem_spec(self) -> NamedStem | tuple[ConvLayer | NormLayer | ActLayer | PoolLayer, ...]:
        """The stem, a bare name expanded to :class:`NamedStem`."""
        stem = NamedStem(type=self.stem) if isinstance(self.stem, str) else self.stem
        if isinstance(stem, NamedStem) and stem.norm is None and self._blocks:
            # A named stem normalizes as the network's first stage does.
            return stem.model_copy(update={"norm": self._blocks[0].norm})
        return stem

    def override(self, overrides: Mapping[str, Any] | Sequence[str]) -> ArchSpec:
        """A new, re-validated spec with dotted-path overrides applied; self is unchanged.

        Example::

            deeper = spec.override({"stages.2.depth": 23, "defaults.block": "bottleneck"})
        """
        from archspec.spec.load import from_data  # the loader imports this module

        return from_data(self.model_dump(mode="json"), f"<{self.name}>", overrides)

    def to_yaml(self) -> str:
        """The spec as YAML text; ``ArchSpec.from_yaml(spec.to_yaml()) == spec``."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        data = {"name": data.pop("name"), **data}
        return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)

    @classmethod
    def from_yaml(cls, text: str | bytes, file: str = "<string>") -> ArchSpec:
        """Parse and validate YAML text; its ``extends:`` may name a shipped preset only
        (text, a checkpoint's spec say, never makes archspec read a file)."""
        from archspec.errors import SpecError, shown
        from archspec.spec.load import load_text

        if not isinstance(text, str | bytes):
            raise SpecError(
                f"from_yaml takes YAML text (str or bytes), got {type(text).__name__} "
                f"{shown(text)}",
                file=str(file),
            )
        return load_text(text, str(file))

    @property
    def arch_id(self) -> str:
        """A stable hash of the architecture: the same in every process and Python version;
        unchanged by ``name`` and ``description``, by how settings are spread over defaults
        and stages, and by writing a default out or leaving it implied; changed by any
        other setting.

        Only settings that differ from their defaults are hashed, so a new option added
        to archspec (with a default that keeps networks as they were) leaves every
        existing id as it was.
        """
        body = {
            "input": list(self.input.shape),
            "stem": _stem_identity(self.stem_spec),
            "stages": [
                {"block": b.block, **b.identity(), **_ode_identity(ode)}
                for b, ode in zip(self.blocks, self.odes, strict=True)
            ],
            "head": self.head
            if isinstance(self.head, str)
            else self.head.model_dump(mode="json", exclude_defaults=True),
        }
        if self.features:  # only where set, so every classifier keeps its id
            body["features"] = self.features if self.features is True else list(self.features)
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str] | None:
        """In a notebook: the name, totals, per-stage table and block diagram (HTML), and
        the diagram alone (SVG); None (the plain repr) if anything fails."""
        from archspec.render.notebook import never_raise, spec_bundle

        return never_raise(lambda: spec_bundle(self))


def _ode_identity(ode: OdeSpec | None) -> dict[str, Any]:
    # Only ODE stages carry the key, so every discrete spec keeps its id.
    return {} if ode is None else {"ode": ode.model_dump(mode="json")}


# The width a named stem gets when none is written: graph/lower.py builds it from here.
NAMED_STEM_WIDTH = {"imagenet": 64, "deep": 64, "cifar": 16, "r3d": 64, "r2plus1d": 64}


def _same_padding(layer: ConvLayer) -> bool:
    """The padding is what leaving it out implies: kernel // 2 on every axis."""
    if layer.padding is None:
        return False
    rank = max((len(v) for v in (layer.kernel, layer.padding) if isinstance(v, tuple)), default=1)
    return axes(layer.padding, rank) == tuple(k // 2 for k in axes(layer.kernel, rank))


def _stem_identity(stem: NamedStem | tuple[Any, ...]) -> Any:
    """The stem with its implied values made explicit, for :attr:`ArchSpec.arch_id`."""
    if isinstance(stem, NamedStem):
        if stem.type == "none":
            return {"type": "none"}
        out = {"type": stem.type, "width": stem.width or NAMED_STEM_WIDTH[stem.type]}
        if stem.norm not in (None, "batch"):  # only where not batch, so old ids stay
            out["norm"] = _dumped(stem.norm)
        return out
    layers = []
    for layer in stem:
        data = layer.model_dump(mode="json", exclude_defaults=True)
        if isinstance(layer, ConvLayer) and _same_padding(layer):
            data.pop("padding", None)
        if isinstance(layer, PoolLayer) and layer.stride == layer.kernel:
            data.pop("stride", None)
        layers.append(data)
    return layers


def _dumped(value: Any) -> Any:
    return value.model_dump(mode="json", exclude_defaults=True) if hasattr(value, "kind") else value


class _Dumper(yaml.SafeDumper):
    """SafeDumper, except that strings with NEL, LS or PS go double-quoted. PyYAML writes
    those characters raw in plain and single-quoted scalars, where its reader takes them
    for line breaks: a description with a NEL (U+0085) came back with a space instead."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if any(c in value for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _axes_error(
    loc: tuple[str | int, ...], value: Any, rank: int, errors: list[InitErrorDetails]
) -> None:
    if isinstance(value, tuple) and len(value) != rank:
        errors.append(
            _error(
                loc,
                f"{list(value)} has {len(value)} entries, but the input is {rank}-D "
                f"(input.size): give one number or {rank}",
                list(value),
            )
        )


def _stem_axes_fit(stem: Any, rank: int, errors: list[InitErrorDetails]) -> None:
    """A list stem's kernels, strides and paddings have one entry per axis of the input;
    a video stem has a 3-D input."""
    if isinstance(stem, NamedStem):
        if stem.type in VIDEO_STEMS and rank != 3:
            errors.append(
                _error(
                    ("stem",),
                    f"stem {stem.type!r} is a video stem, for a [D, H, W] input; the input "
                    f"is {rank}-D (input.size)",
                    stem.type,
                )
            )
        return
    for i, layer in enumerate(stem):
        for key in ("kernel", "stride", "padding"):
            _axes_error(("stem", i, key), getattr(layer, key, None), rank, errors)


def _stage_axes_fit(
    i: int,
    defaults: dict[str, Any],
    stage: dict[str, Any],
    cfg: BlockConfig,
    rank: int,
    errors: list[InitErrorDetails],
) -> None:
    """A stage's per-axis settings (its stride) have one entry per axis of the input."""

    def root(key: str) -> tuple[str | int, ...]:
        return ("stages", i, key) if key in stage or key not in defaults else ("defaults", key)

    _axes_error(root("stride"), cfg.stride, rank, errors)
    conv = getattr(cfg, "conv", "full")  # the video block's choice of convolution
    if conv != "full" and rank != 3:
        errors.append(
            _error(
                root("conv"),
                f"conv {conv!r} splits a 3-D conv into its frames' axis and the others; "
                f"the input is {rank}-D (input.size): use conv 'full' or a [D, H, W] size",
                conv,
            )
        )


def stage_errors(data: Any) -> list[Any]:
    """The problems of a raw spec's stages, as pydantic's error dicts, found the way
    validation finds them: for a spec that fails before its stages are resolved."""
    if not isinstance(data, dict):
        return []
    defaults, stages = data.get("defaults", {}), data.get("stages")
    if not isinstance(defaults, dict) or not isinstance(stages, list | tuple):
        return []
    errors: list[InitErrorDetails] = []
    for i, stage in enumerate(stages):
        if isinstance(stage, dict):
            _resolve_stage(i, defaults, stage, errors)
    if not errors:
        return []
    return ValidationError.from_exception_data("ArchSpec", errors).errors()


def _error(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    message = message.replace("{", "{{").replace("}", "}}")
    return InitErrorDetails(type=PydanticCustomError("spec_error", message), loc=loc, input=value)


def _resolve_stage(
    i: int,
    defaults: dict[str, Any],
    stage: dict[str, Any],
    errors: list[InitErrorDetails],
    odes: list[OdeSpec | None] | None = None,
) -> BlockConfig | None:
    """Merge defaults under one stage and validate it as its block type's config.

    Errors are re-rooted at the place the offending key was written: the stage itself,
    or ``defaults`` when the stage inherited it.
    """
    merged = {**defaults, **stage}
    ode_data = merged.pop("ode", None)
    earlier = len(errors)  # errors of the stages before this one

    def origin(key: Any) -> tuple[str | int, ...]:
        return ("stages", i) if key in stage or key not in defaults else ("defaults",)

    name = merged.get("block")
    if name is None:
        errors.append(
            _error(
                ("stages", i, "block"),
                f"missing block type (set it here or in defaults); allowed: {', '.join(blocks())}",
                None,
            )
        )
        return None
    block_type = get(name) if isinstance(name, str) else None
    if block_type is None:
        errors.append(
            _error(
                (*origin("block"), "block"),
                f"unknown block type {name!r}; allowed: {', '.join(blocks())}",
                name,
            )
        )
        return None
    fields = list(block_type.config.model_fields)
    for key in merged:
        if key not in fields:
            err = unknown_key_error(str(key), fields, f" for block type {name!r}")
            # The loader appends the key from the error's context, as for any model.
            errors.append(InitErrorDetails(type=err, loc=origin(key), input=merged[key]))
    if len(errors) > earlier:
        return None
    try:
        cfg = block_type.config.model_validate(merged)
    except ValidationError as exc:
        for e in exc.errors():
            loc = tuple(e["loc"])
            head = loc[0] if loc else None
            root = origin(head) if head is not None else ("stages", i)
            errors.append(_reroot(e, (*root, *loc)))
        return None
    ode = _resolve_ode(ode_data, (*origin("ode"), "ode"), errors)
    if len(errors) > earlier:
        return None
    if odes is not None:
        odes.append(ode)
    return cfg


def _resolve_ode(
    data: Any, loc: tuple[str | int, ...], errors: list[InitErrorDetails]
) -> OdeSpec | None:
    """A stage's ``ode`` setting validated, its errors rooted at where it was written."""
    if data is None or data is False:
        return None
    if data is True:
        data = {}
    if not isinstance(data, dict):
        errors.append(_error(loc, "ode must be a mapping such as {solver: rk4, steps: 4}", data))
        return None
    fields, earlier = list(OdeSpec.model_fields), len(errors)
    for key in data:
        if key not in fields:
            err = unknown_key_error(str(key), fields, " in ode")
            errors.append(InitErrorDetails(type=err, loc=loc, input=data[key]))
    if len(errors) > earlier:
        return None
    try:
        return OdeSpec.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            errors.append(_reroot(e, (*loc, *tuple(e["loc"]))))
        return None


def _reroot(e: Any, loc: tuple[str | int, ...]) -> InitErrorDetails:
    kind = e["type"]
    if kind in {"value_error", "assertion_error"} or ("ctx" not in e and "{" in e["msg"]):
        return _error(loc, e["msg"].removeprefix("Value error, "), e.get("input"))
    detail = InitErrorDetails(type=kind, loc=loc, input=e.get("input"))
    if "ctx" in e:
        detail["ctx"] = e["ctx"]
    return detail
