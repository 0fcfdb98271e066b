"""Benchmark: archspec's ResNet-50 against a hand-written plain-PyTorch ResNet-50.

Both models are built in the same run, the reference gets archspec's weights (so both
compute the same function; checked before anything is timed) and every metric is printed
as archspec / reference. The target is a ratio <= 1.02 everywhere.

Metrics (all medians; ratio = archspec / reference)
  forward      eval mode, torch.no_grad, batch 8 x 3 x 224 x 224; warm-up, then interleaved
               runs (A B, B A, A B, ...: the order alternates so that neither model always
               runs right after the other); wall time.
  train step   train mode, zero_grad + forward + cross-entropy + backward + SGD step
               (momentum 0.9), batch 8; interleaved the same way; wall time.
  forward peak RSS growth
               each model in its own fresh subprocess (this script re-run with a hidden
               flag): import, build, eval, one tiny forward so lazy library initialisation
               is already paid; then reset the resident high-water mark (VmHWM, via
               /proc/self/clear_refs), note the RSS, run one batch-8 forward and read VmHWM.
               The delta is the peak of activations + workspace the forward needed beyond
               what was resident already (weights, libraries). getrusage's ru_maxrss is
               only the fallback off Linux: it survives execve, so a subprocess started
               from this large process would report the parent's peak. The subprocess runs
               with glibc's MALLOC_MMAP_THRESHOLD_ fixed at 64 KiB, so every tensor buffer
               is its own mmap and is returned to the OS when freed: RSS then follows live
               memory and a forward cannot hide its peak in heap left free by the build.
  forward alloc peak
               the same subprocess, a second forward under torch.profiler(profile_memory):
               the peak of bytes live in torch's CPU allocator during the forward, counted
               from its start (exact and deterministic, unlike RSS).
  build        archspec.build("resnet50", seed=0) vs torch.manual_seed(0); resnet50().
  meta build   archspec.build("resnet152", device="meta") vs the reference constructed
               under `with torch.device("meta")`.
  user / system CPU, page faults
               diagnostics, no target, from the timed runs above (getrusage of the whole
               process, all threads). User CPU is the arithmetic. System CPU and minor page
               faults are the kernel's memory management: each fault is a fresh page the
               kernel zeroes, and how many there are depends on when glibc's malloc hands
               freed memory back to the OS, so on the order tensors are freed in.

Timings need an otherwise idle machine: the script warns when the load average is not ~0.

  --fx-order   diagnostic, no target: also times the same network as one flat fx graph,
               which frees every value right after its last use (fx's order, not the
               order of nested modules).

Usage: python benchmarks/bench_resnet50.py [--quick] [--fx-order] [--json out.json]
       (or `make bench`)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from proc_memory import proc_status_bytes, reset_peak_rss  # benchmarks/proc_memory.py
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import reference_resnet  # noqa: E402  (tests/reference_resnet.py, no archspec import)

BATCH = 8
SIZE = 224
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# --------------------------------------------------------------------------- models


def build_archspec(name: str = "resnet50", device: str = "cpu") -> nn.Module:
    import archspec

    if device == "meta":
        return archspec.build(name, device="meta")
    return archspec.build(name, seed=0, device=device)


def build_eager() -> nn.Module:
    """archspec's ResNet-50 as one flat fx graph, freeing each value right after its last
    use (the built model is a module tree, which frees where nested modules do)."""
    import archspec
    from archspec.codegen.torch_module import build_flat

    return build_flat(archspec.lower("resnet50"), seed=0, device="cpu")


def build_reference(name: str = "resnet50", device: str = "cpu") -> nn.Module:
    if device == "meta":
        with torch.device("meta"):
            return getattr(reference_resnet, name)()
    torch.manual_seed(0)
    return getattr(reference_resnet, name)()


def paired_models() -> tuple[nn.Module, nn.Module]:
    """archspec's ResNet-50 and the reference holding the same weights, checked equal."""
    a = build_archspec()
    r = build_reference()
    sa, sr = a.state_dict(), r.state_dict()
    if set(sa) != set(sr):
        only_a = sorted(set(sa) - set(sr))[:10]
        only_r = sorted(set(sr) - set(sa))[:10]
        raise SystemExit(f"state_dict keys differ: archspec-only {only_a}, reference-only {only_r}")
    bad = [k for k in sa if sa[k].shape != sr[k].shape]
    if bad:
        raise SystemExit(f"state_dict shapes differ at {bad[:10]}")
    if list(sa) != list(sr):
        print("note: state_dict key order differs from the reference (same key set)")
    r.load_state_dict(sa, strict=True)

    a.eval()
    r.eval()
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ya, yr = a(x), r(x)
    if not torch.allclose(ya, yr, rtol=1e-4, atol=1e-5):
        raise SystemExit(f"outputs differ: max |diff| = {(ya - yr).abs().max().item():.3e}")
    n_a = sum(p.numel() for p in a.parameters())
    n_r = sum(p.numel() for p in r.parameters())
    if n_a != n_r:
        raise SystemExit(f"parameter counts differ: archspec {n_a:,}, reference {n_r:,}")
    return a, r


