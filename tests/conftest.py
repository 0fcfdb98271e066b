"""Fixtures for the archspec test suite; plain helpers live in helpers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Under pytest-xdist every worker would otherwise start one compute thread per core:
# with two workers on two cores, OpenMP's spinning threads slow each other down several
# times over. One thread per worker keeps the cores busy without oversubscription.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture
def write(tmp_path: Path):
    """write("name.yaml", text) -> path of a file in a fresh directory."""

    def _write(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    return _write
