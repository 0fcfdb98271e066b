"""Every example in README.md and docs/ runs as written: each ``python`` block as a
script in a fresh interpreter, each shell block that needs nothing outside the
repository through the real ``archspec`` command, page by page in a temporary working
directory (the conventions are in tests/docs_blocks.py). A page added later is covered
with no change here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docs_blocks import ROOT, SHELL_LANGUAGES, Block, blocks, pages

TIMEOUT = 300


def _runs(block: Block) -> bool:
    if block.skipped or block.file_name:
        return False
    return block.lang == "python" or (block.lang in SHELL_LANGUAGES and block.runnable_shell())


def _params() -> list:
    params = []
    for page in pages():
        found = [b for b in blocks(page) if _runs(b)]
        if found:
            slow = any(b.mark == "slow" for b in found)
            marks = [pytest.mark.slow] if slow else []
            params.append(pytest.param(page, marks=marks, id=str(page.relative_to(ROOT))))
    return params


def _environment(tmp_path: Path) -> dict[str, str]:
    """The real command on PATH as ``archspec`` (this interpreter, this checkout)."""
    bin_dir = tmp_path.parent / f"{tmp_path.name}-bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "archspec"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m archspec.cli "$@"\n')
    wrapper.chmod(0o755)
    python = bin_dir / "python"  # a script, not a link: a venv's python finds its venv
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    torchrun = Path(sys.executable).parent / "torchrun"
    path = os.pathsep.join([str(bin_dir), str(torchrun.parent), os.environ.get("PATH", "")])
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {
        **os.environ,
        "PATH": path,
        "PYTHONPATH": pythonpath,
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "ARCHSPEC_PROGRESS": "0",
    }


def _check(proc: subprocess.CompletedProcess, block: Block, what: str) -> None:
    assert proc.returncode == 0, (
        f"{block.where}: {what} failed (exit {proc.returncode}):\n"
        f"{proc.stdout[-1500:]}\n{proc.stderr[-3000:]}"
    )


@pytest.mark.parametrize("page", _params())
def test_page_examples_run_as_written(page: Path, tmp_path: Path) -> None:
    env = _environment(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    # The pages' examples run from the repository's root, where examples/ is: a copy,
    # so no block can change the repository's own files.
    shutil.copytree(ROOT / "examples", work / "examples")
    for block in blocks(page):
        if block.skipped:
            continue
        if block.file_name:
            target = work / block.file_name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body)
            continue
        if block.lang == "python":
            script = work / f"_block_{block.line}.py"
            script.write_text(block.body)
            proc = subprocess.run(
                [sys.executable, script.name],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
            script.unlink()
            _check(proc, block, "the Python block")
        elif block.lang in SHELL_LANGUAGES and block.runnable_shell():
            for command in block.commands():
                proc = subprocess.run(
                    ["bash", "-e", "-o", "pipefail", "-c", command],
                    cwd=work,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=TIMEOUT,
                )
                _check(proc, block, f"`{command}`")


def test_every_python_block_is_run_or_says_why_not() -> None:
    """A Python block is run, is a file a later block uses, or is marked
    ``<!-- docs-test: skip (why) -->`` with its reason."""
    for page in pages():
        for block in blocks(page):
            if block.mark:
                assert block.mark == "slow" or (
                    block.mark.startswith("skip (") and block.mark.endswith(")")
                ), f"{block.where}: unknown docs-test mark {block.mark!r}"
            if block.lang == "python" and block.skipped:
                assert len(block.mark) > len("skip ()") + 5, block.where


def test_a_stats_many_example_guards_its_spawned_workers() -> None:
    """Worker processes are spawned: a script that calls stats_many at the top level
    would start them again on import, so every example that calls it has the guard."""
    for page in pages():
        for block in blocks(page):
            if block.lang == "python" and "stats_many(" in block.body:
                assert 'if __name__ == "__main__":' in block.body, block.where