# --------------------------------------------------------------------------- timing


class Samples(NamedTuple):
    """Per-run samples of one model: wall seconds, user and system CPU seconds of the
    whole process (all threads), minor page faults."""

    time: list[float]
    user: list[float]
    system: list[float]
    faults: list[int]


def interleaved(
    fa: Callable[[], object], fb: Callable[[], object], warmup: int, runs: int
) -> tuple[Samples, Samples]:
    """Run fa and fb alternately (AB, BA, AB, ...) after a warm-up; every sample of each.

    Keeping every sample lets the caller look at the per-round ratios a_i / b_i (each pair
    ran back to back, so slow drift of the machine cancels out of them). Minor page faults
    are counted too: a fresh page costs a fault and a zero-fill, and how often the C
    allocator hands memory back to the OS depends on the order tensors are freed in.
    """
    for _ in range(warmup):
        fa()
        fb()
    sa, sb = Samples([], [], [], []), Samples([], [], [], [])
    for i in range(runs):
        order = ((fa, sa), (fb, sb)) if i % 2 == 0 else ((fb, sb), (fa, sa))
        for f, acc in order:
            u0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.perf_counter()
            f()
            acc.time.append(time.perf_counter() - t0)
            u1 = resource.getrusage(resource.RUSAGE_SELF)
            acc.user.append(u1.ru_utime - u0.ru_utime)
            acc.system.append(u1.ru_stime - u0.ru_stime)
            acc.faults.append(u1.ru_minflt - u0.ru_minflt)
    return sa, sb


def bench_forward(a: nn.Module, r: nn.Module, warmup: int, runs: int):
    a.eval()
    r.eval()
    x = torch.randn(BATCH, 3, SIZE, SIZE)

    def run(m: nn.Module) -> Callable[[], object]:
        def f() -> object:
            with torch.no_grad():
                return m(x)

        return f

    return interleaved(run(a), run(r), warmup, runs)


def bench_train(a: nn.Module, r: nn.Module, warmup: int, runs: int):
    a.train()
    r.train()
    x = torch.randn(BATCH, 3, SIZE, SIZE)
    y = torch.randint(0, 1000, (BATCH,), generator=torch.Generator().manual_seed(2))
    loss_fn = nn.CrossEntropyLoss()

    def step_fn(m: nn.Module) -> tuple[Callable[[], torch.Tensor], torch.optim.Optimizer]:
        opt = torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9)

        def step() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(m(x), y)
            loss.backward()
            opt.step()
            return loss

        return step, opt

    sa, _ = step_fn(a)
    sr, _ = step_fn(r)
    # The first step must agree: same weights, same batch, same loss.
    la, lr = sa().item(), sr().item()
    if abs(la - lr) > 1e-4 * max(1.0, abs(lr)):
        raise SystemExit(f"first training-step losses differ: archspec {la}, reference {lr}")
    result = interleaved(sa, sr, warmup, runs)
    a.eval()
    r.eval()
    return result


def bench_build(warmup: int, runs: int):
    return interleaved(build_archspec, build_reference, warmup, runs)


