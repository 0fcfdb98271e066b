"""What every block type shares: its config base class and its registration record.

A block type is one file in this folder. It defines a config (a subclass of
:class:`BlockConfig` with a ``block: Literal["name"]`` field), a lowering function that
emits the block's ops through a :class:`~archspec.graph.builder.GraphBuilder`, and
registers both with :func:`archspec.blocks.register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
)

from archspec.spec.fields import (
    Act,
    ActField,
    ActSetting,
    Count,
    Factor,
    Norm,
    NormField,
    NormSetting,
    Rate,
    SpecModel,
    norm_groups,
    norm_kind,
)
from archspec.spec.limits import MAX_CHANNELS, MAX_DEPTH, MAX_STRIDE

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value

# Re-exported for block authors: a block file imports its config's pieces from here.
__all__ = [
    "Act",
    "ActField",
    "ActSetting",
    "BlockConfig",
    "BlockType",
    "Count",
    "Factor",
    "Norm",
    "NormField",
    "NormSetting",
    "Rate",
    "SpecModel",
    "norm_groups",
    "norm_kind",
    "strided",
]


class BlockConfig(SpecModel):
    """Settings every block type takes; a stage is one of these, ``depth`` blocks long."""

    block: str
    "Block type: one of the registered names (basic, bottleneck, preact, ...)."
    depth: Annotated[int, Field(strict=True, ge=1, le=MAX_DEPTH)]
    "Number of blocks in the stage."
    width: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)]
    "The block's inner channels (torchvision's ``planes``)."
    stride: (
        Annotated[int, Field(strict=True, ge=1, le=MAX_STRIDE)]
        | Annotated[
            tuple[Annotated[int, Field(strict=True, ge=1, le=MAX_STRIDE)], ...],
            Field(strict=False, min_length=1, max_length=3),
        ]
    ) = 1
    """Stride of the stage's first block, one number or one per axis ([1, 2, 2]: keep a
    video's frames, halve its height and width); the others keep the size."""
    dilate: bool = False
    """Trade the stage's stride for dilation (torchvision's replace_stride_with_dilation):
    the stage keeps its input's resolution, and the network's dilation grows by the
    stride from the stage's second block on (its first block still has the dilation
    before it), carried into every later stage."""
    norm: NormField = "batch"
    """Normalization after each conv: batch | group | layer | instance | frozen_batch |
    none, or a mapping with settings ({kind: group, groups: 16}); see docs/norms.md."""
    act: ActField = "relu"
    """Activation: relu | relu6 | gelu | silu | tanh | sigmoid | leaky_relu | hardswish |
    mish | elu | none, or a mapping with settings ({kind: leaky_relu, slope: 0.2})."""
    skip: str = "identity"
    """Skip connection: identity | projection | pad | gated | sparse | none (and any
    registered kind); see the skip kinds below."""
    downsample: str = "projection"
    """What the skip becomes where the shape changes: projection | avgproj | pad | conv
    (and any registered kind)."""
    zero_init_last: bool = False
    """Start each block's last norm (its last conv where no norm follows) at zero, so
    each block starts as its skip."""
    se: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)] | None = None
    """Squeeze-excitation (Hu et al. 2018) on the residual branch, with this reduction
    ratio (16 in the paper): the branch output is pooled to one value per channel,
    squeezed to channels/se, expanded back, and its sigmoid scales the branch; none: off."""
    eca: bool = False
    """Efficient channel attention (Wang et al. 2020) on the residual branch where SE
    would sit: a 1-D conv across the pooled channels, its kernel size set from the
    channel count, whose sigmoid scales the branch; takes the place of se."""
    drop_path: Rate = 0.0
    """Stochastic depth (Huang et al. 2016), as the deepest block's rate: the l-th of the
    network's L blocks drops its residual branch, per sample and in training only, with
    probability drop_path·l/L."""
    gate_bias: Annotated[float, Field(ge=-100.0, le=100.0, allow_inf_nan=False)] = -2.0
    """Initial bias of the 1x1 conv that makes the gate T(x) of gated and sparse skips
    (and highway blocks): negative, so the gate starts nearly shut and the block near its
    carry (Srivastava et al. 2015)."""
    threshold: Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False)] = 0.5
    """Sparse skips: in forward the gate is 1 where T(x) > threshold and 0 elsewhere; the
    gradient is the soft gate's (straight-through)."""

    # A block whose output is not followed by norm + act sets this, so the network
    # ends with them before the pool (pre-activation blocks).
    needs_final_norm: ClassVar[bool] = False
    # The skip kinds this block type can take; None: every registered kind. A block
    # whose merge is not a residual sum (dense layers concatenate) lists its own.
    skip_kinds: ClassVar[tuple[str, ...] | None] = None
    # Whether the block's lowering reads g.dilation (its 3x3 convs dilate); a stage of a
    # block type that does not is refused with `dilate` or after a dilated stage.
    takes_dilation: ClassVar[bool] = False

    def out_channels(self, in_channels: int) -> int:
        """Channels this block outputs, given what it receives."""
        return self.width

    def normed_channels(self) -> dict[str, int]:
        """The channels of the block's norms that the config alone decides (what each
        is, for messages): a group norm's groups must divide them. Norms whose channels
        depend on the block's input are checked when the network is lowered."""
        return {}

    def implied(self) -> dict[str, Any]:
        """What settings whose default is ``None`` stand for when left out (preact's
        ``expansion``: 1 or 4 by form). A block type with such a setting says so here."""
        return {}

    def identity(self) -> dict[str, Any]:
        """The settings that make these blocks what they are, for ``ArchSpec.arch_id``:
        those that differ from their defaults, less any written out as the value that
        leaving it out implies."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        for key, value in self.implied().items():
            if key in data and data[key] == value:
                del data[key]
        return data

    def check_channels(self, **counts: int) -> None:
        """Refuse channel counts the block derives (width × factors) above the limit."""
        for what, n in counts.items():
            if n > MAX_CHANNELS:
                raise ValueError(f"{what} would be {n:,} channels, more than {MAX_CHANNELS:,}")

    @field_validator("skip")
    @classmethod
    def _known_skip(cls, value: str) -> str:
        from archspec.blocks.skips import SKIPS

        if value not in SKIPS:
            raise ValueError(f"unknown skip kind {value!r}; allowed: {', '.join(SKIPS)}")
        allowed = cls.skip_kinds
        if allowed is not None and value not in allowed:
            block = cls.model_fields["block"].default
            raise ValueError(
                f"skip {value!r} does not apply to block {block!r}; "
                f"block {block!r} takes skip: {' | '.join(allowed)}"
            )
        return value

    @field_validator("eca")
    @classmethod
    def _one_channel_attention(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("se") is not None:
            raise ValueError("eca and se both scale the branch's channels: set one of them")
        return value

    @field_validator("drop_path")
    @classmethod
    def _branch_to_drop(cls, value: float, info: ValidationInfo) -> float:
        # A field check (skip is validated before it), so the error points at drop_path.
        if value > 0 and info.data.get("skip") == "none":
            block = cls.model_fields["block"].default
            raise ValueError(
                f"drop_path does not apply to block {block!r} with skip 'none': it drops "
                "the residual branch, and without a skip nothing would be left"
            )
        return value

    @field_validator("downsample")
    @classmethod
    def _known_downsample(cls, value: str) -> str:
        from archspec.blocks.skips import DOWNSAMPLES

        if value not in DOWNSAMPLES:
            raise ValueError(
                f"unknown downsample kind {value!r}; allowed: {', '.join(DOWNSAMPLES)}"
            )
        return value


LowerFn = Callable[["GraphBuilder", Any, "Value", int], "Value"]
StageFn = Callable[["GraphBuilder", Any, "Value"], "Value"]


@dataclass(frozen=True)
class BlockType:
    """A registered block type: its name, its config class and its lowering rule.

    ``lower(g, config, x, stride)`` emits one block's ops, inside the scope the caller
    opened (``layer2.0``), and returns the block's output value.

    ``lower_stage(g, config, x)``, if given, lowers a whole stage instead (inside the
    stage's scope, ``layer2``): for block types whose blocks pass more than one tensor to
    the next (dense layers read every earlier feature map of the stage) or whose stages
    need ops between the blocks (DenseNet's transitions). It opens each block itself with
    ``g.block(...)``.
    """

    name: str
    config: type[BlockConfig]
    lower: LowerFn
    summary: str = ""
    lower_stage: StageFn | None = None
    # The class name of the block's module in the built model (torchvision's
    # ``Bottleneck``); empty: the name in CamelCase with ``Block`` after it.
    class_name: str = ""

    @property
    def module_class(self) -> str:
        if self.class_name:
            return self.class_name
        words = [w for w in self.name.replace("-", "_").split("_") if w]
        return "".join(w[:1].upper() + w[1:] for w in words) + "Block"


def strided(stride: int | tuple[int, ...]) -> bool:
    """Whether a stride (one int, or one per axis) downsamples any axis."""
    return stride != 1 if isinstance(stride, int) else any(s != 1 for s in stride)
