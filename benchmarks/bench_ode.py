"""Benchmark: an ODE stage's fixed-grid Euler forward against the discrete residual stage
it equals (N blocks sharing one set of weights, docs/ode.md).

Both are built from the same tiny CIFAR-width spec (preact basic blocks, 16 channels at
32x32): the ODE stage with ``ode: {solver: euler, steps: N, t: N}``, the discrete one with
``depth: N`` and every block's weights set to the ODE branch's (checked equal first). The
forwards alternate in one process, in eval mode under ``torch.no_grad``; the median of
each is printed with their ratio (ODE / discrete; the target is at most 1.05).

Usage: python benchmarks/bench_ode.py [--steps 8] [--batch 32] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import archspec


def spec(steps: int, ode: bool) -> archspec.ArchSpec:
    stage: dict = {"depth": steps, "width": 16}
    if ode:
        stage = {"depth": 1, "width": 16, "ode": {"solver": "euler", "steps": steps, "t": steps}}
    return archspec.ArchSpec(
        name="bench_ode",
        input={"channels": 3, "size": 32},
        stem=[{"conv": 16, "kernel": 3}],
        defaults={"block": "preact"},
        stages=[stage],
        head={"pool": "avg", "classes": 10},
    )


def shared(ode_model: torch.nn.Module, discrete: torch.nn.Module, steps: int) -> None:
    state = discrete.state_dict()
    for key, value in ode_model.state_dict().items():
        if key.startswith("layer1.func."):
            for k in range(steps):
                state[key.replace("layer1.func.", f"layer1.{k}.")] = value
        else:
            state[key] = value
    discrete.load_state_dict(state)


def timed(model: torch.nn.Module, x: torch.Tensor) -> float:
    start = time.perf_counter()
    model(x)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)  # a shared machine: one thread keeps the timings steady
    ode_model = archspec.build(spec(args.steps, True), seed=0).eval()
    discrete = archspec.build(spec(args.steps, False), seed=0).eval()
    shared(ode_model, discrete, args.steps)
    x = torch.randn(args.batch, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ode_model(x), discrete(x), rtol=1e-5, atol=1e-5)
        for _ in range(3):  # warm-up
            timed(ode_model, x), timed(discrete, x)
        ode_t, disc_t = [], []
        for _ in range(args.repeats):
            ode_t.append(timed(ode_model, x))
            disc_t.append(timed(discrete, x))
    ode_ms, disc_ms = statistics.median(ode_t) * 1e3, statistics.median(disc_t) * 1e3
    print(f"steps {args.steps}, batch {args.batch}, 32x32, 16 channels, 1 thread")
    print(f"ODE stage, euler     {ode_ms:8.2f} ms")
    print(f"discrete, shared     {disc_ms:8.2f} ms")
    print(f"ratio ODE/discrete   {ode_ms / disc_ms:8.3f}  (target <= 1.05)")


if __name__ == "__main__":
    main()
