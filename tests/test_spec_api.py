"""The spec API sweeps are built on: override, the YAML round trip, arch_id, pickling."""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import torch
import yaml
from helpers import spec_of, tiny_spec
from hypothesis import HealthCheck, given, reject, settings
from spec_strategies import block_options, spec_data

import archspec
from archspec.blocks import blocks
from archspec.blocks.skips import DOWNSAMPLES, SKIPS
from archspec.lowering import lower
from archspec.spec.load import from_data
from archspec.spec.parts import NAMED_STEM_WIDTH, VIDEO_STEMS

# archspec.load("resnet50").arch_id, pinned: a change here changes every stored id.
RESNET50_ARCH_ID = "e250b79d828232bc"
torch.set_num_threads(1)  # two xdist workers share two cores
RANDOM = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tiny(block: str, **options: Any) -> archspec.ArchSpec:
    """A two-stage 16x16 net of one block type (stage 2 changes size and channels)."""
    return from_data(
        {
            "name": f"tiny_{block}",
            "input": {"channels": 3, "size": 16},
            "stem": {"type": "cifar", "width": 8},
            "defaults": {"block": block, **options},
            "stages": [{"depth": 1, "width": 8}, {"depth": 1, "width": 16, "stride": 2}],
            "head": {"classes": 5},
        }
    )


# --- override -------------------------------------------------------------------------


def test_override_returns_a_new_validated_spec() -> None:
    base = archspec.load("resnet50")
    before = base.to_yaml()
    deeper = base.override({"stages.2.depth": 23})
    assert deeper.blocks[2].depth == 23
    assert base.blocks[2].depth == 6 and base.to_yaml() == before
    # resnet50 with 23 blocks in its third stage is resnet101
    assert archspec.stats(deeper).params == archspec.stats("resnet101").params == 44_549_160
    assert base.override(["stages.2.depth=23"]) == deeper  # the CLI's PATH=VALUE form


@pytest.mark.parametrize(
    ("path", "value", "names"),
    [
        ("stages.2.depth", 0, "stages[2].depth"),
        ("stages.2.depth", "deep", "stages[2].depth"),
        ("stages.1.widht", 3, "stages[1].widht"),
        ("defaults.block", "nope", "defaults.block"),
        ("head.classes", -1, "head.classes"),
        ("head.dropout", 1.5, "head.dropout"),
        ("input.size", 0, "input.size"),
        ("stages.9.depth", 3, "stages.9.depth"),
        ("stem", "huge", "stem"),
    ],
)
def test_invalid_override_names_the_dotted_path(path: str, value: Any, names: str) -> None:
    base = archspec.load("resnet50")
    with pytest.raises(archspec.ArchSpecError) as info:
        base.override({path: value})
    message = str(info.value)
    assert f"override {path}=" in message  # the override as the caller wrote it
    assert names in message  # and the field it broke
    assert base == archspec.load("resnet50")


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({1: 2}, "an override path is a dotted string"),
        ({"stages.0.depth": 2, None: 3}, "got None"),
        ([3], "an override is a 'PATH=VALUE' string"),
        (5, "got int 5"),
        ("stages.0.depth=2", "(put it in a list)"),
        (b"stages.0.depth=2", "got bytes"),
    ],
)
def test_overrides_of_the_wrong_kind_are_spec_errors(overrides: Any, says: str) -> None:
    base = archspec.load("resnet50")
    for call in (lambda: base.override(overrides), lambda: archspec.load("resnet50", overrides)):
        with pytest.raises(archspec.SpecError) as info:
            call()
        assert says in str(info.value)


