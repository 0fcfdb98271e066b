"""Shared helpers for the archspec test suite (imported as ``helpers``; pytest puts
tests/ on sys.path because it is not a package).

Everything here uses real torch and the real pipeline: specs are built as plain dicts,
validated by the loader, lowered, built and run. Inputs are tiny (16x16 or 32x32,
batch 2) so the whole suite runs in a few minutes on two cores.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import torch
from torch import fx, nn

import archspec
from archspec.blocks import blocks
from archspec.blocks.base import BlockConfig
from archspec.blocks.skips import SKIPS
from archspec.spec.load import from_data
from archspec.testing import TreeRun, assert_ir_shapes, assert_modules_work_alone

__all__ = ["TreeRun", "assert_ir_shapes", "assert_modules_work_alone"]


# A small input at each rank: a 1-D signal, a 2-D image, a 3-D clip (frames, h, w).
RANK_SIZES: dict[int, int | list[int]] = {1: [32], 2: 16, 3: [4, 16, 16]}


def sample(size: int | list[int], batch: int = 2, seed: int = 0, channels: int = 3) -> Any:
    """A seeded batch for an input of ``size`` at its rank (one int is a 2-D square)."""
    sizes = [size, size] if isinstance(size, int) else list(size)
    return torch.randn(batch, channels, *sizes, generator=torch.Generator().manual_seed(seed))


def rank_refused(err: Exception, path: tuple[str | int, ...]) -> bool:
    """Whether a SpecError is the refusal of a setting that needs another rank, naming
    the field: a video conv or stem on a 2-D input."""
    return "-D (input.size)" in str(err) and getattr(err, "path", None) == path


def tiny_spec(
    block: str = "basic",
    *,
    skip: str = "identity",
    downsample: str = "projection",
    size: int | list[int] = 16,
    classes: int = 5,
    extra: dict[str, Any] | None = None,
    name: str = "tiny",
) -> dict[str, Any]:
    """A two-stage spec: a cifar stem of width 8, a stage of width 32, then a stage of
    width 64 at stride 2, so both stages' first blocks change the channels and the second
    also the spatial size. 32 so that grouped convs (32 groups by default) divide."""
    return {
        "name": name,
        "input": {"channels": 3, "size": size},
        "stem": {"type": "cifar", "width": 8},
        "defaults": {"block": block, "skip": skip, "downsample": downsample, **(extra or {})},
        "stages": [{"depth": 2, "width": 32}, {"depth": 2, "width": 64, "stride": 2}],
        "head": {"classes": classes},
    }


def pip(*args: str | Path) -> None:
    """Run this interpreter's pip quietly, without dependencies (nothing is fetched):
    ``pip("wheel", "-w", out, ROOT)``, ``pip("install", "--target", site, wheel)``."""
    command, *rest = (str(a) for a in args)
    subprocess.run(
        [sys.executable, "-m", "pip", command, "--quiet", "--no-deps", *rest],
        check=True,
        capture_output=True,
        timeout=300,
    )


def write_file(path: Path, text: str | bytes) -> Path:
    """Write ``text`` (or bytes) to ``path``, making its directories; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def spec_of(data: dict[str, Any], file: str = "<test>") -> archspec.ArchSpec:
    """Validate a spec dict through the loader (errors come out as SpecError)."""
    return from_data(copy.deepcopy(data), file)


def script(module: nn.Module) -> torch.jit.ScriptModule:
    """``torch.jit.script(module)``, quiet about TorchScript's deprecation (still used)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(module)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


BASE_FIELDS = set(BlockConfig.model_fields)


def block_skips(name: str) -> tuple[str, ...]:
    """The skip kinds block type ``name`` takes: its own list, or every registered kind."""
    return blocks()[name].config.skip_kinds or tuple(SKIPS)


def block_default_skip(name: str) -> str:
    return blocks()[name].config.model_fields["skip"].default


def block_variants(name: str) -> Iterator[dict[str, Any]]:
    """Settings that change how block type ``name`` lowers, one at a time: each
    non-default value of each ``Literal`` option it adds to the common config (bottleneck
    ``stride_at``, preact ``form``), each of its own boolean options switched, and ``null``
    for an option that takes it. So a new option is exercised without editing the tests.
    A block whose config needs a field the common config lacks fails loudly here."""
    fields = blocks()[name].config.model_fields
    required = [k for k, f in fields.items() if f.is_required() and k not in BASE_FIELDS]
    assert not required, f"block {name!r} needs {required}: teach tiny_spec about them"
    for key, field in fields.items():
        if key in BASE_FIELDS:
            continue
        args = get_args(field.annotation)
        origin = get_origin(field.annotation)
        if origin is Literal:
            for value in args:
                if value != field.default:
                    yield {key: value}
        elif field.annotation is bool:
            yield {key: not field.default}
        if type(None) in args and field.default is not None:
            yield {key: None}


def generated_modules(model: nn.Module) -> list[tuple[str, fx.GraphModule]]:
    """Every module of the built tree whose forward is generated, with its path."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, fx.GraphModule)]


def module_nodes(model: fx.GraphModule) -> list[fx.Node]:
    """The fx nodes of one generated forward that compute something."""
    return [n for n in model.graph.nodes if n.op not in ("placeholder", "output")]


def leaf_module_names(model: nn.Module) -> set[str]:
    return {name for name, m in model.named_modules() if name and not list(m.children())}


# --- the command line ------------------------------------------------------------------


def run_cli(
    *args: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """``archspec ARGS...`` in a fresh interpreter (``python -m archspec.cli``), output
    captured, so the command sees no terminal: what a user's pipe gets."""
    # One thread each: the CLI runs next to pytest-xdist workers (see conftest.py).
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "archspec.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=environment,
    )


def assert_clean_failure(proc: subprocess.CompletedProcess, code: int = 1) -> str:
    """Exit ``code`` with a short message on stderr and never a traceback: one or two
    lines, or for a usage error click's usual four (usage, hint, blank, error)."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert 1 <= len(lines) <= (4 if code == 2 else 2), proc.stderr
    assert lines[-1].lower().startswith("error:"), proc.stderr
    return proc.stderr
