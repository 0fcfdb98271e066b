"""ODE stages in standalone source (emit_python) and in ``archspec summary --json``."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch

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