def test_data_nested_beyond_pythons_recursion_limit_is_a_spec_error() -> None:
    deep: Any = 0
    for _ in range(20_000):
        deep = [deep]
    base = archspec.load("resnet20")
    for call in (
        lambda: base.override({"description": deep}),
        lambda: archspec.load("resnet20", overrides={"stages.0.se": deep}),
        lambda: from_data({**base.model_dump(), "description": deep}),
    ):
        with pytest.raises(archspec.SpecError, match="nested deeper than Python can copy"):
            call()


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.stages[0].__setitem__("depth", 9),
        lambda s: s.stages[0].update(depth=9),
        lambda s: s.stages[0].pop("depth"),
        lambda s: s.defaults.__setitem__("block", "basic"),
        lambda s: s.defaults.setdefault("se", 16),
        lambda s: s.defaults.clear(),
        lambda s: s.stages[0].__init__(depth=1),  # dict.__init__ would update it
        lambda s: s.defaults.__ior__({"se": 16}),
    ],
)
def test_a_spec_cannot_be_changed_in_place(edit: Any) -> None:
    """defaults and stages are kept as written, read-only: an edit in place would leave
    blocks, arch_id and to_yaml describing different networks."""
    spec = archspec.load("resnet50")
    before = (spec.to_yaml(), spec.arch_id, spec.blocks)
    with pytest.raises(TypeError, match=r"spec\.override"):
        edit(spec)
    assert (spec.to_yaml(), spec.arch_id, spec.blocks) == before
    assert spec.stages[0]["depth"] == 3 and dict(spec.defaults)["block"] == "bottleneck"


def test_read_only_settings_survive_copies_and_pickling() -> None:
    spec = archspec.load("resnet50").override({"defaults.se": 16, "stem": [{"conv": 8}]})
    assert copy.deepcopy(spec) is spec  # nothing in it can change
    for again in (pickle.loads(pickle.dumps(spec)), copy.copy(spec), spec.model_copy()):
        assert again == spec and again.arch_id == spec.arch_id
        with pytest.raises(TypeError):
            again.stages[1]["width"] = 1
    # copies of the settings themselves are the caller's own, plain and mutable
    for mine in (copy.deepcopy(spec.defaults), copy.copy(spec.defaults), dict(spec.defaults)):
        assert type(mine) is dict and mine == spec.defaults
        mine["se"] = 8
    dumped = spec.model_dump()
    assert type(dumped["defaults"]) is dict and type(dumped["stages"][0]) is dict
    dumped["stages"][0]["depth"] = 2
    assert spec.stages[0]["depth"] == 3 and spec.defaults["se"] == 16
    # they dump as the mappings they were written as
    assert yaml.safe_load(yaml.safe_dump(spec.defaults)) == dict(spec.defaults)
    assert json.loads(json.dumps(spec.stages[0])) == dict(spec.stages[0])


def test_model_copy_with_an_update_is_validated() -> None:
    """pydantic's model_copy(update=...) skips validation; a spec's re-validates."""
    spec = archspec.load("resnet50")
    shallower = spec.model_copy(update={"stages": [{"depth": 1, "width": 64}]})
    assert shallower.blocks[0].depth == 1 and len(shallower.blocks) == 1
    with pytest.raises(archspec.SpecError, match=r"stages\[0\]\.depth"):
        spec.model_copy(update={"stages": [{"depth": 0, "width": 64}]})


# --- YAML round trip ------------------------------------------------------------------


def assert_round_trip(spec: archspec.ArchSpec) -> None:
    text = spec.to_yaml()
    again = archspec.ArchSpec.from_yaml(text)
    assert again == spec
    assert again.arch_id == spec.arch_id
    assert again.blocks == spec.blocks
    assert again.to_yaml() == text
    assert spec.override({}) == spec


@pytest.mark.parametrize("name", archspec.presets())
def test_every_preset_round_trips(name: str) -> None:
    assert_round_trip(archspec.load(name))


@RANDOM
@given(spec_data())
def test_random_specs_round_trip(data: dict[str, Any]) -> None:
    try:
        spec = from_data(data)
    except archspec.ArchSpecError:
        reject()
    assert_round_trip(spec)


# --- arch_id --------------------------------------------------------------------------


def test_arch_id_is_pinned_and_the_same_in_other_processes() -> None:
    assert archspec.load("resnet50").arch_id == RESNET50_ARCH_ID
    code = "import archspec; print(archspec.load('resnet50').arch_id)"
    for hash_seed in ("0", "4242"):  # str hashes, and so set and dict order, differ
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == RESNET50_ARCH_ID


