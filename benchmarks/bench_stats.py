"""Benchmark: analytic stats for sweeps, against a torchinfo pass over the same specs.

The specs: ``--specs`` (default 2000) ResNet-50-sized variants drawn with
``archspec.sample`` from a space around resnet50 (stage depths 2-4, 3-5, 4-8, 2-4, so
3, 4, 6, 3 on average; stage widths scaled by 0.75 to 1.25; the stride on the 1x1 or the
3x3 conv; 10, 100 or 1000 classes), 224x224 input: on average they lower to as many ops
as resnet50 (176).

Measured, pinned to one core (``os.sched_setaffinity``) with one torch thread:

  stats          archspec.stats(spec) on specs already validated: lowering to the graph
                 IR and counting params and MACs from shapes.
  sweep step     spec.override(point) then archspec.stats: what a sweep loop pays per
                 point, validation included.
  parts          the sweep step split: override (validation), lower, graph_stats.
  stats_many     archspec.stats_many(specs, workers=W) for W = 1 and every core here,
                 pool start-up included (not pinned).
  torchinfo      archspec.build(spec, device="meta") + torchinfo.summary on the meta
                 device (no weights: torchinfo's cheapest pass), over the first
                 ``--torchinfo-specs`` specs (default 20): it is too slow for all of them.
                 Its parameter count is checked equal to archspec's for each spec.

Each rate is the best of ``--repeat`` passes (default 3) over the whole list, after one
warm-up pass, and is given twice: per second of wall time, and per second of this
process's CPU time (``time.process_time``). On a machine shared with other work the wall
figure counts the time other processes held the core; the CPU figure is what one core
does for this process alone.

The target is a ratio to the reference run in the same process: ``stats`` at least 60
times a torchinfo pass, in CPU time (the script exits 1 if it is missed). Sweeps need
500 specs per second on one core of the 2-core CI machine, and on the day that was
measured a torchinfo pass there did 8 specs per CPU-second: 500 / 8 is about 60. The
machine's speed has since varied fourfold from one day to the next, for both alike, so
an absolute rate says more about the day than about archspec; it is printed against the
500 for reference.

Usage: python benchmarks/bench_stats.py [--specs N] [--torchinfo-specs N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import archspec
from archspec.graph.stats import graph_stats
from archspec.lowering import lower
from archspec.sweep import Choice, IntRange, Space

TARGET_SPEEDUP = 60.0  # stats against a torchinfo pass, CPU time, same run
SWEEP_RATE = 500.0  # specs per CPU-second the sweeps need on the CI machine


def resnet50_space() -> dict[Any, Any]:
    widths = [int(w * f) for w in (64, 128, 256, 512) for f in (0.75, 1.0, 1.25)]
    depths = [(2, 4), (3, 5), (4, 8), (2, 4)]
    return {
        **{f"stages.{i}.depth": IntRange(*depths[i]) for i in range(4)},
        **{f"stages.{i}.width": Choice(widths[3 * i : 3 * i + 3]) for i in range(4)},
        "defaults.stride_at": ["3x3", "1x1"],
        "head.classes": Choice([10, 100, 1000]),
    }


def best_rate(fn: Callable[[], object], count: int, repeat: int) -> tuple[float, float]:
    """Items per second of wall time and of CPU time: the best of ``repeat`` timed calls
    of ``fn`` (``count`` items each), after one untimed warm-up call."""
    fn()
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        cpu = min(cpu, time.process_time() - start_cpu)
        wall = min(wall, time.perf_counter() - start)
    return count / wall, count / cpu


def pin_to_one_core() -> str:
    try:
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity here)"


def torchinfo_pass(specs: Sequence[archspec.ArchSpec]) -> list[int]:
    import torchinfo

    params = []
    for spec in specs:
        model = archspec.build(spec, device="meta")
        shape = (1, *spec.input.shape)
        result = torchinfo.summary(model, input_size=shape, device="meta", verbose=0)
        params.append(result.total_params)
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", type=int, default=2000)
    parser.add_argument("--torchinfo-specs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    # Workers are timed first, before this process is pinned to one core.
    base = archspec.load("resnet50")
    space = Space.of(resnet50_space())
    specs = archspec.sample(base, space, n=args.specs, seed=0)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    pool_rates = {}
    for workers in sorted({1, cores or 1}):
        start = time.perf_counter()
        results = archspec.stats_many(specs, workers=workers)
        pool_rates[workers] = len(specs) / (time.perf_counter() - start)
        assert all(isinstance(r, archspec.Stats) for r in results)

    import torch

    torch.set_num_threads(1)
    pinned = pin_to_one_core()
    nodes = sum(lower(s).number_of_nodes() for s in specs) / len(specs)

    rates: dict[str, tuple[float, float]] = {}

    def each(fn: Callable[[Any], object], items: Sequence[Any]) -> Callable[[], None]:
        # Results are dropped as they come, as in a sweep: a list of 2000 graphs kept
        # alive would make the garbage collector's passes the thing measured.
        def run() -> None:
            for item in items:
                fn(item)

        return run

    rates["stats"] = best_rate(each(archspec.stats, specs), len(specs), args.repeat)

    import random

    rng = random.Random(1)
    points = [space.sample(rng) for _ in specs]
    rates["sweep step"] = best_rate(
        each(lambda p: archspec.stats(base.override(p)), points), len(points), args.repeat
    )
    rates["  override"] = best_rate(each(base.override, points), len(points), args.repeat)
    rates["  lower"] = best_rate(each(lower, specs), len(specs), args.repeat)
    graphs = [lower(s) for s in specs[:200]]
    rates["  graph_stats"] = best_rate(each(graph_stats, graphs), len(graphs), args.repeat)

    subset = specs[: args.torchinfo_specs]
    rates["torchinfo"] = best_rate(lambda: torchinfo_pass(subset), len(subset), 1)
    counted = torchinfo_pass(subset)
    ours = [archspec.stats(s).params for s in subset]
    assert counted == ours, "torchinfo and archspec disagree on parameter counts"

    print(f"archspec stats benchmark: {len(specs)} resnet50-sized specs ({nodes:.0f} ops each)")
    print(f"python {platform.python_version()}, torch {torch.__version__}, {pinned}")
    print(f"{'':16}{'specs/s':>10}{'ms/spec':>10}{'specs/CPU-s':>13}{'CPU-ms/spec':>13}")
    for name, (wall, cpu) in rates.items():
        print(f"{name:16}{wall:10.0f}{1000 / wall:10.3f}{cpu:13.0f}{1000 / cpu:13.3f}")
    for workers, rate in pool_rates.items():
        print(f"{'stats_many w=' + str(workers):16}{rate:10.0f}{1000 / rate:10.3f}")
    speedup = rates["stats"][1] / rates["torchinfo"][1]
    print(f"stats is {speedup:.0f}x a torchinfo pass (CPU time); parameter counts agree")
    verdict = "meets" if speedup >= TARGET_SPEEDUP else "MISSES"
    print(f"target: stats >= {TARGET_SPEEDUP:.0f}x a torchinfo pass: {verdict} ({speedup:.0f}x)")
    rate = rates["stats"][1]
    above = "above" if rate >= SWEEP_RATE else "below"
    print(
        f"{rate:.0f} specs per CPU-second on one core here, {above} the {SWEEP_RATE:.0f} "
        f"sweeps need on the CI machine (a torchinfo pass here: "
        f"{rates['torchinfo'][1]:.1f} specs per CPU-second, 8 there)"
    )
    if args.json:
        record = {
            "specs": len(specs),
            "ops_per_spec": nodes,
            "rates": rates,
            "stats_many": pool_rates,
            "torchinfo_specs": len(subset),
            "python": platform.python_version(),
            "torch": torch.__version__,
        }
        with open(args.json, "w") as f:
            json.dump(record, f, indent=2)
    if speedup < TARGET_SPEEDUP:
        sys.exit(1)


if __name__ == "__main__":
    main()
