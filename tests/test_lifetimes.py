"""The built model is an ordinary module tree, so it frees its activations where
hand-written modules do, and each of its modules works alone.

The first test reads the order of the CPU allocator's allocations and frees during one
forward (torch.profiler's memory events). That order decides how glibc's heap grows and
shrinks, and so how many pages a forward faults in again (docs/performance.md). It is
compared with the order of the hand-written reference in torchvision's layout
(tests/reference_resnet.py): it must be the same, event for event. The same network as
one flat fx graph, which drops each value right after its last use, must differ from
it, or the check could not tell the two apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import reference_resnet
import torch
from helpers import assert_modules_work_alone, script
from torch import nn

import archspec
from archspec.codegen.torch_module import build_flat, build_module

NAMES = ["resnet18", "resnet50", "resnext50_32x4d"]


def allocator_events(model: nn.Module, x: torch.Tensor, tmp: Path) -> list[int]:
    """Bytes allocated (> 0) and freed (< 0) by one eval forward, in order."""
    model.eval()
    with torch.no_grad():
        model(x)  # lazy initialisation out of the way
        activities = [torch.profiler.ProfilerActivity.CPU]
        with torch.profiler.profile(activities=activities, profile_memory=True) as prof:
            model(x)
    trace = tmp / "trace.json"
    prof.export_chrome_trace(str(trace))
    events = [e for e in json.loads(trace.read_text())["traceEvents"] if e["name"] == "[memory]"]
    events.sort(key=lambda e: e["ts"])  # stable: events of one microsecond keep their order
    return [e["args"]["Bytes"] for e in events]


@pytest.mark.parametrize("name", NAMES)
def test_frees_in_the_order_of_hand_written_modules(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    ref = getattr(reference_resnet, name)()
    graph = archspec.lower(name)
    ours = build_module(graph, seed=0)
    flat = build_flat(graph, seed=0, device="cpu")
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))

    expected = allocator_events(ref, x, tmp_path)
    assert sum(1 for b in expected if b > 0) > 50  # the forward's activations are in it
    assert allocator_events(ours, x, tmp_path) == expected
    assert allocator_events(flat, x, tmp_path) != expected
    with torch.no_grad():
        assert torch.equal(ours(x), flat(x))  # the same computation, cut into modules


@pytest.mark.parametrize("name", archspec.presets())
def test_every_module_of_every_preset_works_alone(name: str) -> None:
    """Each stage, block, downsample and layer, called on the inputs it receives inside
    the network, gives the output it gives there (small inputs keep it quick)."""
    spec = archspec.load(name)
    small = [min(n, 32) for n in spec.input.shape[1:]]  # at the preset's rank
    spec = spec.override({"input.size": small, "stages.0.depth": 1})
    model = archspec.build(spec, seed=0)
    x = torch.randn(2, *spec.input.shape, generator=torch.Generator().manual_seed(0))
    stages = [name for name, _ in model.named_children() if name.startswith("layer")]
    assert stages and all(callable(model.get_submodule(s)) for s in stages)
    assert assert_modules_work_alone(model, x) >= len(list(model.modules())) - 1


def test_the_tree_compiles_under_torchscript() -> None:
    model = archspec.build("resnet20", seed=0).eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    scripted = script(model)
    with torch.no_grad():
        assert torch.equal(scripted(x), model(x))
