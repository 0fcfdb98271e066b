"""Property tests (hypothesis) over the whole pipeline.

(a) random valid specs always lower, build and run, with the shapes and parameter
    counts the graph IR predicts;
(b) random mutations of valid spec dicts, (c) random dotted-path overrides: a valid
    spec or an ArchSpecError, never another exception;
(d) YAML round trips and arch_id invariants.

The spec strategy draws block types, skip kinds and downsample kinds from the
registries, so new ones are exercised without editing this file.
"""

from __future__ import annotations

import copy
import math
import os
from typing import Any, get_args

import pytest
import torch
import yaml
from helpers import (
    assert_ir_shapes,
    assert_modules_work_alone,
    block_skips,
    block_variants,
    n_params,
    sample,
    spec_of,
)
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import archspec
from archspec.blocks import blocks
from archspec.blocks.base import Act, BlockConfig, Norm
from archspec.blocks.skips import DOWNSAMPLES
from archspec.errors import ArchSpecError, GraphError, SpecError
from archspec.spec.model import ArchSpec, HeadSpec, InputSpec, NamedStem

# The norms that fit any width and size: group norm needs channels its groups divide,
# instance norm more than one position per channel in training (tests/test_norms.py
# covers both).
NORMS = [k for k in get_args(Norm) if k not in ("group", "instance")]

BLOCKS = sorted(blocks())
# Fixed examples by default, so the suite gives the same verdict on every run; set
# ARCHSPEC_HYPOTHESIS_SCALE=10 (say) to hunt with ten times as many fresh random ones.
SCALE = int(os.environ.get("ARCHSPEC_HYPOTHESIS_SCALE", "0"))
BUILD = settings(
    max_examples=50 * max(SCALE, 1),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=not SCALE,
)
CHEAP = settings(max_examples=150 * max(SCALE, 1), deadline=None, derandomize=not SCALE)


# --- valid specs --------------------------------------------------------------------------


def _down2(h: int) -> int:
    """A lower bound of the size after a stride-2 op: "same"-padded convs round up, a
    dense transition's pool rounds down. Strides are only drawn while this bound is at
    least 2, so no valid spec strides a 1-pixel map."""
    return h // 2


@st.composite
def stems(draw: st.DrawFn, channels: int, size: int) -> tuple[Any, int, int]:
    """(stem, output channels, output size), never striding a 1-pixel map."""
    kind = draw(st.sampled_from(["cifar", "none", "named", "imagenet", "list"]))
    h = size
    if kind == "cifar":
        return "cifar", 16, h
    if kind == "none":
        return "none", channels, h
    if kind == "named":
        width = draw(st.integers(1, 24))
        if draw(st.booleans()):
            return {"type": "cifar", "width": width}, width, h
        return {"type": "deep", "width": width}, width, _down2(_down2(h))  # conv/2, pool/2
    if kind == "imagenet":
        return "imagenet", 64, _down2(_down2(h))
    layers: list[dict[str, Any]] = []
    out = channels
    for _ in range(draw(st.integers(1, 5))):
        layer = draw(st.sampled_from(["conv", "norm", "act", "pool"]))
        if layer == "conv":
            out = draw(st.integers(1, 24))
            stride = draw(st.integers(1, 2)) if h > 1 else 1
            kernel = draw(st.sampled_from([1, 3]))
            layers.append({"conv": out, "kernel": kernel, "stride": stride})
            h = _down2(h) if stride == 2 else h
        elif layer == "norm":
            layers.append({"norm": draw(st.sampled_from(NORMS))})
        elif layer == "act":
            layers.append({"act": draw(st.sampled_from(get_args(Act)))})
        elif h > 1:
            pool = draw(st.sampled_from(["max", "avg"]))
            if draw(st.booleans()):
                layers.append({"pool": pool, "kernel": 3, "stride": 2, "padding": 1})
                h = _down2(h)
            else:
                layers.append({"pool": pool, "kernel": 2})
                h = _down2(h)
    return layers, out, h


# Options every block type takes, tried like a block's own options (if the common config
# still has them): squeeze-excitation and stochastic depth.
COMMON_OPTIONS = [
    option
    for option in ({"se": 4}, {"se": 1}, {"drop_path": 0.2})
    if set(option) <= set(BlockConfig.model_fields)
]


def _width_fits(block: str, width: int) -> bool:
    try:
        blocks()[block].config.model_validate({"block": block, "depth": 1, "width": width})
    except ValidationError:
        return False
    return True


