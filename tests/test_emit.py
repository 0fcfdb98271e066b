"""Standalone source (emit_python) follows the built tree: one parameterised class per
block kind, reused by every block of that kind, linear in the network's depth, with
names no spec can collide with, for every preset and for backbones."""

from __future__ import annotations

import functools
import re
from typing import Any

import pytest
import torch
from cli_helpers import tiny_spec_data
from torch import fx

import archspec
from archspec.spec.load import from_data


def _run(source: str, model: torch.nn.Module) -> torch.nn.Module:
    namespace: dict[str, Any] = {"__name__": "emitted"}
    exec(compile(source, "<emitted>", "exec"), namespace)
    # The network's class: what load() returns (renamed if the spec's name is taken).
    top = re.search(r"^def load\(.*\) -> (\w+):", source, re.MULTILINE)
    assert top is not None
    emitted = namespace[top.group(1)]()
    emitted.load_state_dict(model.state_dict(), strict=True)
    return emitted.eval()


def _classes(source: str) -> list[str]:
    return re.findall(r"^class (\w+)\(nn\.Module\):", source, re.MULTILINE)


def _small_input(spec: archspec.ArchSpec) -> torch.Tensor:
    channels, *size = archspec.lower(spec).graph["input_shape"]
    return torch.randn(2, channels, *(min(s, 64) for s in size))


@pytest.mark.parametrize("preset", archspec.presets())
def test_every_preset_emits_code_that_computes_the_same(preset: str) -> None:
    spec = archspec.load(preset)
    if any(o is not None and (o.adaptive or o.adjoint) for o in spec.odes):
        # dopri5 and the adjoint need torchdiffeq: refused, naming the stage
        # (tests/test_ode_emit.py)
        with pytest.raises(archspec.ArchSpecError, match="ODE stage layer1"):
            archspec.emit_python(spec)
        return
    source = archspec.emit_python(spec)
    model = archspec.build(spec, seed=0).eval()
    emitted = _run(source, model)
    x = _small_input(spec)
    # In training mode: the norms use the batch's statistics, so a 1,000-layer net at
    # its initialization stays finite (in eval mode its outputs overflow to NaN).
    emitted.train()
    model.train()
    with torch.no_grad():
        torch.manual_seed(0)
        ours = emitted(x)
        torch.manual_seed(0)
        theirs = model(x)
    assert torch.isfinite(theirs).all()
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    # The file does not grow with depth: resnet1202 is no longer than resnet20.
    assert source.count("\n") < 400
    assert max(len(line) for line in source.splitlines()) <= 100
    # One class per kind of container (block, stage, a block's part), reused by every
    # container of that kind.
    allowed = SPLIT_KINDS.get(preset, set())
    for kind, classes in _classes_per_kind(model, emitted).items():
        assert len(classes) == 1 or kind in allowed, f"{kind}: {sorted(classes)}"
    assert allowed <= set(_classes_per_kind(model, emitted))


# Kinds that may get more than one class, preset by preset, each with the reason: none
# today. A preset added here must still have the kind (checked above), so an entry
# cannot outlive the split it excuses.
SPLIT_KINDS: dict[str, set[str]] = {}


def _classes_per_kind(model: torch.nn.Module, emitted: torch.nn.Module) -> dict[str, set[str]]:
    """For each kind of container in the built model, the emitted classes at its paths."""
    built = {p: type(m).__name__ for p, m in model.named_modules() if isinstance(m, fx.GraphModule)}
    classes = {p: type(m).__name__ for p, m in emitted.named_modules()}
    found: dict[str, set[str]] = {}
    for path, kind in built.items():
        if path:  # the network itself
            found.setdefault(kind, set()).add(classes[path])
    return found


@pytest.mark.parametrize("preset", ["resnet18", "resnet50", "resnext50_32x4d", "resnet56"])
def test_torchvision_layouts_get_one_class_per_block_kind(preset: str) -> None:
    source = archspec.emit_python(archspec.load(preset))
    block = {r.module_class for r in archspec.lower(preset).graph["blocks"]}.pop()
    assert [c for c in _classes(source) if c.startswith(block)] == [block]
    assert f"class {block}(nn.Module):" in source
    signature = re.search(
        rf"class {block}\(nn\.Module\):.*?def __init__\((.*?)\) -> None", source, re.S
    )
    assert signature is not None and "in_channels: int" in signature.group(1)


def test_the_source_reads_like_pytorch() -> None:
    source = archspec.emit_python(archspec.load("resnet50"))
    assert "        x = self.layer1(x)\n" in source  # stages that chain are Sequentials
    assert "        out += x\n" in source  # torchvision's in-place merge
    assert "        if self.downsample is not None:\n            x = self.downsample(x)\n" in source
    assert "self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1" in source
    assert "*(Bottleneck(1024, 1024, 256, 1) for _ in range(5))" in source
    assert "Bottleneck(64, 256, 64, 1, downsample=True)" in source


@pytest.mark.parametrize("block", ["basic", "dense"])
def test_the_source_is_linear_in_depth(block: str) -> None:
    # Runs of blocks of one kind are one line and a dense stage is a loop, so the file's
    # size does not grow with the number of blocks at all.
    def lines(depth: int) -> int:
        data = tiny_spec_data(block)
        data["stages"][0]["depth"] = depth
        return archspec.emit_python(from_data(data, "<test>")).count("\n")

    assert lines(4) == lines(40)


