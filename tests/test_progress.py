"""Progress bars: shown on a terminal for work over a second (the command line,
stats_many, grid, sample, an Optuna study), never in a pipe, and off when asked
(``progress=False``, ``ARCHSPEC_PROGRESS=0``, ``archspec --no-progress``)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import textwrap

import pytest

import archspec
from archspec.progress import ENV, enabled

# The bar shows at once instead of after a second, so the runs stay short.
NO_DELAY = "import archspec.progress; archspec.progress.DELAY = 0.0\n"


def run_on_terminal(code: str, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter whose stderr is a pseudo-terminal; return
    what it drew there."""
    master, slave = os.openpty()
    environment = {k: v for k, v in os.environ.items() if k != ENV}
    environment.update({"OMP_NUM_THREADS": "1", "COLUMNS": "100", **(env or {})})
    proc = subprocess.Popen(
        [sys.executable, "-c", NO_DELAY + textwrap.dedent(code)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env=environment,
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the other end closed
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(timeout=300) == 0
    return b"".join(chunks).decode(errors="replace")


def run_in_pipe(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", NO_DELAY + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != ENV},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


SAMPLE = """
    import archspec
    from archspec.sweep import IntRange
    specs = archspec.sample("resnet20", {{"stages.2.depth": IntRange(1, 9)}}, n=200{extra})
    grid = archspec.grid("resnet20", {{"stages.1.depth": list(range(1, 60))}}{extra})
"""


def test_sample_and_grid_show_a_bar_on_a_terminal() -> None:
    drawn = run_on_terminal(SAMPLE.format(extra=""))
    assert "sampling specs" in drawn and "200/200" in drawn
    assert "grid" in drawn and "59/59" in drawn


@pytest.mark.parametrize("how", ["argument", "environment", "pipe"])
def test_no_bar_when_asked_or_in_a_pipe(how: str) -> None:
    if how == "argument":
        drawn = run_on_terminal(SAMPLE.format(extra=", progress=False"))
    elif how == "environment":
        drawn = run_on_terminal(SAMPLE.format(extra=""), env={ENV: "0"})
    else:
        drawn = run_in_pipe(SAMPLE.format(extra=""))
    assert "sampling" not in drawn and "grid" not in drawn


def test_stats_many_shows_the_specs_counted_across_workers() -> None:
    drawn = run_on_terminal(
        """
        import archspec
        if __name__ == "__main__":
            specs = ["resnet20", "resnet32"] * 65
            results = archspec.stats_many(specs, workers=2)
            assert [r.params for r in results[:2]] == [269722, 464154]
        """
    )
    assert "counting specs" in drawn and "130/130" in drawn


def test_command_line_bar_and_no_progress_option() -> None:
    command = """
        import sys
        from archspec.cli import main
        sys.argv = ["archspec", *{args!r}]
        main()
    """
    assert "counting the presets" in run_on_terminal(command.format(args=["list"]))
    quiet = run_on_terminal(command.format(args=["--no-progress", "list"]))
    assert "counting" not in quiet


def test_enabled_follows_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "1")
    assert enabled() is True and enabled(False) is False
    monkeypatch.setenv(ENV, "off")
    assert enabled() is False and enabled(True) is True
    with pytest.raises(archspec.ArchSpecError, match="progress must be"):
        enabled("yes")  # type: ignore[arg-type]
