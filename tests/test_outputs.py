"""What writing an output may and may not do to what is already on disk: special files
are refused, symlinks written through, modes kept, inputs never overwritten, a full or
read-only file system reported in one line with no temporary file left, and temporary
files removed on SIGTERM and SIGHUP. Real files, FIFOs, links and mounts; no mocks."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bad_specs import BASE
from helpers import assert_clean_failure, run_cli, write_file

import archspec
from archspec.errors import ArchSpecError, FileError
from archspec.files import atomic_write

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".tmp" in p.name)


# --- special files ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["schema", "render", "build-pt", "emit-python", "api"])
def test_a_fifo_is_refused_not_replaced(tmp_path: Path, command: str) -> None:
    suffix = {"schema": ".json", "render": ".svg", "build-pt": ".pt", "emit-python": ".py"}
    fifo = tmp_path / f"out{suffix.get(command, '.svg')}"
    os.mkfifo(fifo)
    args = {
        "schema": ["schema", "-o", fifo],
        "render": ["render", "resnet20", "-o", fifo],
        "build-pt": ["build", "resnet20", "-o", fifo],
        "emit-python": ["build", "resnet20", "--emit-python", fifo],
    }
    if command == "api":
        with pytest.raises(FileError, match="FIFO"):
            archspec.render("resnet20", fifo)
    else:
        text = assert_clean_failure(run_cli(*args[command], timeout=120))
        assert "FIFO" in text
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert leftovers(tmp_path) == []


def test_a_device_is_never_replaced() -> None:
    before = os.stat("/dev/null")
    text = assert_clean_failure(run_cli("schema", "-o", "/dev/null"))
    assert "character device" in text
    with pytest.raises(FileError, match="character device"):
        atomic_write("/dev/null", b"x")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_a_directory_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out.pt"
    target.mkdir()
    model = archspec.build("resnet20", seed=0)
    with pytest.raises(FileError, match="is a directory"):
        archspec.save_checkpoint(model, "resnet20", target)
    assert_clean_failure(run_cli("build", "resnet20", "-o", target))
    assert target.is_dir()


def test_a_symlink_is_written_through(tmp_path: Path) -> None:
    """Deliberate, as editors save: the file it points to is replaced, the link stays."""
    real = write_file(tmp_path / "real" / "schema.json", "old")
    link = tmp_path / "schema.json"
    link.symlink_to(real)
    proc = run_cli("schema", "-o", link)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().startswith("{")
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "nowhere" / "x.json")
    text = assert_clean_failure(run_cli("schema", "-o", dangling))
    assert "missing file" in text and dangling.is_symlink()


# --- modes and read-only files ---------------------------------------------------------------


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    target = write_file(tmp_path / "schema.json", "old")
    target.chmod(0o600)
    assert run_cli("schema", "-o", target).returncode == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    atomic_write(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_text() == "new"


def test_a_read_only_file_is_not_replaced(tmp_path: Path) -> None:
    target = write_file(tmp_path / "net.svg", "keep")
    target.chmod(0o444)
    text = assert_clean_failure(run_cli("render", "resnet20", "-o", target))
    assert "read-only" in text
    with pytest.raises(FileError, match="read-only"):
        archspec.render("resnet20", target)
    assert target.read_text() == "keep"


@contextlib.contextmanager
def mounted(directory: Path, options: str) -> Iterator[Path]:
    """A small tmpfs at ``directory`` (root only)."""
    directory.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", directory], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", directory], check=False)


def can_mount() -> bool:
    if not IS_ROOT or shutil.which("mount") is None:
        return False
    probe = Path(f"/tmp/archspec-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe])
        return done.returncode == 0
    finally:
        subprocess.run(["umount", probe], check=False, capture_output=True)
        probe.rmdir()


MOUNTS = can_mount()


def test_a_read_only_directory(tmp_path: Path) -> None:
    """Root writes into a directory without write bits, so as root the directory is a
    read-only mount; otherwise a plain chmod 555 directory."""
    if MOUNTS:
        context = mounted(tmp_path / "ro", "ro,size=64k")
    elif not IS_ROOT:
        (tmp_path / "ro").mkdir(mode=0o555)
        context = contextlib.nullcontext(tmp_path / "ro")
    else:
        pytest.skip("running as root without mount: a chmod 555 directory is writable by root")
    with context as directory:
        for args in (
            ["schema", "-o", directory / "s.json"],
            ["render", "resnet20", "-o", directory / "n.svg"],
            ["build", "resnet20", "--emit-python", directory / "m.py"],
        ):
            text = assert_clean_failure(run_cli(*args))
            assert str(directory) in text and ".tmp" not in text
        with pytest.raises(FileError):
            archspec.render("resnet20", directory / "n.dot")
        assert list(directory.iterdir()) == []


@pytest.mark.skipif(not MOUNTS, reason="a full file system needs root to mount a small tmpfs")
def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    with mounted(tmp_path / "full", "size=256k") as full:
        filler = full / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as f:
            while True:  # until the file system is full
                f.write(b"\0" * 4096)
                f.flush()
        cases = [
            ["build", "resnet18", "-o", full / "m.pt"],
            ["build", "resnet18", "-o", full / "m.pt2"],
            ["build", "resnet152", "--emit-python", full / "m.py"],
            ["render", "resnet152", "-o", full / "n.png", "--detail", "layer"],
            ["render", "resnet152", "-o", full / "n.dot", "--detail", "layer"],
        ]
        for args in cases:
            text = assert_clean_failure(run_cli(*args))
            assert "no space left" in text, text
            assert str(full) in text and ".tmp" not in text
            assert [p.name for p in full.iterdir()] == ["filler"], args
        with pytest.raises(ArchSpecError, match="no space left"):
            archspec.save_checkpoint(archspec.build("resnet20"), "resnet20", full / "m.pt")
        with pytest.raises(ArchSpecError, match="no space left"):
            archspec.render("resnet20", full / "n.svg")
        with pytest.raises(ArchSpecError, match="no space left"):
            atomic_write(full / "x.json", "{}")
        assert [p.name for p in full.iterdir()] == ["filler"]


# --- outputs that are inputs -------------------------------------------------------------------


def test_an_output_never_overwrites_an_input(tmp_path: Path) -> None:
    spec = write_file(tmp_path / "spec.py", BASE)  # a spec may have any suffix
    parent = write_file(tmp_path / "base.dot", BASE)
    child = write_file(tmp_path / "child.yaml", "extends: base.dot\nname: child\n")
    (tmp_path / "alias.py").symlink_to(spec)
    cases = [
        (["build", spec, "--emit-python", spec], spec),
        (["build", spec, "--emit-python", tmp_path / "alias.py"], spec),
        (["render", child, "-o", parent], parent),
        (["build", spec, "--emit-python", "spec.py"], spec),
    ]
    for args, victim in cases:
        before = victim.read_text()
        text = assert_clean_failure(run_cli(*args, cwd=tmp_path))
        assert "reads" in text and victim.read_text() == before
    assert leftovers(tmp_path) == []


# --- signals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_removes_the_temporary_file(tmp_path: Path, signum: int) -> None:
    """Stop the command while its temporary file exists: none is left behind."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for _attempt in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "archspec.cli", "build", "wide_resnet50_2", "-o", "m.pt"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 240
        seen = False
        while proc.poll() is None and time.monotonic() < deadline:
            if leftovers(tmp_path):
                seen = True
                proc.send_signal(signum)
                break
            time.sleep(0.002)
        proc.wait(timeout=120)
        if seen:
            break
        (tmp_path / "m.pt").unlink(missing_ok=True)
    else:
        pytest.skip("the write finished before the signal could be sent")
    assert proc.returncode == -signum, proc.stderr.read()
    assert leftovers(tmp_path) == [] and not (tmp_path / "m.pt").exists()


class _Stopped(Exception):
    pass


def test_a_signal_just_after_the_file_is_created_still_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signal lands the instant the temporary file exists, before archspec has had a
    chance to note it: the handler still finds it (the CI race the test above once hit).
    Another thread is alive, as torch's are in the command: the kernel may hand the
    signal to it, so blocking the signal in the main thread would not hold it back."""
    from archspec import files

    idle = threading.Event()
    other = threading.Thread(target=idle.wait)
    other.start()

    real_mkstemp = files.tempfile.mkstemp

    def mkstemp_then_signal(*args: object, **kwargs: object) -> tuple[int, str]:
        made = real_mkstemp(*args, **kwargs)  # type: ignore[call-overload]
        os.kill(os.getpid(), signal.SIGHUP)
        return made

    def handler(signum: int, frame: object) -> None:
        files.remove_temporaries()
        raise _Stopped

    previous = signal.signal(signal.SIGHUP, handler)
    try:
        monkeypatch.setattr(files.tempfile, "mkstemp", mkstemp_then_signal)
        with pytest.raises(_Stopped):
            atomic_write(tmp_path / "out.txt", "text")
    finally:
        signal.signal(signal.SIGHUP, previous)
        idle.set()
        other.join()
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.txt").exists()
