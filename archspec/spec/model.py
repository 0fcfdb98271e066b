"""The spec language as pydantic models: :class:`ArchSpec`, the whole network.

:class:`ArchSpec` keeps ``defaults`` and ``stages`` as written (so overrides such as
``defaults.block=basic`` act on what the user wrote, and ``to_yaml`` gives it back), and
resolves each stage into its block type's config while it validates (spec/resolve.py).
Its parts (input, stem, head) are in spec/parts.py. Every model is frozen and rejects
unknown keys.
"""

from __future__ import annotations

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
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from archspec.blocks import BlockConfig
from archspec.spec.frozen import freeze
from archspec.spec.limits import MAX_STAGES, MAX_TOTAL_BLOCKS
from archspec.spec.ode import OdeSpec
from archspec.spec.parts import (
    NAMED_STEM_WIDTH,
    VIDEO_STEMS,
    ActLayer,
    ConvLayer,
    HeadSpec,
    InputSpec,
    NamedStem,
    NormLayer,
    PoolLayer,
    StemLayer,
    StemName,
    Strict,
    _int,
    axes,
)
from archspec.spec.resolve import (
    error_detail,
    resolve_stage,
    stage_axes_fit,
    stage_errors,
    stem_axes_fit,
)
from archspec.spec.stage_checks import apply_output_stride, check_dilation, check_norm_groups
from archspec.spec.yaml_source import EXPONENT_NUMBER

# Re-exported: these lived here before the split, and callers import them from here.
__all__ = [
    "NAMED_STEM_WIDTH",
    "VIDEO_STEMS",
    "ActLayer",
    "ArchSpec",
    "ConvLayer",
    "HeadSpec",
    "InputSpec",
    "NamedStem",
    "NormLayer",
    "PoolLayer",
    "StemLayer",
    "StemName",
    "stage_errors",
]


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

    @field_validator("features", mode="before")
    @classmethod
    def _features_form(cls, value: Any) -> Any:
        # Without this, pydantic answers with the first branch of the union: an empty
        # list or one path "must be a valid boolean".
        if isinstance(value, str):
            raise ValueError(f"a list of module paths, not one string: write [{value[:40]}]")
        if isinstance(value, list | tuple) and not value:
            raise ValueError("an empty list names no feature map: use true, or name modules")
        return value

    @model_validator(mode="after")
    def _resolve_stages(self) -> ArchSpec:
        resolved: list[BlockConfig] = []
        errors: list[InitErrorDetails] = []
        odes: list[OdeSpec | None] = []
        for i, stage in enumerate(self.stages):
            cfg = resolve_stage(i, self.defaults, stage, errors, odes)
            if cfg is not None:
                resolved.append(cfg)
                stage_axes_fit(i, self.defaults, stage, cfg, self.input.rank, errors)
        stem_axes_fit(self.stem_spec, self.input.rank, errors)
        if not errors and sum(c.depth for c in resolved) > MAX_TOTAL_BLOCKS:
            errors.append(
                error_detail(("stages",), f"more than {MAX_TOTAL_BLOCKS} blocks in all", None)
            )
        if not errors:
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
    # The time channel only where set, so ODE specs written before it keep theirs too.
    if ode is None:
        return {}
    return {
        "ode": ode.model_dump(mode="json", exclude=None if ode.time_channel else {"time_channel"})
    }


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
    for line breaks: a description with a NEL (U+0085) came back with a space instead.
    And a string that reads as a number with an exponent (``1e3``) is quoted: PyYAML's
    YAML 1.1 would write it bare, and archspec's reader takes ``1e3`` for the number."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if any(c in value for c in "\x85\u2028\u2029") else None
    if style is None and EXPONENT_NUMBER.fullmatch(value):
        style = "'"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)
