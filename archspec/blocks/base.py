"""What every block type shares: its config base class and its registration record.

A block type is one file in this folder. It defines a config (a subclass of
:class:`BlockConfig` with a ``block: Literal["name"]`` field), a lowering function that
emits the block's ops through a :class:`~archspec.graph.builder.GraphBuilder`, and
registers both with :func:`archspec.blocks.register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from archspec.spec.limits import MAX_CHANNELS, MAX_DEPTH, MAX_STRIDE

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value

# Strict: a YAML "3" or 3.0 or true where a count belongs is a mistake, not a number.
Count = Annotated[int, Field(strict=True, ge=1)]
Norm = Literal["batch", "none"]
Act = Literal["relu", "relu6", "gelu", "silu", "tanh", "sigmoid", "none"]


class SpecModel(BaseModel):
    """Base of every spec model: frozen, and an unknown key is an error, never ignored."""

    # Attribute docstrings become field descriptions: the schema and docs/spec.md are
    # generated from them, so the reference cannot drift from the code.
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True
    )


class BlockConfig(SpecModel):
    """Settings every block type takes; a stage is one of these, ``depth`` blocks long."""

    block: str
    "Block type: one of the registered names (basic, bottleneck, preact, ...)."
    depth: Annotated[int, Field(strict=True, ge=1, le=MAX_DEPTH)]
    "Number of blocks in the stage."
    width: Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)]
    "The block's inner channels (torchvision's ``planes``)."
    stride: Annotated[int, Field(strict=True, ge=1, le=MAX_STRIDE)] = 1
    "Stride of the stage's first block; the others keep the size."
    norm: Norm = "batch"
    "Normalization after each conv: batch norm, or none."
    act: Act = "relu"
    "Activation function."
    skip: str = "identity"
    "Skip connection: identity | projection | pad | none (and any registered kind)."
    downsample: str = "projection"
    "What an identity skip becomes where the shape changes: projection | pad."
    zero_init_last: bool = False
    "Start the last norm of each block at zero, so each block starts as its skip."

    # A block whose output is not followed by norm + act sets this, so the network
    # ends with them before the pool (pre-activation blocks).
    needs_final_norm: ClassVar[bool] = False

    def out_channels(self, in_channels: int) -> int:
        """Channels this block outputs, given what it receives."""
        return self.width

    @field_validator("skip")
    @classmethod
    def _known_skip(cls, value: str) -> str:
        from archspec.blocks.skips import SKIPS

        if value not in SKIPS:
            raise ValueError(f"unknown skip kind {value!r}; allowed: {', '.join(SKIPS)}")
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


@dataclass(frozen=True)
class BlockType:
    """A registered block type: its name, its config class and its lowering rule.

    ``lower(g, config, x, stride)`` emits one block's ops, inside the scope the caller
    opened (``layer2.0``), and returns the block's output value.
    """

    name: str
    config: type[BlockConfig]
    lower: LowerFn
    summary: str = ""
