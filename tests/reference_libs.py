"""The reference libraries the tests compare with: torchvision and timm, installed for the
tests only (`pip install --no-deps`, see the Makefile). Their wheels expect a CUDA build of
torch; their model code is plain Python and runs on the CPU build, once torchvision's
registrations of CUDA-only meta kernels are skipped."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

# The presets named after timm's models (resnet50, which timm has too, is checked against
# torchvision's).
TIMM = [
    "resnet50d",
    "seresnet50",
    "resnet50_gn",
    "ecaresnet50d",
    "skresnet18",
    "skresnext50_32x4d",
    "resnest14d",
    "resnest50d",
    "cspresnet50",
    "regnety_004",
]


def torchvision() -> Any:
    """torchvision, or the test skipped with the reason."""
    sys.modules.setdefault(
        "torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations")
    )
    return pytest.importorskip("torchvision", reason="torchvision is a test-only dependency")


def timm() -> Any:
    """timm, or the test skipped with the reason."""
    torchvision()  # timm imports torchvision where it is installed
    return pytest.importorskip("timm", reason="timm is a test-only dependency")
