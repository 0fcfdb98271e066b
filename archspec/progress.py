"""Progress bars (rich, on stderr) for work that takes longer than a second: the
command line's long steps, :func:`archspec.stats_many`, :func:`archspec.grid`,
:func:`archspec.sample` and Optuna studies.

A bar appears only after :data:`DELAY` seconds, so quick calls print nothing, and is
cleared when the work ends. Whether it shows:

* ``progress=False`` (the argument of the function doing the work): never;
* ``progress=True``: always, even when stderr is not a terminal;
* ``progress=None`` (the default): when stderr is a terminal, unless the environment
  variable ``ARCHSPEC_PROGRESS`` is ``0`` (or ``off``, ``false``, ``no``); ``1`` (or
  ``on``, ``true``, ``yes``) turns it on where stderr is not a terminal.

Example::

    from archspec.progress import bar

    with bar("counting", total=len(specs)) as advance:
        for spec in specs:
            work(spec)
            advance()
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator

ENV = "ARCHSPEC_PROGRESS"
# Work shorter than this finishes before any bar is shown.
DELAY = 1.0
_OFF = {"0", "off", "false", "no"}
_ON = {"1", "on", "true", "yes"}


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def enabled(progress: bool | None = None) -> bool:
    """Whether a bar may show, given a function's ``progress=`` argument.

    Example::

        enabled(False)   # False, whatever the environment says
    """
    if progress is not None:
        if not isinstance(progress, bool):
            from archspec.errors import ArchSpecError, shown

            raise ArchSpecError(f"progress must be True, False or None, got {shown(progress)}")
        return progress
    setting = os.environ.get(ENV, "").strip().lower()
    if setting in _OFF:
        return False
    if setting in _ON:
        return True
    return _stderr_is_terminal()


@contextlib.contextmanager
def bar(
    description: str,
    total: int | None,
    *,
    progress: bool | None = None,
    delay: float | None = None,
) -> Iterator[Callable[..., None]]:
    """A progress bar on stderr for ``total`` steps; yields ``advance(steps=1,
    completed=None)``, which moves it on (or sets it, with ``completed=``).

    Nothing shows if :func:`enabled` says no, or if the work is over within ``delay``
    seconds (default :data:`DELAY`). ``total=None`` shows a count with no end.

    Example::

        with bar("sampling specs", total=n) as advance:
            while len(out) < n:
                out.append(draw())
                advance()
    """
    if not enabled(progress):
        yield lambda steps=1, completed=None: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    # A console on its own copy of stderr: the work inside may redirect file descriptor 2
    # (rendering does, to filter Graphviz's noise) and the bar must keep drawing.
    stream = os.fdopen(os.dup(sys.stderr.fileno()), "w")
    console = Console(file=stream, stderr=False)
    shown = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = shown.add_task(description, total=total)
    lock = threading.Lock()
    state = {"started": False, "done": False}

    def start() -> None:
        with lock:
            if not state["done"]:
                shown.start()
                state["started"] = True

    def advance(steps: int = 1, completed: int | None = None) -> None:
        if completed is not None:
            shown.update(task, completed=completed)
        else:
            shown.advance(task, steps)

    timer = threading.Timer(DELAY if delay is None else delay, start)
    timer.daemon = True
    timer.start()
    try:
        yield advance
    finally:
        with lock:
            state["done"] = True
            timer.cancel()
            if state["started"]:
                shown.stop()
        stream.close()
