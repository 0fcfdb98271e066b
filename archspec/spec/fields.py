"""The spec language's shared pieces: the base model every spec model (and every block
config) derives from, and the norm and activation settings any layer takes.

Block configs build on these (archspec/blocks/base.py), so they live below blocks/ and
import nothing from it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from archspec.spec.limits import MAX_CHANNELS, MAX_GROUPS

# Strict: a YAML "3" or 3.0 or true where a count belongs is a mistake, not a number.
Count = Annotated[int, Field(strict=True, ge=1)]
# A multiplier of channels (width_factor, expansion, bn_size).
Factor = Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)]
# A dropout-like probability: 0 is off, 1 would drop everything.
Rate = Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)]
# The kinds' names; graph/ops/norm.py's NORMS and act.py's ACTS hold what each one is
# (tests/test_norms.py checks that the two lists agree).
Norm = Literal["batch", "group", "layer", "instance", "frozen_batch", "none"]
Act = Literal[
    "relu",
    "relu6",
    "gelu",
    "silu",
    "tanh",
    "sigmoid",
    "leaky_relu",
    "hardswish",
    "mish",
    "elu",
    "none",
]
DEFAULT_NORM_GROUPS = 32
DEFAULT_SLOPE = 0.01


class SpecModel(BaseModel):
    """Base of every spec model: frozen, and an unknown key is an error, never ignored."""

    # Attribute docstrings become field descriptions: the schema and docs/spec.md are
    # generated from them, so the reference cannot drift from the code.
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True
    )


class NormSetting(SpecModel):
    """A norm with settings: ``{kind: group, groups: 16}``."""

    kind: Norm
    "batch | group | layer | instance | frozen_batch | none."
    groups: Annotated[int, Field(strict=True, ge=1, le=MAX_GROUPS)] | None = None
    "Group norm: the number of groups (default 32); the channels must divide into them."

    @model_validator(mode="after")
    def _groups_for_group_norm(self) -> NormSetting:
        if self.groups is not None and self.kind != "group":
            raise ValueError(f"groups applies to norm kind 'group', not {self.kind!r}")
        return self


class ActSetting(SpecModel):
    """An activation with settings: ``{kind: leaky_relu, slope: 0.2}``."""

    kind: Act
    "The activation (as `act:` takes it by name)."
    slope: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None = None
    "leaky_relu: the slope for negative inputs (default 0.01, torch's)."

    @model_validator(mode="after")
    def _slope_for_leaky_relu(self) -> ActSetting:
        if self.slope is not None and self.kind != "leaky_relu":
            raise ValueError(f"slope applies to act kind 'leaky_relu', not {self.kind!r}")
        return self


def _canonical_norm(value: str | NormSetting) -> str | NormSetting:
    # A setting written out as its default is the bare name, so `{kind: group}`,
    # `{kind: group, groups: 32}` and `group` are one architecture (one arch_id).
    if isinstance(value, NormSetting) and value.groups in (None, DEFAULT_NORM_GROUPS):
        return value.kind
    return value


def _canonical_act(value: str | ActSetting) -> str | ActSetting:
    if isinstance(value, ActSetting) and value.slope in (None, DEFAULT_SLOPE):
        return value.kind
    return value


NormField = Annotated[Norm | NormSetting, AfterValidator(_canonical_norm)]
ActField = Annotated[Act | ActSetting, AfterValidator(_canonical_act)]


def norm_kind(norm: str | NormSetting) -> str:
    """The kind's name of a norm as a spec holds it: ``group`` for ``{kind: group, ...}``."""
    return norm if isinstance(norm, str) else norm.kind


def norm_groups(norm: str | NormSetting) -> int | None:
    """The group count of a group norm (its default where not written), else None."""
    if norm_kind(norm) != "group":
        return None
    return (None if isinstance(norm, str) else norm.groups) or DEFAULT_NORM_GROUPS
