"""Hypothesis strategies for random spec mappings, read from the registries and the
block configs' JSON Schema, so a new block type, option or skip kind is drawn without
editing this file. Not every drawn mapping validates (an option may constrain another);
callers reject those with ``hypothesis.reject``."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from archspec.blocks import blocks
from archspec.blocks.skips import DOWNSAMPLES, SKIPS

# Fields every stage sets itself, kept small so specs stay cheap to lower.
STAGE_FIELDS = {"block", "depth", "width", "stride"}
NAMED_STEMS = ["imagenet", "deep", "cifar", "r3d", "r2plus1d", "none"]


def value_of(name: str, schema: dict[str, Any]) -> st.SearchStrategy[Any] | None:
    """A strategy for one field from its JSON Schema, or None if it has no simple form."""
    if name == "skip":
        return st.sampled_from(sorted(SKIPS))
    if name == "downsample":
        return st.sampled_from(sorted(DOWNSAMPLES))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        options = [value_of(name, s) for s in schema["anyOf"]]
        return None if any(o is None for o in options) else st.one_of(options)
    kind = schema.get("type")
    if kind == "integer":
        lo = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        hi = schema.get("maximum", lo + 8)
        return st.integers(lo, min(hi, lo + 8))
    if kind == "number":
        lo = schema.get("minimum", schema.get("exclusiveMinimum", 0.0))
        hi = schema.get("maximum", schema.get("exclusiveMaximum", lo + 1.0))
        return st.floats(lo, hi, exclude_max="exclusiveMaximum" in schema, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return None


def block_options(block: str) -> dict[str, st.SearchStrategy[Any]]:
    """Strategies for the options of a block type (everything but the stage fields)."""
    schema = blocks()[block].config.model_json_schema()
    out = {}
    for name, prop in schema["properties"].items():
        if name in STAGE_FIELDS:
            continue
        strategy = value_of(name, _deref(prop, schema))
        if strategy is not None:
            out[name] = strategy
    return out


def _deref(prop: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in prop:
        return schema["$defs"][prop["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in prop:
        return {**prop, "anyOf": [_deref(p, schema) for p in prop["anyOf"]]}
    return prop


@st.composite
def some_options(draw: st.DrawFn, block: str) -> dict[str, Any]:
    options = block_options(block)
    names = draw(st.lists(st.sampled_from(sorted(options)), unique=True, max_size=3))
    return {name: draw(options[name]) for name in names} if options else {}


@st.composite
def stem_layers(draw: st.DrawFn) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = [
        {
            "conv": draw(st.integers(1, 16)),
            "kernel": draw(st.sampled_from([1, 3, 5])),
            "stride": draw(st.integers(1, 2)),
            **draw(st.fixed_dictionaries({}, optional={"padding": st.integers(0, 2)})),
            **draw(st.fixed_dictionaries({}, optional={"bias": st.booleans()})),
        }
    ]
    if draw(st.booleans()):
        layers.append({"norm": "batch"})
    if draw(st.booleans()):
        layers.append({"act": draw(st.sampled_from(["relu", "silu", "gelu"]))})
    if draw(st.booleans()):
        layers.append({"pool": draw(st.sampled_from(["max", "avg"])), "kernel": 2})
    return layers


@st.composite
def spec_data(draw: st.DrawFn) -> dict[str, Any]:
    """A random spec mapping over every registered block type and skip kind."""
    block = draw(st.sampled_from(sorted(blocks())))
    stem = draw(
        st.one_of(
            st.sampled_from(NAMED_STEMS),
            st.builds(
                lambda t, w: {"type": t, **({"width": w} if w else {})},
                st.sampled_from(NAMED_STEMS),
                st.one_of(st.none(), st.integers(1, 32)),
            ),
            stem_layers(),
        )
    )
    stages = []
    for _ in range(draw(st.integers(1, 3))):
        stage = {
            "depth": draw(st.integers(1, 3)),
            "width": draw(st.integers(1, 32)),
            **draw(st.fixed_dictionaries({}, optional={"stride": st.integers(1, 2)})),
        }
        stage.update(draw(some_options(block)))
        if draw(st.booleans()):
            stage["block"] = block  # written in the stage as well as in defaults
        stages.append(stage)
    # any rank: [L], [H, W] or one number, [D, H, W]
    size = draw(st.one_of(st.integers(8, 64), st.lists(st.integers(8, 64), min_size=1, max_size=3)))
    data: dict[str, Any] = {
        "name": draw(st.from_regex(r"[A-Za-z0-9_.\-]{1,24}", fullmatch=True)),
        "input": {"channels": draw(st.integers(1, 4)), "size": size},
        "stem": stem,
        "defaults": {"block": block, **draw(some_options(block))},
        "stages": stages,
        "head": {
            "classes": draw(st.integers(1, 20)),
            **draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "pool": st.sampled_from(["avg", "max"]),
                        "dropout": st.floats(0.0, 0.99, allow_nan=False),
                    },
                )
            ),
        },
    }
    if draw(st.booleans()):
        data["description"] = draw(st.text(max_size=40))
    return data
