"""Running the real ``archspec`` command line in a fresh interpreter, as a user would,
and the tiny specs the command tests feed it (imported as ``cli_helpers``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml


def archspec_cli(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``archspec ARGS...`` through ``python -m archspec.cli``, output captured (so piped:
    the command sees no terminal)."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "archspec.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=300,
    )


def assert_fails_cleanly(proc: subprocess.CompletedProcess, code: int) -> None:
    """Exit ``code`` with a short message on stderr and no traceback: one or two lines,
    or for a usage error click's usual four (usage, hint, blank, error)."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert 1 <= len(lines) <= (4 if code == 2 else 2), proc.stderr
    assert lines[-1].lower().startswith("error:"), proc.stderr


def tiny_spec_data(
    block: str = "basic", *, skip: str | None = None, name: str = "tiny", **defaults: Any
) -> dict[str, Any]:
    """Two stages of two blocks on a 16x16 input; the second stage halves the size and
    doubles the width, so its first block changes shape."""
    extra = {"skip": skip} if skip else {}
    return {
        "name": name,
        "input": {"channels": 3, "size": 16},
        "stem": {"type": "cifar", "width": 8},
        "defaults": {"block": block, **extra, **defaults},
        "stages": [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}],
        "head": {"classes": 5},
    }


def write_spec(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
