"""Checks of a spec that need its stages resolved: ``output_stride`` turned into the
stages that dilate, dilation only where the block types can carry it, and group norms
whose channels the spec alone decides (the lowering checks the rest, naming the block).

Each appends pydantic error details at the field that sets the value (``defaults.norm``,
``stages[2].norm.groups``, ``stem.norm``), so the loader reports file, line and path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic_core import InitErrorDetails

from archspec.blocks.base import BlockConfig
from archspec.spec.fields import NormSetting, norm_groups
from archspec.spec.parts import NAMED_STEM_WIDTH, ConvLayer, NamedStem, NormLayer, PoolLayer
from archspec.spec.resolve import error_detail

if TYPE_CHECKING:
    from archspec.spec.model import ArchSpec


def _written_at(spec: ArchSpec, i: int, key: str) -> tuple[str | int, ...]:
    """Where stage ``i``'s setting ``key`` is written: the stage, or the defaults."""
    if key in spec.stages[i] or key not in spec.defaults:
        return ("stages", i, key)
    return ("defaults", key)


def _stride_of(value: Any) -> int:
    # A stride is one number, or (where ranks allow) one per axis: the largest counts.
    return max(value) if isinstance(value, list | tuple) else int(value)


def _stem_reduction(stem: NamedStem | tuple[Any, ...]) -> int:
    if isinstance(stem, NamedStem):
        return 4 if stem.type in ("imagenet", "deep") else 1
    reduction = 1
    for layer in stem:
        if isinstance(layer, ConvLayer):
            reduction *= _stride_of(layer.stride)
        elif isinstance(layer, PoolLayer):
            reduction *= _stride_of(layer.stride or layer.kernel)
    return reduction


def apply_output_stride(
    spec: ArchSpec, resolved: list[BlockConfig], errors: list[InitErrorDetails]
) -> list[BlockConfig]:
    """The stages, those past ``output_stride`` set to trade their stride for dilation
    (timm's rule: a stage dilates once the reduction has reached output_stride)."""
    if spec.output_stride is None:
        return resolved
    reduction = _stem_reduction(spec.stem_spec)
    if reduction > spec.output_stride:
        message = (
            f"output_stride {spec.output_stride} is less than the stem's reduction "
            f"{reduction}: only the stages' strides can trade for dilation"
        )
        errors.append(error_detail(("output_stride",), message, spec.output_stride))
        return resolved
    out = []
    for cfg in resolved:
        stride = _stride_of(cfg.stride)
        if stride > 1 and reduction * stride > spec.output_stride:
            cfg = cfg.model_copy(update={"dilate": True})
        elif not cfg.dilate:
            reduction *= stride
        out.append(cfg)
    return out


def check_dilation(
    spec: ArchSpec, resolved: list[BlockConfig], errors: list[InitErrorDetails]
) -> None:
    dilated = False
    for i, cfg in enumerate(resolved):
        takes = type(cfg).takes_dilation
        if cfg.dilate and not takes:
            where = (
                _written_at(spec, i, "dilate")
                if "dilate" in {**spec.defaults, **spec.stages[i]}
                else ("output_stride",)
            )
            message = (
                f"block {cfg.block!r} cannot trade its stride for dilation (stage {i + 1}): "
                "its convs do not dilate"
            )
            errors.append(error_detail(where, message, True))
        elif dilated and not takes:
            message = (
                f"block {cfg.block!r} cannot follow a dilated stage (stage {i + 1}): its "
                "convs do not carry the dilation on"
            )
            errors.append(error_detail(_written_at(spec, i, "block"), message, cfg.block))
        dilated = dilated or (cfg.dilate and _stride_of(cfg.stride) > 1)


def _groups_message(groups: int, what: str, channels: int) -> str:
    return (
        f"group norm of {groups} groups: {what} has {channels} channels, which do not "
        f"divide into {groups} groups"
    )


def _norm_at(loc: tuple[str | int, ...], norm: Any) -> tuple[str | int, ...]:
    # A written group count is the field to change; else the norm itself (32 implied).
    return (*loc, "groups") if isinstance(norm, NormSetting) else loc


def check_norm_groups(
    spec: ArchSpec, resolved: list[BlockConfig], errors: list[InitErrorDetails]
) -> None:
    """Group norms whose channels the spec alone decides (the stem's, the block
    configs'); the rest the lowering checks, naming the block."""
    for i, cfg in enumerate(resolved):
        groups = norm_groups(cfg.norm)
        if groups is None:
            continue
        for what, channels in cfg.normed_channels().items():
            if channels % groups:
                loc = _norm_at(_written_at(spec, i, "norm"), cfg.norm)
                message = f"{_groups_message(groups, what, channels)} (stage {i + 1})"
                errors.append(error_detail(loc, message, channels))
                break
    stem = spec.stem
    if isinstance(stem, NamedStem | str):
        named = NamedStem(type=stem) if isinstance(stem, str) else stem
        norm = named.norm if named.norm is not None else (resolved[0].norm if resolved else None)
        groups = norm_groups(norm) if norm is not None and named.type != "none" else None
        width = named.width or NAMED_STEM_WIDTH.get(named.type, 0)
        checks = [(width, "the stem's conv")]
        if named.type == "deep":
            checks.append((max(width // 2, 1), "the stem's first two convs"))
        for channels, what in checks:
            if groups is not None and channels % groups:
                if named.norm is not None:
                    loc = _norm_at(("stem", "norm"), named.norm)
                else:
                    loc = _norm_at(_written_at(spec, 0, "norm"), norm)
                errors.append(error_detail(loc, _groups_message(groups, what, channels), channels))
                break
        return
    channels = spec.input.channels
    for k, layer in enumerate(stem):
        if isinstance(layer, ConvLayer):
            channels = layer.conv
        elif isinstance(layer, NormLayer):
            groups = norm_groups(layer.norm)
            if groups is not None and channels % groups:
                what = f"stem layer {k + 1}'s input"
                loc = _norm_at(("stem", k, "norm"), layer.norm)
                errors.append(error_detail(loc, _groups_message(groups, what, channels), channels))
