"""The built model frees its activations where hand-written modules do.

The test reads the order of the CPU allocator's allocations and frees during one forward
(torch.profiler's memory events). That order decides how glibc's heap grows and shrinks,
and so how many pages a forward faults in again (docs/performance.md). It is compared
with the order of the hand-written reference in torchvision's layout
(tests/reference_resnet.py): it must be the same, event for event. The order fx gives
when each value is dropped right after its last use must differ from it, or the check
could not tell the two apart.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import reference_resnet
import torch
from torch import fx, nn

import archspec
from archspec.codegen.lifetimes import keep_alive
from archspec.codegen.torch_module import build_module

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
    eager = build_module(graph, seed=0, lifetimes="last_use")
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))

    expected = allocator_events(ref, x, tmp_path)
    assert sum(1 for b in expected if b > 0) > 50  # the forward's activations are in it
    assert allocator_events(ours, x, tmp_path) == expected
    assert allocator_events(eager, x, tmp_path) != expected


def test_keep_alive_costs_no_op() -> None:
    """torch.export traces through keep_alive: the exported program has the same ops
    as a build without it."""
    graph = archspec.lower("resnet18")
    x = (torch.randn(1, 3, 64, 64),)

    def targets(model: fx.GraphModule) -> list[str]:
        program = torch.export.export(model.eval(), x)
        return [str(n.target) for n in program.graph.nodes if n.op == "call_function"]

    held = build_module(graph, device="cpu", seed=0)
    assert any(n.target is keep_alive for n in held.graph.nodes)
    assert targets(held) == targets(build_module(graph, seed=0, lifetimes="last_use"))


@pytest.mark.parametrize("name", archspec.presets())
def test_every_value_a_module_reads_stays_alive_until_the_module_ends(name: str) -> None:
    """In the fx graph of every preset: a value that a module (stage, block, downsample
    ...) reads from outside is not released before the module's last op has run (fx
    releases a value right after its last user)."""
    graph = archspec.lower(name)
    model = build_module(graph, device="meta")
    order = {n: i for i, n in enumerate(model.graph.nodes)}
    scope = {n: graph.nodes[n.meta["archspec_node"]]["scope"] for n in order if n.meta}
    members: dict[str, list[fx.Node]] = {}
    for node, path in scope.items():
        parts = path.split(".")[:-1]
        for i in range(1, len(parts) + 1):
            members.setdefault(".".join(parts[:i]), []).append(node)
    assert members
    for container, nodes in members.items():
        inside = set(nodes)
        end = max(order[n] for n in nodes if n.target is not keep_alive)  # its last op
        for node in nodes:
            for value in node.all_input_nodes:
                if value in inside or value.op in ("placeholder", "get_attr"):
                    continue
                last_use = max(order[user] for user in value.users)
                assert last_use >= end, (container, value.name)


def test_the_lean_order_is_a_build_option() -> None:
    """archspec.build(lifetimes="last_use") frees after each value's last reader: the
    same outputs, no keep_alive call, a lower inference peak."""
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    held = archspec.build("highway20", seed=0).eval()
    lean = archspec.build("highway20", seed=0, lifetimes="last_use").eval()
    assert not any(n.target is keep_alive for n in lean.graph.nodes)
    with torch.no_grad():
        assert torch.equal(held(x), lean(x))
    with pytest.raises(archspec.ArchSpecError, match="lifetimes is one of modules, last_use"):
        archspec.build("highway20", lifetimes="early")  # type: ignore[arg-type]


def test_keep_alive_compiles_under_torchscript() -> None:
    model = archspec.build("resnet20", seed=0).eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated
        scripted = torch.jit.script(model)
    with torch.no_grad():
        assert torch.equal(scripted(x), model(x))