def test_arch_id_ignores_name_description_and_how_settings_are_written() -> None:
    base = archspec.load("resnet50")
    same = [
        base.override({"name": "other", "description": "another text"}),
        # defaults moved into every stage
        base.override(
            {
                "defaults": {},
                **{f"stages.{i}.block": "bottleneck" for i in range(4)},
                **{f"stages.{i}.expansion": 4 for i in range(4)},
            }
        ),
        # a default written out
        base.override({"stages.0.norm": "batch", "head.pool": "avg", "input.size": [224, 224]}),
        base.override({"stem": {"type": "imagenet"}}),
    ]
    for spec in same:
        assert spec.arch_id == base.arch_id


@pytest.mark.parametrize("stem", sorted(NAMED_STEM_WIDTH))
def test_arch_id_sees_a_named_stem_width_as_lowering_does(stem: str) -> None:
    base = "r3d_18" if stem in VIDEO_STEMS else "resnet18"  # a video stem takes a clip
    implied = archspec.load(base).override({"stem": stem})
    written = implied.override({"stem": {"type": stem, "width": NAMED_STEM_WIDTH[stem]}})
    other = implied.override({"stem": {"type": stem, "width": NAMED_STEM_WIDTH[stem] + 8}})
    assert implied.arch_id == written.arch_id != other.arch_id
    same = nx.utils.graphs_equal(lower(implied), lower(written))
    assert same, "lowering/network.py and NAMED_STEM_WIDTH disagree"


def same_network(a: nx.DiGraph, b: nx.DiGraph) -> bool:
    """The same ops, shapes, parameters and edges (the stage records aside: they hold
    each stage's config as written)."""
    attrs = {k: v for k, v in a.graph.items() if k != "stages"}
    return nx.utils.graphs_equal(a, b) or (
        attrs == {k: v for k, v in b.graph.items() if k != "stages"}
        and list(a.nodes(data=True)) == list(b.nodes(data=True))
        and list(a.edges(data=True)) == list(b.edges(data=True))
    )


FORMS = [(b, {}) for b in blocks()] + [("preact", {"form": "bottleneck"})]


@pytest.mark.parametrize(("block", "extra"), FORMS, ids=[f"{b}{e}" for b, e in FORMS])
def test_arch_id_sees_what_a_block_type_implies(block: str, extra: dict[str, Any]) -> None:
    """A setting written out as the value leaving it out implies (preact's expansion:
    1 for the basic form, 4 for the bottleneck) builds the same graph and keeps the id."""
    implied = spec_of(tiny_spec(block, extra=extra))
    for key, value in implied.blocks[0].implied().items():
        written = implied.override({f"defaults.{key}": value})
        assert implied.arch_id == written.arch_id, key
        assert same_network(lower(implied), lower(written)), key
        assert written.override({f"defaults.{key}": value + 1}).arch_id != implied.arch_id


def test_arch_id_sees_implied_stem_layer_values() -> None:
    layers = [{"conv": 16, "kernel": 5}, {"norm": "batch"}, {"pool": "max", "kernel": 2}]
    implied = archspec.load("resnet20").override({"stem": layers})
    written = implied.override({"stem.0.padding": 2, "stem.2.stride": 2})
    other = implied.override({"stem.0.padding": 1})
    assert implied.arch_id == written.arch_id != other.arch_id
    assert nx.utils.graphs_equal(lower(implied), lower(written))


def _alternatives(name: str, value: Any, schema: dict[str, Any]) -> list[Any]:
    """Other valid-looking values of a block field, in a fixed order."""
    if name == "skip":
        return [k for k in SKIPS if k != value]
    if name == "downsample":
        return [k for k in DOWNSAMPLES if k != value]
    options = schema.get("anyOf", [schema])
    out: list[Any] = []
    for option in options:
        if "enum" in option:
            out += [v for v in option["enum"] if v != value]
        elif option.get("type") == "boolean":
            out.append(not value)
        elif option.get("type") == "integer":
            lo = option.get("minimum", 1)
            out.append(value + 1 if isinstance(value, int) else lo)
        elif option.get("type") == "number":
            lo = option.get("minimum", option.get("exclusiveMinimum", 0.0))
            out.append(value / 2 if isinstance(value, float) and value else lo + 0.25)
        elif option.get("type") == "null" and value is not None:
            out.append(None)
    return out


