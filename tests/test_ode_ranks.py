"""ODE stages at ranks 1 and 3 (docs/ranks.md): a 1-D signal and a 3-D volume, each with
a shape-keeping ODE stage and one whose first block downsamples, with and without the
time channel; the costs equal the built model's, and at rank 1 N Euler steps equal N
shared-weight residual blocks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import archspec

SIZES = {1: [16], 3: [4, 8, 8]}
CONVS = {1: nn.Conv1d, 3: nn.Conv3d}


def ranked(
    rank: int, first: dict | None, second: dict | None = None, **stage: object
) -> archspec.ArchSpec:
    stages = [{"depth": 2, "width": 4, **stage}, {"depth": 2, "width": 8, "stride": 2}]
    for s, ode in zip(stages, (first, second), strict=True):
        if ode is not None:
            s["ode"] = ode
    return archspec.ArchSpec(
        name=f"ode_{rank}d",
        input={"channels": 2, "size": SIZES[rank]},
        stem=[{"conv": 4, "kernel": 3}],
        defaults={"block": "preact"},
        stages=stages,
        head={"pool": "avg", "classes": 3},
    )


@pytest.mark.parametrize("rank", [1, 3])
@pytest.mark.parametrize("time_channel", [False, True])
@pytest.mark.parametrize("solver", ["euler", "rk4", "dopri5"])
def test_ode_stages_build_run_and_count(rank: int, time_channel: bool, solver: str) -> None:
    ode = {"solver": solver, "time_channel": time_channel}
    if solver != "dopri5":
        ode["steps"] = 2
    spec = ranked(rank, ode, {"solver": "euler", "steps": 3, "time_channel": time_channel})
    model = archspec.build(spec, seed=0)
    stats = archspec.stats(spec)
    assert sum(p.numel() for p in model.parameters()) == stats.params
    assert type(model.layer1.func.conv1) is CONVS[rank]
    assert hasattr(model.layer2, "0") and hasattr(model.layer2, "func")
    extra = 1 if time_channel else 0
    assert model.layer1.func.conv1.in_channels == 4 + extra
    assert model.layer2.func.conv2.in_channels == 8 + extra
    x = torch.randn(2, 2, *SIZES[rank])
    out = model(x)
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in model.layer1.func.parameters())
    assert archspec.summary(spec, depth=2).params == stats.params


def test_euler_steps_equal_shared_weight_blocks_at_rank_1() -> None:
    n = 3
    ode = archspec.build(ranked(1, {"solver": "euler", "steps": n, "t": float(n)}, depth=1), seed=0)
    discrete = archspec.build(ranked(1, None, depth=n), seed=1)
    state = {}
    for key, value in ode.state_dict().items():
        for k in range(n) if key.startswith("layer1.func.") else [None]:
            state[key if k is None else key.replace("layer1.func.", f"layer1.{k}.")] = value
    discrete.load_state_dict(state)
    x = torch.randn(2, 2, 16)
    with torch.no_grad():
        torch.testing.assert_close(ode.eval()(x), discrete.eval()(x), rtol=1e-6, atol=1e-6)