def bench_meta_build(warmup: int, runs: int):
    def fa() -> nn.Module:
        m = build_archspec("resnet152", device="meta")
        assert all(p.is_meta for p in m.parameters()), "archspec meta build holds real tensors"
        return m

    return interleaved(fa, lambda: build_reference("resnet152", device="meta"), warmup, runs)


# --------------------------------------------------------------------------- memory


def _peak_rss_bytes() -> int:
    # VmHWM, not getrusage's ru_maxrss: ru_maxrss survives execve, so a child forked from
    # this (large) benchmark process would report the parent's high-water mark.
    hwm = proc_status_bytes("VmHWM")
    if hwm is not None:
        return hwm
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def mem_child(which: str) -> None:
    """Runs in a fresh process: print the forward's RSS growth and allocator peak as JSON."""
    m = build_archspec() if which == "archspec" else build_reference()
    m.eval()
    x = torch.randn(BATCH, 3, SIZE, SIZE)
    with torch.no_grad():
        m(torch.randn(1, 3, 32, 32))  # lazy initialisation (oneDNN etc.), tiny activations
        # Peak resident memory during the forward, minus what was resident before it.
        before = proc_status_bytes("VmRSS") if reset_peak_rss() else None
        if before is None:
            before = _peak_rss_bytes()
        m(x)
        after = _peak_rss_bytes()

        activities = [torch.profiler.ProfilerActivity.CPU]
        with torch.profiler.profile(activities=activities, profile_memory=True) as prof:
            m(x)
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp, "trace.json")
        prof.export_chrome_trace(str(trace))
        events = json.loads(trace.read_text())["traceEvents"]
    allocated = [e["args"]["Total Allocated"] for e in events if e.get("name") == "[memory]"]
    print(json.dumps({"rss_delta": after - before, "alloc_peak": max(allocated, default=0)}))