NAMES = [
    "basic1",
    "bottleneck1",
    "scale",
    "gate",
    "pad_shortcut",
    "none",
    "true",
    "F",
    "torch",
    "nn",
    "load",
    "Gate",
    "BasicBlock",
    "INPUT_SHAPE",
    "self",
    "x",
    "features",
    "class",
    "print",
    "Tiny",
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("block", ["basic", "highway"])
def test_no_spec_name_collides_with_an_emitted_name(name: str, block: str) -> None:
    spec = from_data(
        tiny_spec_data(block, skip="pad" if block == "basic" else None, name=name), "<t>"
    )
    source = archspec.emit_python(spec)
    model = archspec.build(spec, seed=1).eval()
    emitted = _run(source, model)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(emitted(x), model(x), rtol=0, atol=0)
    assert len(set(_classes(source))) == len(_classes(source))


@pytest.mark.parametrize("features", [True, ["layer1.1", "layer3.0.conv1"]])
def test_a_backbone_emits_its_feature_maps(features: Any) -> None:
    spec = archspec.load("resnet20").override({"features": features})
    source = archspec.emit_python(spec)
    model = archspec.build(spec, seed=2).eval()
    emitted = _run(source, model)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ours, theirs = emitted(x), model(x)
    assert isinstance(ours, list) and len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("preset", "lines"),
    [
        # The avg-pooled projection is built by the network and passed in, as
        # torchvision's blocks take downsample; the unpooled one takes its channels.
        (
            "resnet50d",
            [
                "        downsample: nn.Module | None = None,\n",
                "        self.downsample = downsample\n",
                "Bottleneck(64, 256, 64, 1, downsample=Downsample(64, 256)),",
                "nn.AvgPool2d(kernel_size=2, stride=2, ceil_mode=True),",
            ],
        ),
        # The projection reads the pre-activated map; without one the skip is the input.
        (
            "preact_resnet164",
            [
                "        if self.downsample is not None:\n            x = self.downsample(out)\n",
                "        out += x\n",
            ],
        ),
        # The gate reads the skip as its third input: the block's input where nothing
        # projects it.
        (
            "highway20",
            [
                "downsample = self.downsample(x) if self.downsample is not None else x\n",
                "x = self.gate(x, out, downsample)\n",
            ],
        ),
        # Every stage's blocks are built by the network: their number is the stage's.
        ("cspresnet50", ["        blocks: nn.Module,\n", "        self.blocks = blocks\n"]),
        # Dense stages of 6, 12, 24 and 16 layers: the count is a parameter of one class.
        (
            "densenet121",
            [
                "            self.add_module(str(i), DenseLayer(width + 32 * i, 32))\n",
                "        for i in range(self.num_layers):\n",
                "self.layer3 = DenseStage(256, 24, transition=True, in_channels=512)\n",
            ],
        ),
    ],
)
def test_blocks_that_differ_in_a_part_share_their_class(preset: str, lines: list[str]) -> None:
    source = archspec.emit_python(archspec.load(preset))
    for line in lines:
        assert line in source


class _ReadsAfterAnInPlaceChange(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pre = torch.nn.Conv2d(2, 2, 1)
        self.conv = torch.nn.Conv2d(2, 2, 1)
        self.act = torch.nn.ReLU(inplace=True)
        self.downsample = torch.nn.Conv2d(2, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.pre(x)
        out = self.conv(pre)
        act = self.act(pre)  # changes pre in place
        return out + act + self.downsample(pre)


def test_a_projection_is_not_moved_past_an_in_place_change_of_its_input() -> None:
    # A pre-activation block's projection moves up to the value it reads; moved past
    # an in-place activation of that value, it would read it before the change.
    from archspec.codegen.emit.embed import Embedder
    from archspec.codegen.emit.forward import hoisted, read
    from archspec.codegen.emit.modules import mutates

    module = _ReadsAfterAnInPlaceChange()
    forward = read(fx.symbolic_trace(module).graph, Embedder())

    def order(moved: Any) -> list[str]:
        return [s.target for s in moved.stmts if s.op == "module"]

    assert order(forward) == ["pre", "conv", "act", "downsample"]
    free = hoisted(forward, {"downsample"}, lambda stmt: False)
    assert order(free) == ["pre", "downsample", "conv", "act"]
    guarded = hoisted(forward, {"downsample"}, functools.partial(mutates, module))
    assert order(guarded) == ["pre", "conv", "act", "downsample"]


def test_dense_stages_of_any_depths_share_their_class() -> None:
    data = tiny_spec_data("dense")
    data["stages"].append(dict(data["stages"][0], depth=5))  # stages of 2, 2 and 5 layers
    spec = from_data(data, "<test>")
    source = archspec.emit_python(spec)
    model = archspec.build(spec, seed=3).eval()
    emitted = _run(source, model)
    assert _classes_per_kind(model, emitted)["DenseStage"] == {"DenseStage"}
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(emitted(x), model(x), rtol=0, atol=0)
