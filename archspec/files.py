"""Writing output files atomically and safely.

Guarantees of :func:`atomic_path` (and so of every file archspec writes):

* A failed write never leaves a half-written file: the data goes to a hidden temporary
  file beside the target (``.NAME.XXXXXXXX.tmp.SUFFIX``), which replaces the target only
  once complete, and is removed on any failure, and on SIGTERM or SIGHUP in the command
  line (:func:`remove_temporaries`). SIGKILL or a crash of the interpreter can still
  leave one behind.
* Only regular files are replaced. A FIFO, a device, a socket or a directory at the
  target is refused, never replaced. A symlink is written *through*: the file it points
  to is replaced and the link stays a link (as editors save); a dangling one is refused.
* A replaced file keeps its permission bits (and, where the process may set them, its
  owner and group). A file that is read-only (no write permission bit, or one this
  process may not write) is refused, not replaced.
* Every failure is a :class:`~archspec.errors.FileError` naming the path the caller gave,
  never the temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from archspec.errors import FileError

# Temporary files being written now, so a signal handler can remove them.
_LIVE: set[Path] = set()

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _why(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return "no space left on the device"
    if err.errno == errno.EDQUOT:
        return "disk quota exceeded"
    return (err.strerror or str(err)).lower()


def writable_target(path: str | Path) -> Path:
    """The file a write to ``path`` replaces (a symlink followed), checked: a
    :class:`FileError` if it is not a regular file, is read-only, or its directory is
    missing.

    Example::

        writable_target("out.svg")      # Path("out.svg") if it can be written
    """
    given = Path(path)
    if given.is_symlink():
        target = Path(os.path.realpath(given))
        if not target.exists() and not target.is_symlink():
            raise FileError(given, "is a symlink to a missing file; not written through")
    else:
        target = given
    directory = target.parent if str(target.parent) else Path(".")
    try:
        info = target.stat()
    except FileNotFoundError:
        info = None
    except OSError as err:
        raise FileError(given, f"cannot write: {_why(err)}") from None
    if info is not None:
        for test, kind in _KINDS:
            if test(info.st_mode):
                raise FileError(given, f"is {kind}; only a regular file is replaced")
        if not info.st_mode & 0o222 or not os.access(target, os.W_OK):
            raise FileError(given, "is read-only; not replaced")
    if not directory.is_dir():
        raise FileError(given, f"the directory {directory} does not exist")
    return target


_STOPPING = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, n))


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Run the stopping signals' handlers on leaving, not inside.

    A handler that removes the temporary files must not run between a file's creation
    and its recording, or it misses the file. Blocking the signals would not do: the
    kernel hands a process's signal to any thread that does not block it (torch's, a test
    runner's), and Python then runs the handler in the main thread all the same. Python
    runs handlers only in the main thread, so elsewhere there is nothing to defer.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous: dict[int, Any] = {}
    for signum in _STOPPING:
        handler = signal.getsignal(signum)
        if handler is not None:  # None: set outside Python, and it could not be put back
            previous[signum] = signal.signal(signum, lambda s, _frame: caught.append(s))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in caught:
            signal.raise_signal(signum)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    Example::

        with atomic_path("model.pt2") as tmp:
            torch.export.save(program, tmp)
    """
    given = Path(path)
    target = writable_target(given)
    try:
        old: os.stat_result | None = target.stat()
    except FileNotFoundError:
        old = None
    tmp: Path | None = None
    try:
        with _signals_deferred():
            # Keep the suffix: some writers (torch.export.save) check it.
            fd, name = tempfile.mkstemp(
                prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
            )
            tmp = Path(name)
            _LIVE.add(tmp)
            os.close(fd)
        if old is not None:
            os.chmod(tmp, stat.S_IMODE(old.st_mode))
            with contextlib.suppress(OSError):  # only root may give a file away
                os.chown(tmp, old.st_uid, old.st_gid)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; open() would not
        yield tmp
        os.replace(tmp, target)
    except OSError as err:
        raise FileError(given, f"cannot write: {_why(err)}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            _LIVE.discard(tmp)


class _Sink(io.FileIO):
    """A file that remembers the OS error of a failed write: torch's writers turn it
    into a RuntimeError that no longer says why ("unexpected pos ...")."""

    failure: OSError | None = None

    def write(self, data: bytes) -> int:  # type: ignore[override]
        try:
            return super().write(data)
        except OSError as err:
            self.failure = err
            raise


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """Like :func:`atomic_path`, but yield the temporary file open for writing: hand it
    to torch's writers rather than a path. Given a path, ``torch.export.save`` aborts the
    whole process when the disk fills; given a file, it raises, and the cause is kept.

    Example::

        with atomic_file("model.pt") as f:
            torch.save(record, f)
    """
    with atomic_path(path) as tmp:
        sink = _Sink(tmp, "wb")
        try:
            with sink:
                yield sink  # type: ignore[misc]
        except Exception as exc:
            if sink.failure is None or isinstance(exc, FileError):
                raise
            raise FileError(path, f"cannot write: {_why(sink.failure)}") from None


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` atomically.

    Example::

        atomic_write("archspec.schema.json", text)
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)


def remove_temporaries() -> None:
    """Remove every temporary file being written now (from a signal handler, before the
    process ends)."""
    for tmp in list(_LIVE):
        with contextlib.suppress(OSError):
            tmp.unlink()
        _LIVE.discard(tmp)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def refuse_overwriting(outputs: Iterable[Path | None], reads: Iterable[Path]) -> None:
    """A :class:`FileError` if an output is a file the command reads (the spec, a file
    it extends) or two outputs are the same file: writing would destroy an input.

    Example::

        refuse_overwriting([Path("spec.yaml")], [Path("spec.yaml")])   # FileError
    """
    outs = [Path(o) for o in outputs if o is not None]
    reads = [Path(r) for r in reads]
    for n, out in enumerate(outs):
        real = Path(os.path.realpath(out))
        for read in reads:
            if _same(out, read) or real == Path(os.path.realpath(read)):
                raise FileError(out, f"is a file this command reads ({read}); not overwritten")
        for other in outs[:n]:
            if _same(out, other) or real == Path(os.path.realpath(other)):
                raise FileError(out, "is given as two outputs; write them to different files")