def bench_memory(runs: int, threads: int) -> dict[str, dict[str, list[int]]]:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    out: dict[str, dict[str, list[int]]] = {
        w: {"rss_delta": [], "alloc_peak": []} for w in ("archspec", "reference")
    }
    for i in range(runs):
        order = ("archspec", "reference") if i % 2 == 0 else ("reference", "archspec")
        for which in order:
            proc = subprocess.run(
                [sys.executable, __file__, "--threads", str(threads), "--_mem-child", which],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise SystemExit(f"memory subprocess ({which}) failed:\n{proc.stderr}")
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            for k, v in res.items():
                out[which][k].append(v)
    return out


# --------------------------------------------------------------------------- main


def _quartiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


FORMATS = {"s": "{:.4f} s", "MiB": "{:.1f} MiB", "": "{:,.0f}"}


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, float, str, bool]] = []
        self.results: dict[str, dict[str, object]] = {}

    def add(
        self,
        metric: str,
        ra: Sequence[float],
        rb: Sequence[float],
        unit: str,
        *,
        scale: float = 1.0,
        target: bool = True,
    ) -> None:
        """One row from every sample of each model; ``scale`` only affects the display."""
        va, vb = statistics.median(ra), statistics.median(rb)
        ratio = va / vb if vb else float("nan")
        paired = [x / y for x, y in zip(ra, rb, strict=True) if y]
        lo, hi = _quartiles(paired) if paired else (float("nan"), float("nan"))
        fmt = FORMATS[unit]
        iqr = f"{lo:.3f}-{hi:.3f}" if len(paired) > 1 and max(ra) > 0 else ""
        self.rows.append(
            (metric, fmt.format(va * scale), fmt.format(vb * scale), ratio, iqr, target)
        )
        self.results[metric] = {
            "unit": {"s": "s", "MiB": "bytes", "": "count"}[unit],
            "archspec": va,
            "reference": vb,
            "ratio": ratio,
            "paired_ratio_iqr": [lo, hi],
            "target": target,
            "runs_archspec": list(ra),
            "runs_reference": list(rb),
        }
        print(f"  {metric}: ratio {ratio:.3f}", flush=True)

    def print(self) -> None:
        w = max(len(r[0]) for r in self.rows)
        head = f"{'metric':<{w}}  {'archspec':>12}  {'reference':>12}  {'ratio':>6}  paired IQR"
        print(head)
        print("-" * len(head))
        for metric, fa, fb, ratio, iqr, target in self.rows:
            flag = "   <-- above 1.02" if target and not ratio <= 1.02 else ""
            flag = flag or ("   (diagnostic)" if not target else "")
            shown = f"{ratio:6.3f}" if ratio == ratio else "   n/a"  # nan: 0 / 0
            print(f"{metric:<{w}}  {fa:>12}  {fb:>12}  {shown}  {iqr:<11}{flag}")
        print(
            "ratio = median(archspec) / median(reference); paired IQR = interquartile range\n"
            "of the per-round ratios archspec_i / reference_i (a spread that straddles the\n"
            "ratio shows how much of it is noise). Target: ratio <= 1.02."
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few repeats, for a smoke run")
    ap.add_argument("--json", metavar="OUT", help="also write the results to this JSON file")
    ap.add_argument(
        "--threads", type=int, default=CORES, help=f"torch threads (default: cores, {CORES})"
    )
    ap.add_argument(
        "--fx-order",
        action="store_true",
        help="also time a build that frees each value after its last use (fx's own order)",
    )
    ap.add_argument(
        "--_mem-child", dest="mem_child", choices=["archspec", "reference"], help=argparse.SUPPRESS
    )
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    if args.mem_child:
        mem_child(args.mem_child)
        return

    q = args.quick
    info = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cores": CORES,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "batch": BATCH,
        "size": SIZE,
        "quick": q,
    }
    print(
        f"torch {info['torch']}, {info['threads']} threads, {info['machine']}, "
        f"python {info['python']}; batch {BATCH} x 3 x {SIZE} x {SIZE}"
        + ("  (--quick)" if q else "")
    )

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    info["loadavg_1min"] = load
    if load > 0.5:
        print(
            f"warning: 1-minute load average is {load:.2f} before starting; other processes "
            f"compete for the {CORES} cores and the timings will be noisy"
        )

    a, r = paired_models()
    print("state_dict keys, shapes and eval outputs match the reference; measuring ...")

    t = Table()
    fwd = bench_forward(a, r, warmup=2 if q else 5, runs=3 if q else 25)
    t.add("forward (eval, no_grad)", fwd[0].time, fwd[1].time, "s")
    if args.fx_order:
        eager = build_eager()
        eager.load_state_dict(a.state_dict())
        fx_fwd = bench_forward(eager, r, warmup=2 if q else 5, runs=3 if q else 25)
        del eager
    train = bench_train(a, r, warmup=1 if q else 3, runs=3 if q else 15)
    t.add("train step (SGD, CE)", train[0].time, train[1].time, "s")
    del a, r

    mem = bench_memory(runs=1 if q else 5, threads=args.threads)
    for key, label in (
        ("rss_delta", "forward peak RSS growth"),
        ("alloc_peak", "forward alloc peak"),
    ):
        t.add(label, mem["archspec"][key], mem["reference"][key], "MiB", scale=2**-20)

    build = bench_build(warmup=1, runs=3 if q else 9)
    t.add("build resnet50 (cpu)", build[0].time, build[1].time, "s")
    meta = bench_meta_build(warmup=1, runs=3 if q else 9)
    t.add("build resnet152 (meta)", meta[0].time, meta[1].time, "s")
    # Diagnostics, not targets. User CPU time (all threads) is the compute; system CPU
    # time and minor page faults are the kernel's memory management (fresh pages faulted
    # in and zeroed after the C allocator gave memory back), which depends on the order
    # tensors are freed in, not on the arithmetic.
    timed = [("forward", fwd), ("train step", train)]
    if args.fx_order:
        t.add("forward (fx's free order)", fx_fwd[0].time, fx_fwd[1].time, "s", target=False)
        timed.append(("forward (fx's free order)", fx_fwd))
    for label, s in timed:
        t.add(f"{label} user CPU", s[0].user, s[1].user, "s", target=False)
        t.add(f"{label} system CPU", s[0].system, s[1].system, "s", target=False)
        t.add(f"{label} minor page faults", s[0].faults, s[1].faults, "", target=False)

    print()
    t.print()
    if args.json:
        out = {"machine": info, "results": t.results}
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