@st.composite
def spec_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec, as the dict a user would write."""
    block = draw(st.sampled_from(BLOCKS))
    skip = draw(st.sampled_from(block_skips(block)))
    down = draw(st.sampled_from(sorted(DOWNSAMPLES)))
    channels = draw(st.integers(1, 4))
    rank = draw(st.sampled_from([1, 2, 2, 3]))  # 2-D most often; volumes kept small
    size = draw(st.integers(8, 16 if rank == 3 else 32))
    stem, c, h = draw(stems(channels, size))
    n = draw(st.integers(1, 3))
    widths = draw(st.lists(st.integers(1, 24), min_size=n, max_size=n))
    if "pad" in (skip, down):
        # a pad skip only adds channels: keep each stage at least as wide as its input
        widths = sorted(max(w, c) for w in widths)
    # a block type may constrain its width by itself (resnest's radix splits must divide
    # it): each width rounded up to the next the type's defaults accept
    widths = [next(v for v in range(w, w + 64) if _width_fits(block, v)) for w in widths]
    stages = []
    for w in widths:
        # torch's 3-D average pool refuses an axis below its kernel, so a volume of 2 is
        # not strided (resnest's avd pool is 3x3x3 there)
        stride = draw(st.integers(1, 2)) if h > (2 if rank == 3 else 1) else 1
        h = _down2(h) if stride == 2 else h
        stage: dict[str, Any] = {"depth": draw(st.integers(1, 2)), "width": w}
        if stride > 1 or draw(st.booleans()):
            stage["stride"] = stride
        stages.append(stage)
    defaults: dict[str, Any] = {
        "block": block,
        "skip": skip,
        "downsample": down,
        "norm": draw(st.sampled_from(NORMS)),
        "act": draw(st.sampled_from(get_args(Act))),
        "zero_init_last": draw(st.booleans()),
    }
    head: dict[str, Any] = {"classes": draw(st.integers(1, 12))}
    if draw(st.booleans()):
        head["pool"] = draw(st.sampled_from(["avg", "max"]))
    if draw(st.booleans()):
        head["dropout"] = draw(st.sampled_from([0.0, 0.1, 0.5]))
    data = {
        "name": draw(st.from_regex(r"[A-Za-z0-9_.\-]{1,20}", fullmatch=True)),
        "input": {"channels": channels, "size": size if rank == 2 else [size] * rank},
        "stem": stem,
        "defaults": defaults,
        "stages": stages,
        "head": head,
    }
    # one of the block type's own options, if it fits this spec (some constrain the
    # width, e.g. a ResNeXt without base_width needs widths that divide into groups)
    variant = draw(st.sampled_from([{}, *block_variants(block), *COMMON_OPTIONS]))
    if variant:
        trial = copy.deepcopy(data)
        trial["defaults"].update(variant)
        try:
            spec_of(trial)
            data = trial
        except SpecError:
            pass
    return data


@pytest.mark.slow
@BUILD
@given(spec_dicts())
def test_random_valid_specs_build_and_run(data: dict[str, Any]) -> None:
    note(yaml.safe_dump(data, sort_keys=False))
    spec = spec_of(data)
    graph = archspec.lower(spec)
    stats = archspec.stats(spec)
    classes = data["head"]["classes"]
    assert stats.output_shape == (classes,)
    model = archspec.build(spec, seed=0)
    assert n_params(model) == stats.params
    x = sample(data["input"]["size"], channels=data["input"]["channels"])
    assert_ir_shapes(graph, model, x)
    before = x.clone()
    out = model(x)
    assert out.shape == (2, classes)
    assert torch.equal(x, before), "in-place ops must never write into the caller's input"
    out.square().sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    # Every stage, block and layer, called alone, computes what it computes inside.
    assert assert_modules_work_alone(archspec.build(spec, seed=0), x) >= len(graph.graph["blocks"])


# --- mutations: a valid spec or an ArchSpecError, nothing else -----------------------------

JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["basic", "bottleneck", "identity", "pad", "batch", "relu", "cifar"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
SPECIAL_NUMBERS = st.sampled_from(
    [
        *(0, -1, -(2**63), 1, 2, 4096, 4097, 65536, 65537, 10**9, 2**63, 10**100),
        *(0.5, 2.0, -0.0, math.nan, math.inf, -math.inf, 1e308),
    ]
)
GARBAGE = st.one_of(
    JSONISH,
    SPECIAL_NUMBERS,
    st.sampled_from(["", "3", "1e3", "nan", "yes", "null", "[1]", "{a: 1}", "!!python/none"]),
)


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


def _parent(data: Any, path: tuple) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(draw(spec_dicts()))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        kind = draw(st.sampled_from(["delete", "garbage", "unknown", "number", "nest", "string"]))
        if kind == "delete":
            del parent[path[-1]]
        elif kind == "garbage":
            parent[path[-1]] = draw(GARBAGE)
        elif kind == "number":
            parent[path[-1]] = draw(SPECIAL_NUMBERS)
        elif kind == "string":
            parent[path[-1]] = str(parent[path[-1]])
        elif kind == "nest":
            parent[path[-1]] = {"value": parent[path[-1]], "more": draw(JSONISH)}
        else:
            target = parent if isinstance(parent, dict) else data
            target[draw(st.text(min_size=1, max_size=10))] = draw(JSONISH)
    return data


def _check_valid_or_archspec_error(load: Any) -> None:
    try:
        spec = load()
    except ArchSpecError:
        return
    try:
        stats = archspec.stats(spec)
    except GraphError:
        return
    assert stats.params >= 0
    if sum(b.depth for b in spec.blocks) <= 16 and stats.params < 5e8:
        model = archspec.build(spec, device="meta")
        assert n_params(model) == stats.params


@CHEAP
@given(mutated())
def test_mutated_specs_are_valid_or_rejected_cleanly(data: dict[str, Any]) -> None:
    note(repr(data))
    _check_valid_or_archspec_error(lambda: spec_of(data))
    try:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError:
        return
    _check_valid_or_archspec_error(lambda: archspec.ArchSpec.from_yaml(text))


# --- overrides ----------------------------------------------------------------------------

# every key the spec language has, so paths often hit real fields
KEYS = sorted(
    {
        "extends",
        *ArchSpec.model_fields,
        *InputSpec.model_fields,
        *NamedStem.model_fields,
        *HeadSpec.model_fields,
        *(key for b in blocks().values() for key in b.config.model_fields),
    }
)
SEGMENTS = st.one_of(
    st.sampled_from(KEYS),
    st.integers(0, 4).map(str),
    st.sampled_from(["99", "-1", "00", "²", "١", "1e3", "", " ", "x y"]),
    st.text(max_size=6),
)
PATHS = st.lists(SEGMENTS, min_size=1, max_size=4).map(".".join)


@CHEAP
@given(st.sampled_from(["resnet20", "preact_resnet164", "resnet18"]), PATHS, GARBAGE)
def test_random_mapping_overrides(preset: str, path: str, value: Any) -> None:
    note(f"{path} = {value!r}")
    _check_valid_or_archspec_error(lambda: archspec.load(preset, overrides={path: value}))


@CHEAP
@given(
    st.sampled_from(["resnet20", "plain20"]),
    st.lists(st.tuples(PATHS, st.text(max_size=12)), min_size=1, max_size=3),
)
def test_random_command_line_overrides(preset: str, items: list[tuple[str, str]]) -> None:
    sets = [f"{path}={value}" for path, value in items]
    note(repr(sets))
    _check_valid_or_archspec_error(lambda: archspec.load(preset, overrides=sets))
    spec = archspec.load(preset)
    _check_valid_or_archspec_error(lambda: spec.override(sets))


@CHEAP
@given(st.lists(st.text(max_size=30), min_size=1, max_size=3))
def test_override_strings_without_structure(items: list[str]) -> None:
    _check_valid_or_archspec_error(lambda: archspec.load("resnet20", overrides=items))


# --- round trips and arch_id --------------------------------------------------------------

NAMES = st.from_regex(r"[A-Za-z0-9_.\-]{1,40}", fullmatch=True)


@CHEAP
@given(spec_dicts(), NAMES, st.text(max_size=200))
def test_yaml_round_trip_and_arch_id(data: dict[str, Any], name: str, description: str) -> None:
    spec = spec_of(data)
    text = spec.to_yaml()
    again = archspec.ArchSpec.from_yaml(text)
    assert again == spec
    assert again.arch_id == spec.arch_id
    assert again.to_yaml() == text

    # name and description are not architecture
    renamed = spec.override({"name": name, "description": description})
    assert renamed.name == name and renamed.description == description
    assert renamed.arch_id == spec.arch_id
    back = archspec.ArchSpec.from_yaml(renamed.to_yaml())
    assert back == renamed and back.description == description

    # a different depth is a different architecture
    depth = spec.blocks[0].depth
    deeper = spec.override({"stages.0.depth": depth + 1})
    assert deeper.arch_id != spec.arch_id
    assert deeper.override({"stages.0.depth": depth}).arch_id == spec.arch_id

    # and where a setting is written (defaults or each stage) does not matter
    moved = copy.deepcopy(data)
    skip = moved["defaults"].pop("skip")
    for stage in moved["stages"]:
        stage["skip"] = skip
    assert spec_of(moved).arch_id == spec.arch_id


@CHEAP
@given(spec_dicts())
def test_arch_id_is_a_stable_short_hash(data: dict[str, Any]) -> None:
    spec = spec_of(data)
    assert len(spec.arch_id) == 16 and int(spec.arch_id, 16) >= 0
    assert spec_of(copy.deepcopy(data)).arch_id == spec.arch_id
    changed = spec.override({"head.classes": data["head"]["classes"] + 1})
    assert changed.arch_id != spec.arch_id


def test_arch_id_is_the_same_in_every_process() -> None:
    """A fixed value: the hash must not depend on dict order, PYTHONHASHSEED or the run."""
    import subprocess
    import sys

    code = "import archspec; print(archspec.load('resnet50').arch_id)"
    ids = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert ids == {archspec.load("resnet50").arch_id}


@pytest.mark.parametrize(
    "description",
    ["a\x85b", "\u2028", "x\u2029y", "café", "multi\nline\n", " lead", "tab\there", "'\"", "#"],
)
@pytest.mark.parametrize("name", ["0", "1e3", "true", "null", "-", ".inf", "0x1F", "1_000"])
def test_round_trip_of_awkward_text(name: str, description: str) -> None:
    """Strings YAML could read as something else, and line-break characters PyYAML
    writes raw (NEL came back as a space) survive to_yaml / from_yaml."""
    spec = archspec.load("resnet20").override({"name": name, "description": description})
    again = archspec.ArchSpec.from_yaml(spec.to_yaml())
    assert (again.name, again.description) == (name, description)
    assert again == spec
