"""Benchmark: how each step's time grows with the number of blocks.

Every command should be linear in the number of blocks: ten times the blocks, about ten
times the time. This times each step on specs of 100, 1,000 and 10,000 basic blocks
(CIFAR-sized, four stages) and prints the times and the ratio between neighbouring sizes:
near 10 is linear, near 100 quadratic.

Steps: load + lower (validate), analytic stats, summary (torchinfo on the meta device),
render at block and at layer detail to .dot (Graphviz source: the layout itself is
Graphviz's and is bounded separately, see docs/commands/render.md), build on the meta
device, and emit_python. A step whose next size is predicted (at three times linear) to
take longer than --budget seconds is skipped there and shown as "-". Each step runs once
on a tiny spec first, so imports are not counted.

Each time is the best of --repeats runs (3), each started from a collected heap.

Run: python benchmarks/bench_scaling.py [--sizes 100,1000,10000] [--budget 300]
     [--steps emit_python,stats] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import archspec
from archspec.spec.load import from_data


def spec_of(blocks: int) -> archspec.ArchSpec:
    """``blocks`` basic blocks over four stages, on a 32x32 input."""
    depths = [blocks // 4 + (1 if i < blocks % 4 else 0) for i in range(4)]
    return from_data(
        {
            "name": f"basic{blocks}",
            "input": {"channels": 3, "size": 32},
            "stem": {"type": "cifar", "width": 16},
            "defaults": {"block": "basic", "skip": "identity", "downsample": "projection"},
            "stages": [
                {"depth": d, "width": w, "stride": 1 if i == 0 else 2}
                for i, (d, w) in enumerate(zip(depths, (16, 32, 64, 128), strict=True))
            ],
            "head": {"classes": 10},
        }
    )


def steps(out: Path) -> dict[str, Callable[[archspec.ArchSpec], Any]]:
    return {
        "load + lower": lambda s: archspec.lower(archspec.ArchSpec.from_yaml(s.to_yaml())),
        "stats": archspec.stats,
        "summary (meta)": lambda s: archspec.summary(s, depth=1),
        "render block .dot": lambda s: archspec.render(s, out / "b.dot", detail="block"),
        "render layer .dot": lambda s: archspec.render(s, out / "l.dot", detail="layer"),
        "build (meta)": lambda s: archspec.build(s, device="meta"),
        "emit_python": archspec.emit_python,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per step and size")
    parser.add_argument("--steps", default="", help="only these steps, comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    chosen = {s.strip() for s in args.steps.split(",") if s.strip()}
    sizes = [int(n) for n in args.sizes.split(",")]
    specs = {n: spec_of(n) for n in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        table: dict[str, list[float | None]] = {}
        for name, step in steps(Path(tmp)).items():
            if chosen and name not in chosen:
                continue
            step(spec_of(8))  # imports and first-call set-up are not the step's time
            times: list[float | None] = []
            for i, n in enumerate(sizes):
                last = times[-1] if times else None
                # Three times linear: a step that is quadratic shows it by the next size.
                if i and (last is None or 3 * last * n / sizes[i - 1] > args.budget):
                    times.append(None)
                    continue
                times.append(_best(step, specs[n], args.repeats, args.budget))
            table[name] = times
            print(_row(name, sizes, times), flush=True)


def _best(
    step: Callable[[archspec.ArchSpec], Any], spec: archspec.ArchSpec, repeats: int, budget: float
) -> float:
    """The fastest of up to ``repeats`` runs (fewer once they have used a third of the
    budget), each from a collected heap: one run on two shared cores swings by half, and
    garbage left by the step before would be collected on this step's time."""
    best, spent = float("inf"), 0.0
    for _ in range(max(1, repeats)):
        gc.collect()
        start = time.perf_counter()
        step(spec)
        took = time.perf_counter() - start
        best, spent = min(best, took), spent + took
        if spent > budget / 3:
            break
    return best


def _row(name: str, sizes: list[int], times: list[float | None]) -> str:
    cells = [f"{name:<18}"]
    for n, t in zip(sizes, times, strict=True):
        cells.append(f"{n:>6} blocks {'-' if t is None else f'{t:8.2f} s':>10}")
    ratios = [f"x{b / a:5.1f}" if a and b else "  -  " for a, b in itertools.pairwise(times)]
    return "  ".join(cells) + "   ratios " + " ".join(ratios)


if __name__ == "__main__":
    main()
