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
from archspec.blocks.base import Act, Norm, SpecModel
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


class InputSpec(Strict):
    channels: _int(1, MAX_INPUT_CHANNELS) = 3
    "Channels of the input image."
    size: (
        _int(1, MAX_INPUT_SIZE)
        | Annotated[tuple[_int(1, MAX_INPUT_SIZE), _int(1, MAX_INPUT_SIZE)], Field(strict=False)]
    ) = 224
    "Input height and width: one number for a square, or [h, w]."

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one input sample."""
        h, w = (self.size, self.size) if isinstance(self.size, int) else self.size
        return (self.channels, h, w)


class NamedStem(Strict):
    type: Literal["imagenet", "deep", "cifar", "none"]
    """imagenet: 7x7/2 conv, norm, act, 3x3/2 max pool. deep: three 3x3 convs (ResNet-C),
    norm, act, then the pool. cifar: one 3x3 conv, norm, act. none: nothing."""
    width: _int(1, MAX_CHANNELS) | None = None
    "Output channels (default 64 for imagenet and deep, 16 for cifar)."


class ConvLayer(Strict):
    conv: _int(1, MAX_CHANNELS)
    "Output channels."
    kernel: _int(1, MAX_KERNEL) = 3
    "Kernel size (square)."
    stride: _int(1, MAX_STRIDE) = 1
    "Stride."
    padding: _int(0, MAX_KERNEL) | None = None
    "Zero padding on each side; default kernel // 2."
    groups: _int(1, MAX_CHANNELS) = 1
    "Grouped convolution: channels split into this many groups."
    bias: bool = False
    "Add a bias (off when a norm follows)."


class NormLayer(Strict):
    norm: Norm
    "Normalization: batch (BatchNorm2d), or none."


class ActLayer(Strict):
    act: Act
    "Activation function."


class PoolLayer(Strict):
    pool: Literal["max", "avg"]
    "Max or average pooling."
    kernel: _int(1, MAX_KERNEL) = 2
    "Window size (square)."
    stride: _int(1, MAX_STRIDE) | None = None
    "Stride; default the kernel size."
    padding: _int(0, MAX_KERNEL) = 0
    "Padding on each side; at most half the kernel (PyTorch's pools refuse more)."

    @model_validator(mode="after")
    def _padding_fits_kernel(self) -> PoolLayer:
        if 2 * self.padding > self.kernel:
            raise ValueError(
                f"padding {self.padding} is more than half the kernel size {self.kernel}"
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
        Literal["imagenet", "deep", "cifar", "none"]
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
        if not errors and sum(c.depth for c in resolved) > MAX_TOTAL_BLOCKS:
            errors.append(_error(("stages",), f"more than {MAX_TOTAL_BLOCKS} blocks in all", None))
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
        if isinstance(self.stem, str):
            return NamedStem(type=self.stem)
        return self.stem

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
NAMED_STEM_WIDTH = {"imagenet": 64, "deep": 64, "cifar": 16}


def _stem_identity(stem: NamedStem | tuple[Any, ...]) -> Any:
    """The stem with its implied values made explicit, for :attr:`ArchSpec.arch_id`."""
    if isinstance(stem, NamedStem):
        if stem.type == "none":
            return {"type": "none"}
        return {"type": stem.type, "width": stem.width or NAMED_STEM_WIDTH[stem.type]}
    layers = []
    for layer in stem:
        data = layer.model_dump(mode="json", exclude_defaults=True)
        if isinstance(layer, ConvLayer) and layer.padding == layer.kernel // 2:
            data.pop("padding", None)
        if isinstance(layer, PoolLayer) and layer.stride == layer.kernel:
            data.pop("stride", None)
        layers.append(data)
    return layers


class _Dumper(yaml.SafeDumper):
    """SafeDumper, except that strings with NEL, LS or PS go double-quoted. PyYAML writes
    those characters raw in plain and single-quoted scalars, where its reader takes them
    for line breaks: a description with a NEL (U+0085) came back with a space instead."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if any(c in value for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


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
