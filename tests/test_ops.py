"""The op table: every registered op has every field, and they agree with each other.

For each op the presets use (sampled from their graphs, so a new op or preset is
covered without a test written for it), the shape rule equals the real module's or
function's output shape, the parameter count equals the module's, the emitted source
builds the same module (same class, same state-dict shapes) or computes the same value,
and the label and style are usable.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from math import prod
from typing import Any

import pytest
import torch
from torch import nn

import archspec
import archspec.nn as archspec_nn
from archspec.errors import ArchSpecError
from archspec.graph.ops import ACTS, NORMS, OPS, Op, register_op

FIELDS = ("shape", "label", "style", "source", "params", "macs", "init")


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_has_every_field(name: str) -> None:
    op = OPS[name]
    for field in FIELDS:
        assert getattr(op, field) is not None, f"{name} has no {field}"
    assert callable(op.shape) and callable(op.label) and callable(op.source)
    assert isinstance(op.style, dict) and op.style.get("shape"), f"{name} has no node shape"
    if name != "input":  # the placeholder: neither a module nor a call
        assert (op.module is None) != (op.call is None), f"{name}: a module or a call, one"


def _samples(per_op: int = 12) -> list[tuple[str, dict[str, Any], tuple[tuple[int, ...], ...]]]:
    found: dict[tuple[str, Any], dict[str, Any]] = defaultdict(dict)
    # Every preset, and one with the options no preset sets (drop_path, head dropout).
    regularized = archspec.load("resnet20").override(
        {"defaults.drop_path": 0.1, "head.dropout": 0.2}
    )
    # and every norm and activation kind, and dilation (no preset has them all)
    small = archspec.load("resnet20")
    kinds = [
        small.override({"defaults.norm": {"kind": k, "groups": 8} if k == "group" else k})
        for k in NORMS
    ]
    kinds += [small.override({"defaults.act": k}) for k in ACTS]
    kinds.append(
        small.override({"output_stride": 2, "defaults.act": {"kind": "leaky_relu", "slope": 0.1}})
    )
    for preset in [*archspec.presets(), regularized, *kinds]:
        graph = archspec.lower(preset)
        for _, data in graph.nodes(data=True):
            if data["op"] == "input":
                continue
            ins = tuple(graph.nodes[i]["shape"] for i in data["inputs"])
            key = repr((sorted(data["params"].items()), ins))
            # per kind too (norms, activations, pools), so each gets its own samples
            bucket = found[data["op"], data["params"].get("kind")]
            if len(bucket) < per_op:
                bucket.setdefault(key, (data["op"], data["params"], ins))
    return [s for bucket in found.values() for s in bucket.values()]


SAMPLES = _samples()
NAMESPACE = {"nn": nn, "torch": torch, **{n: getattr(archspec_nn, n) for n in archspec_nn.__all__}}


def test_the_presets_use_every_built_in_op() -> None:
    assert {op for op, _, _ in SAMPLES} | {"input", "add"} >= set(OPS)


@pytest.mark.parametrize(
    ("op", "params", "ins"),
    SAMPLES,
    ids=[f"{op}-{i}" for i, (op, _, _) in enumerate(SAMPLES)],
)
def test_the_fields_agree(op: str, params: dict[str, Any], ins: tuple) -> None:
    rule: Op = OPS[op]
    out = rule.shape(params, list(ins))
    assert isinstance(rule.label(params), str) and rule.label(params)
    names = [f"v{i}" for i in range(len(ins))]
    values = [torch.randn(2, *s) for s in ins]
    if rule.module is not None:
        module = rule.module(params, False, ins[0])
        source = rule.source(params, ins[0], names, False)
        written = eval(source, dict(NAMESPACE))  # the emitted constructor, run
        assert type(written) is type(module), source
        shapes = {k: v.shape for k, v in module.state_dict().items()}
        assert {k: v.shape for k, v in written.state_dict().items()} == shapes, source
        assert sum(p.numel() for p in module.parameters()) == rule.params(params, list(ins))
        rule.init(module, params, False)
        module.eval()
        with torch.no_grad():
            result = module(*rule.module_call_args(values))
    else:
        fn, args, kwargs = rule.call(params, values, False)
        result = fn(*args, **kwargs)
        expression = rule.source(params, ins[0], names, False)
        again = eval(expression, {**NAMESPACE, **dict(zip(names, values, strict=True))})
        torch.testing.assert_close(again, result)
    assert tuple(result.shape[1:]) == out
    assert rule.macs(params, list(ins), out) >= 0
    if rule.counted and rule.params(params, list(ins)):  # conv and linear: MACs per output
        assert rule.macs(params, list(ins), out) % prod(out) == 0 or op == "linear"


def test_register_op_refuses_an_incomplete_or_clashing_op() -> None:
    incomplete = Op(
        shape=lambda p, ins: ins[0],
        label=lambda p: "x",
        style={"shape": "box"},
        source=lambda p, s, a, i: "x",
    )
    with pytest.raises(ArchSpecError, match="module factory or a function call"):
        register_op("incomplete", incomplete)
    with pytest.raises(ArchSpecError, match="already registered"):
        register_op("conv", OPS["norm"])
    with pytest.raises(ArchSpecError, match=r"expected an archspec\.graph\.ops\.Op"):
        register_op("loose", "conv")  # type: ignore[arg-type]
    assert "incomplete" not in OPS and "loose" not in OPS


def test_rank_generic_rules() -> None:
    # The shape rules and modules take any rank: the same conv as Conv1d and Conv3d.
    conv = OPS["conv"]
    p = {
        "in_channels": 4,
        "out_channels": 8,
        "kernel": 3,
        "stride": 2,
        "padding": 1,
        "groups": 1,
        "bias": False,
    }
    for shape in ((4, 17), (4, 9, 17), (4, 5, 9, 17)):
        module = conv.module(p, False, shape)
        assert module(torch.randn(1, *shape)).shape[1:] == conv.shape(p, [shape])
    per_axis = {**p, "kernel": [3, 7, 7], "stride": [1, 2, 2], "padding": [1, 3, 3]}
    module = conv.module(per_axis, False, (4, 8, 32, 32))
    assert module(torch.randn(1, 4, 8, 32, 32)).shape[1:] == conv.shape(per_axis, [(4, 8, 32, 32)])
    assert list(itertools.islice(OPS, 1)) == ["input"]
