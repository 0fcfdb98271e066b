"""ODE stages in standalone source (emit_python), under TorchScript and in
``archspec summary --json``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import script

import archspec
from archspec.errors import ArchSpecError


def spec(ode: dict[str, Any], rank_size: int | list[int] = 8) -> archspec.ArchSpec:
    return archspec.ArchSpec(
        name="ode_emit",
        input={"channels": 1, "size": rank_size},
        stem=[{"conv": 4, "kernel": 3}],
        defaults={"block": "preact"},
        stages=[
            {"depth": 1, "width": 4, "ode": ode},
            {"depth": 2, "width": 8, "stride": 2, "ode": ode},
        ],
        head={"pool": "avg", "classes": 3},
    )


def _emitted(source: str) -> torch.nn.Module:
    namespace: dict[str, Any] = {"__name__": "emitted"}
    exec(compile(source, "<emitted>", "exec"), namespace)
    top = re.search(r"^def load\(.*\) -> (\w+):", source, re.MULTILINE)
    assert top is not None
    return namespace[top.group(1)]()


@pytest.mark.parametrize(
    "ode",
    [
        {"solver": "euler", "steps": 3, "t": 3.0},
        {"solver": "rk4", "steps": 2, "t": 0.5},
        {"solver": "midpoint", "steps": 2, "time_channel": True},
        {"solver": "rk4", "steps": 2, "time_channel": True},
    ],
)
@pytest.mark.parametrize("size", [8, [16]])
def test_emitted_fixed_grid_stages_load_the_weights_and_agree(ode: dict, size: Any) -> None:
    s = spec(ode, size)
    source = archspec.emit_python(s)
    assert not re.search(r"^\s*(import|from) (torchdiffeq|archspec)", source, re.MULTILINE)
    assert "class FixedGridOde(nn.Module):" in source
    model = archspec.build(s, seed=0)
    emitted = _emitted(source)
    emitted.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 1, *([size, size] if isinstance(size, int) else size))
    for mode in ("eval", "train"):
        getattr(model, mode)(), getattr(emitted, mode)()
        with torch.no_grad():
            torch.testing.assert_close(emitted(x), model(x), rtol=0, atol=0)
    # and with autograd on (the solver's other Euler path)
    torch.testing.assert_close(emitted(x), model(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("ode", "words"),
    [
        ({"solver": "dopri5"}, "adaptive solver dopri5"),
        ({"solver": "rk4", "adjoint": True}, "adjoint method"),
    ],
)
def test_emit_refuses_torchdiffeq_stages_naming_them(ode: dict, words: str) -> None:
    with pytest.raises(ArchSpecError, match=f"ODE stage layer1 .*{words}"):
        archspec.emit_python(spec(ode))


@pytest.mark.parametrize(
    "ode",
    [
        {"solver": "euler", "steps": 3, "t": 3.0},
        {"solver": "midpoint", "steps": 2, "time_channel": True},
        {"solver": "rk4", "steps": 2, "time_channel": True},
    ],
)
def test_fixed_grid_stages_compile_under_torchscript(ode: dict) -> None:
    """Both stages: one ODE alone, one after the discrete block that changes the shape."""
    model = archspec.build(spec(ode), seed=0).eval()
    scripted = script(model)
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(scripted(x), model(x))
    # and with autograd on (the solver's other Euler path)
    torch.testing.assert_close(scripted(x), model(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("ode", "words"),
    [
        ({"solver": "dopri5"}, "adaptive solver dopri5"),
        ({"solver": "rk4", "adjoint": True}, "adjoint method"),
    ],
)
def test_torchscript_refuses_torchdiffeq_stages_saying_why(ode: dict, words: str) -> None:
    model = archspec.build(spec(ode), seed=0).eval()
    with pytest.raises(ArchSpecError, match=f"{words} runs eagerly only .*torch.jit.script"):
        torch.jit.script(model)


def _summary_json(tmp_path: Path, s: archspec.ArchSpec, *more: str) -> dict[str, Any]:
    path = tmp_path / "ode.yaml"
    path.write_text(s.to_yaml())
    proc = subprocess.run(
        [sys.executable, "-m", "archspec.cli", "summary", str(path), "--json", *more],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_summary_json_carries_the_ode_facts(tmp_path: Path) -> None:
    fixed = spec({"solver": "rk4", "steps": 2, "time_channel": True})
    record = _summary_json(tmp_path, fixed)
    layer1, layer2 = record["ode_stages"]
    assert layer1["stage"] == "layer1" and layer2["function"] == "layer2.func"
    assert layer1["solver"] == "rk4" and layer1["steps"] == 2 and layer1["time_channel"]
    assert layer1["evaluations"] == layer1["macs_count_evaluations"] == 8
    assert "measured_evaluations" not in layer1
    console = archspec.summary(fixed, depth=1)
    assert record["notes"] == list(console.notes)
    assert any("MACs count 8 evaluations of layer1.func" in n for n in record["notes"])
    assert record["params"] == console.params and record["macs"] == console.macs

    adaptive = spec({"solver": "dopri5", "rtol": 1e-3, "atol": 1e-3})
    plain = _summary_json(tmp_path, adaptive)
    assert [o["evaluations"] for o in plain["ode_stages"]] == ["data-dependent"] * 2
    assert plain["ode_stages"][0]["macs_count_evaluations"] == 1
    assert plain["ode_stages"][0]["steps"] is None and plain["ode_stages"][0]["rtol"] == 1e-3
    measured = _summary_json(tmp_path, adaptive, "--measure-ode", "--input", "2x1x8x8")
    for fact in measured["ode_stages"]:
        assert fact["measured_evaluations"] >= 6 and fact["measured_batch"] == 2
    assert any("on a random batch of 2" in n for n in measured["notes"])
    # a discrete network's record has no ODE key
    assert "ode_stages" not in archspec.summary("resnet20", depth=0).to_json()
