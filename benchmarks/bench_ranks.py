"""Benchmark: archspec's networks at ranks 3 and 1 against their references, same run.

3-D: archspec's r3d_18 against torchvision's ``r3d_18`` (torchvision imported as a test
reference, never a dependency). 1-D: archspec's 1-D ResNet-18 (examples/ranks/
resnet18_1d.yaml) against the hand-written 1-D ResNet-18 below. Each reference gets
archspec's weights by name (checked to give the same output first), then forward (eval,
no_grad) and a training step (SGD) are timed interleaved (A B, B A, ...) and the median
ratio archspec / reference is printed. The target is <= 1.02.

Usage: python benchmarks/bench_ranks.py [--runs 10] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import archspec

ROOT = Path(__file__).resolve().parent.parent


class Basic1d(nn.Module):
    """torchvision's BasicBlock, written for 1-D signals."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm1d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv1d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm1d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv1d(cin, cout, 1, stride, bias=False), nn.BatchNorm1d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet1d(nn.Module):
    """ResNet-18 for 1-D inputs, torchvision's layout with Conv1d."""

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm1d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool1d(3, 2, 1)
        widths, cin = (64, 128, 256, 512), 64
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            self.add_module(
                f"layer{i + 1}", nn.Sequential(Basic1d(cin, w, stride), Basic1d(w, w, 1))
            )
            cin = w
        self.avgpool = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def torchvision_r3d() -> nn.Module:
    # torchvision's wheel expects a CUDA torch; its model code runs once this is empty.
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("m"))
    from torchvision.models.video import r3d_18

    return r3d_18()


def interleaved(fa: Callable[[], object], fb: Callable[[], object], runs: int) -> float:
    fa(), fb()  # warm-up
    ratios = []
    for i in range(runs):
        times = {}
        for name, f in (("a", fa), ("b", fb)) if i % 2 == 0 else (("b", fb), ("a", fa)):
            start = time.perf_counter()
            f()
            times[name] = time.perf_counter() - start
        ratios.append(times["a"] / times["b"])
    return statistics.median(ratios)


def compare(label: str, ours: nn.Module, ref: nn.Module, x: torch.Tensor, runs: int) -> None:
    ref.load_state_dict(ours.state_dict(), strict=True)
    ours.eval(), ref.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x))

    def forward(m: nn.Module) -> Callable[[], object]:
        def f() -> object:
            with torch.no_grad():
                return m(x)

        return f

    def step(m: nn.Module) -> Callable[[], object]:
        opt = torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9)
        target = torch.zeros(x.shape[0], dtype=torch.long)

        def f() -> object:
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(m(x), target).backward()
            opt.step()
            return None

        return f

    fwd = interleaved(forward(ours), forward(ref), runs)
    ours.train(), ref.train()
    train = interleaved(step(ours), step(ref), runs)
    print(f"{label:<34} forward {fwd:6.3f}   train step {train:6.3f}   (archspec / reference)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="smaller inputs, 4 runs")
    args = parser.parse_args()
    runs = 4 if args.quick else args.runs
    if os.getloadavg()[0] > 0.5:
        print(f"warning: load average {os.getloadavg()[0]:.1f}; timings need an idle machine")
    torch.manual_seed(0)
    frames, size = (4, 56) if args.quick else (8, 112)
    video = torch.randn(2, 3, frames, size, size)
    compare(
        f"r3d_18 vs torchvision, 2x3x{frames}x{size}x{size}",
        archspec.build("r3d_18", seed=0),
        torchvision_r3d(),
        video,
        runs,
    )
    length = 2000 if args.quick else 5000
    signal = torch.randn(8, 12, length)
    spec = archspec.load(ROOT / "examples" / "ranks" / "resnet18_1d.yaml")
    channels, classes = archspec.lower(spec).graph["input_shape"][0], spec.head.classes
    compare(
        f"1-D resnet18 vs hand-written, 8x12x{length}",
        archspec.build(spec, seed=0),
        ResNet1d(channels, classes),
        signal,
        runs,
    )


if __name__ == "__main__":
    main()
