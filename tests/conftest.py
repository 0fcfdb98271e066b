"""Fixtures for the archspec test suite; plain helpers live in helpers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from helpers import write_file

# Under pytest-xdist every worker would otherwise start one compute thread per core:
# with two workers on two cores, OpenMP's spinning threads slow each other down several
# times over. One thread per worker keeps the cores busy without oversubscription.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture
def write(tmp_path: Path):
    """write("name.yaml", text) -> path of a file in a fresh directory."""

    def _write(name: str, text: str | bytes) -> Path:
        return write_file(tmp_path / name, text)

    return _write


@pytest.fixture(scope="session")
def browser():
    """A real headless Chromium (Debian's, installed by apt-get when missing), driven by
    selenium; skipped, with the reason, only where no browser can be installed."""
    pytest.importorskip("selenium", reason="selenium is in the dev extra")
    from browser import chromium, install_chromium

    reason = install_chromium()
    if reason is not None:
        pytest.skip(reason)
    with chromium() as driver:
        yield driver