@pytest.mark.parametrize("block", sorted(blocks()))
def test_arch_id_changes_with_every_setting_of_every_block(block: str) -> None:
    base = tiny(block)
    ids = {base.arch_id}
    changes = [
        {"input.channels": 1},
        {"input.size": 32},
        {"input.size": [16, 24]},
        {"stem": "none"},
        {"stem.width": 16},
        {"head.classes": 6},
        {"head.pool": "max"},
        {"head.dropout": 0.5},
        {"stages.0.depth": 2},
        {"stages.1.width": 24},
        {"stages.1.stride": 1},
    ]
    schema = blocks()[block].config.model_json_schema()
    props = {k: v for k, v in schema["properties"].items() if k in block_options(block)}
    current = base.blocks[1].model_dump()
    implied = base.blocks[1].implied()  # writing out these is no change: see above
    for name, prop in props.items():
        for value in _alternatives(name, current[name], prop):
            if name not in implied or value != implied[name]:
                changes.append({f"stages.1.{name}": value})
    tried = 0
    for change in changes:
        try:
            spec = base.override(change)
        except archspec.ArchSpecError:
            continue  # a value this block refuses (a skip it does not take, ...)
        tried += 1
        assert spec.arch_id not in ids, change
        ids.add(spec.arch_id)
        assert spec.override({"name": "renamed"}).arch_id == spec.arch_id
    assert tried >= len(props)


# --- pickling -------------------------------------------------------------------------


@pytest.mark.parametrize("name", archspec.presets())
def test_preset_specs_pickle(name: str) -> None:
    spec = archspec.load(name)
    again = pickle.loads(pickle.dumps(spec))
    assert again == spec and again.blocks == spec.blocks and again.arch_id == spec.arch_id
    assert archspec.stats(again) == archspec.stats(spec)


@RANDOM
@given(spec_data())
def test_random_specs_pickle(data: dict[str, Any]) -> None:
    try:
        spec = from_data(data)
    except archspec.ArchSpecError:
        reject()
    again = pickle.loads(pickle.dumps(spec))
    assert again == spec and again.blocks == spec.blocks


@pytest.mark.parametrize("block", sorted(blocks()))
def test_built_models_pickle(block: str) -> None:
    model = archspec.build(tiny(block), seed=0).eval()
    again = pickle.loads(pickle.dumps(model)).eval()
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(again(x), model(x))
    assert again.state_dict().keys() == model.state_dict().keys()
    # it keeps training: gradients reach every parameter
    again.train()
    again(x).sum().backward()
    assert all(p.grad is not None for p in again.parameters())


def test_a_preset_is_validated_once_and_again_when_its_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archspec.spec.presets as shipped

    (tmp_path / "resnet18.yaml").write_text((shipped.preset_dir() / "resnet18.yaml").read_text())
    monkeypatch.setattr(shipped, "preset_dir", lambda: tmp_path)
    first = archspec.load("resnet18")
    second = archspec.load("resnet18")
    assert second == first and second is not first and second.stages is first.stages
    object.__setattr__(second, "_blocks", ())  # what a caller does to its copy stays there
    assert archspec.load("resnet18").blocks == first.blocks
    assert archspec.load("resnet18", {"stages.0.depth": 3}) != first
    edited = tmp_path / "resnet18.yaml"
    text = edited.read_text()
    edited.write_text(text.replace("description: ResNet-18", "description: edited ResNet-18"))
    os.utime(edited, ns=(1, 1))
    again = archspec.load("resnet18")
    assert again.description.startswith("edited")
    edited.unlink()
    with pytest.raises(archspec.SpecError):
        archspec.load("resnet18")
