"""A spec's stages resolved while it validates: defaults merged under each stage, the
result checked by the config class its block type selects from the registry, its ``ode``
setting read, and its per-axis settings checked against the input's rank.

Errors are pydantic error details rooted where the offending key was written (the stage,
or ``defaults`` when the stage inherited it), so the loader reports file, line and path.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from archspec.blocks import BlockConfig, blocks, get
from archspec.spec.ode import OdeSpec
from archspec.spec.parts import VIDEO_STEMS, NamedStem, unknown_key_error


def _axeserror_detail(
    loc: tuple[str | int, ...], value: Any, rank: int, errors: list[InitErrorDetails]
) -> None:
    if isinstance(value, tuple) and len(value) != rank:
        errors.append(
            error_detail(
                loc,
                f"{list(value)} has {len(value)} entries, but the input is {rank}-D "
                f"(input.size): give one number or {rank}",
                list(value),
            )
        )


def stem_axes_fit(stem: Any, rank: int, errors: list[InitErrorDetails]) -> None:
    """A list stem's kernels, strides and paddings have one entry per axis of the input;
    a video stem has a 3-D input."""
    if isinstance(stem, NamedStem):
        if stem.type in VIDEO_STEMS and rank != 3:
            errors.append(
                error_detail(
                    ("stem",),
                    f"stem {stem.type!r} is a video stem, for a [D, H, W] input; the input "
                    f"is {rank}-D (input.size)",
                    stem.type,
                )
            )
        return
    for i, layer in enumerate(stem):
        for key in ("kernel", "stride", "padding"):
            _axeserror_detail(("stem", i, key), getattr(layer, key, None), rank, errors)


def stage_axes_fit(
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

    _axeserror_detail(root("stride"), cfg.stride, rank, errors)
    conv = getattr(cfg, "conv", "full")  # the video block's choice of convolution
    if conv != "full" and rank != 3:
        errors.append(
            error_detail(
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
            resolve_stage(i, defaults, stage, errors)
    if not errors:
        return []
    return ValidationError.from_exception_data("ArchSpec", errors).errors()


def error_detail(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    message = message.replace("{", "{{").replace("}", "}}")
    return InitErrorDetails(type=PydanticCustomError("spec_error", message), loc=loc, input=value)


def resolve_stage(
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
            error_detail(
                ("stages", i, "block"),
                f"missing block type (set it here or in defaults); allowed: {', '.join(blocks())}",
                None,
            )
        )
        return None
    block_type = get(name) if isinstance(name, str) else None
    if block_type is None:
        errors.append(
            error_detail(
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
        errors.append(
            error_detail(loc, "ode must be a mapping such as {solver: rk4, steps: 4}", data)
        )
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
        return error_detail(loc, e["msg"].removeprefix("Value error, "), e.get("input"))
    detail = InitErrorDetails(type=kind, loc=loc, input=e.get("input"))
    if "ctx" in e:
        detail["ctx"] = e["ctx"]
    return detail
