"""Benchmark: the training memory DenseNet's ``memory_efficient`` option saves.

densenet121 is built twice, with ``memory_efficient: false`` (the default) and ``true``
(each layer's concat, norm1, relu1 and conv1 recomputed in backward, as torchvision's
option of the same name). Both compute the same function (checked first, from the same
weights). Each measurement runs in a fresh subprocess (this script re-run with a hidden
flag), so one model's heap cannot hide the other's peak:

  train RSS    build the model, run one tiny training step so lazy library set-up is paid,
               then reset the resident high-water mark (VmHWM, via /proc/self/clear_refs),
               note the RSS, run one training step (zero_grad, forward, cross-entropy,
               backward, SGD step) at the benchmark's batch and size, and read VmHWM. The
               delta is the peak memory the step needed beyond what was resident (weights,
               gradients from the warm-up, libraries). glibc's MALLOC_MMAP_THRESHOLD_ is
               fixed at 64 KiB so every tensor buffer is its own mmap, returned to the OS
               when freed: RSS follows live memory.
  saved        bytes of the distinct tensors autograd keeps for backward during one
               training forward (counted through torch.autograd.graph.saved_tensors_hooks;
               deterministic, unlike RSS): the activation memory the option is there to
               cut. What a checkpoint holds to recompute from (its inputs: the layers' new
               feature maps, k channels each) escapes those hooks and is not in it.
  step time    median wall time of a few training steps: the price of recomputing.

Subprocesses alternate between the two settings and each is run a few times; medians are
printed. Linux only (VmHWM); elsewhere the RSS columns say n/a.

Usage: python benchmarks/bench_densenet_memory.py [--batch 8] [--size 224] [--runs 2] [--steps 1]
                                                  [--json out.json]   (or `make bench-densenet`)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
from proc_memory import proc_status_bytes, reset_peak_rss  # benchmarks/
from torch import nn

MiB = 2**20


def _model(efficient: bool) -> nn.Module:
    import archspec

    spec = archspec.load("densenet121", overrides={"defaults.memory_efficient": efficient})
    return archspec.build(spec, seed=0)


def _step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=False)
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def child(efficient: bool, batch: int, size: int, steps: int) -> dict[str, float | None]:
    """One measurement, in its own process."""
    torch.manual_seed(0)
    model = _model(efficient).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, 1000, (batch,))
    _step(model, opt, x[:1, :, :64, :64], y[:1])  # lazy set-up, gradients and momentum

    rss_delta = None
    if reset_peak_rss():
        before = proc_status_bytes("VmRSS")
        _step(model, opt, x, y)
        peak = proc_status_bytes("VmHWM")
        if before is not None and peak is not None:
            rss_delta = (peak - before) / MiB

    saved: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        saved[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        return t

    opt.zero_grad(set_to_none=False)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved_bytes = sum(n for (ptr, _), n in saved.items() if ptr not in parameters)

    times = []
    for _ in range(steps):
        start = time.perf_counter()
        _step(model, opt, x, y)
        times.append(time.perf_counter() - start)
    return {
        "rss_delta_mib": rss_delta,
        "saved_mib": saved_bytes / MiB,
        "step_s": statistics.median(times),
    }


def same_function(batch: int = 2, size: int = 64) -> float:
    """Largest difference between the two settings' outputs and gradients."""
    plain, lean = _model(False), _model(True)
    lean.load_state_dict(plain.state_dict())
    x = torch.randn(batch, 3, size, size)
    worst = 0.0
    outs = []
    for model in (plain, lean):
        out = model(x)
        out.square().mean().backward()
        outs.append(out)
    worst = (outs[0] - outs[1]).abs().max().item()
    grads = dict(lean.named_parameters())
    for name, p in plain.named_parameters():
        worst = max(worst, (p.grad - grads[name].grad).abs().max().item())
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--runs", type=int, default=2, help="subprocesses per setting")
    parser.add_argument("--steps", type=int, default=1, help="timed steps per subprocess")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--child", choices=["off", "on"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)

    if args.child:
        result = child(args.child == "on", args.batch, args.size, args.steps)
        print(json.dumps(result))
        return

    diff = same_function()
    print(f"densenet121, training step, batch {args.batch} x 3 x {args.size} x {args.size}")
    print(f"outputs and gradients, memory_efficient off vs on: max |difference| {diff:.2e}")
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    results: dict[str, list[dict[str, float | None]]] = {"off": [], "on": []}
    for i in range(args.runs):
        for which in ("off", "on") if i % 2 == 0 else ("on", "off"):
            proc = subprocess.run(
                [sys.executable, __file__, "--child", which, "--batch", str(args.batch),
                 "--size", str(args.size), "--steps", str(args.steps)],
                capture_output=True, text=True, env=env, check=True,
            )  # fmt: skip
            results[which].append(json.loads(proc.stdout.strip().splitlines()[-1]))

    def med(which: str, key: str) -> float | None:
        values = [r[key] for r in results[which] if r[key] is not None]
        return statistics.median(values) if values else None

    summary = {
        which: {k: med(which, k) for k in ("rss_delta_mib", "saved_mib", "step_s")}
        for which in results
    }
    print(f"{'memory_efficient':<18}{'train RSS':>14}{'saved':>14}{'step time':>12}")
    for which in ("off", "on"):
        row = summary[which]
        rss = f"{row['rss_delta_mib']:.0f} MiB" if row["rss_delta_mib"] is not None else "n/a"
        print(f"{which:<18}{rss:>14}{row['saved_mib']:>10.0f} MiB{row['step_s']:>10.2f} s")
    off, on = summary["off"], summary["on"]
    saved = 1 - on["saved_mib"] / off["saved_mib"]
    line = f"memory_efficient keeps {saved:.0%} less for backward"
    if off["rss_delta_mib"] and on["rss_delta_mib"] is not None:
        line += f" and needs {1 - on['rss_delta_mib'] / off['rss_delta_mib']:.0%} less peak RSS"
    line += f"; step time x{on['step_s'] / off['step_s']:.2f}"
    print(line)
    if args.json:
        from archspec.files import atomic_write

        record = {
            "batch": args.batch,
            "size": args.size,
            "runs": results,
            "median": summary,
            "max_difference": diff,
            "machine": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
            },
        }
        atomic_write(args.json, json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
