"""Terminal output: rich tables on a terminal, plain aligned text when piped, and a
progress spinner that appears only for work that takes longer than a second.

Example::

    rows = [["resnet50", "25,557,032"]]
    print_table(["spec", "params"], rows, title="compare", right={"params"})
"""

from __future__ import annotations

import contextlib
import os
import sys
import textwrap
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from archspec.errors import escape

# Work shorter than this finishes before any progress is shown.
PROGRESS_DELAY = 1.0


def is_terminal(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (stdout by default) is an interactive terminal."""
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class SafeConsole(Console):
    """A rich console that prints every string with its control characters escaped:
    the command line echoes paths, spec names and messages that come from the user, and
    none of them may drive the terminal (retitle it, clear it, forge a line).

    Example::

        SafeConsole(stderr=True).print("error: a\\x1b[2J.yaml", markup=False)
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        safe = [escape(o, limit=None) if isinstance(o, str) else o for o in objects]
        super().print(*safe, **kwargs)


def plain_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    title: str = "",
    right: Iterable[str] = (),
    wrap: str | None = None,
    width: int | None = None,
) -> str:
    """A table as plain text: columns padded with spaces, two between them, so the
    output is easy to read and to cut, grep or parse in a pipe. Given ``width``, the
    last column, if it is ``wrap``, is wrapped at word boundaries to fit (never cut):
    its later lines start under its first.

    Example::

        plain_table(["spec", "params"], [["resnet18", "11,689,512"]], right={"params"})
    """
    rows = [[str(cell) for cell in row] for row in rows]
    right = set(right)
    widths = [len(c) for c in columns]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    if width is not None and wrap is not None and columns and columns[-1] == wrap:
        return _wrapped_table(columns, rows, widths, title, right, width)

    def line(cells: Sequence[str]) -> str:
        out = [
            cell.rjust(w) if name in right else cell.ljust(w)
            for name, cell, w in zip(columns, cells, widths, strict=True)
        ]
        return "  ".join(out).rstrip()

    lines = [title] if title else []
    lines.append(line(columns))
    lines.extend(line(row) for row in rows)
    return "\n".join(lines) + "\n"


def _wrapped_table(
    columns: Sequence[str],
    rows: list[list[str]],
    widths: list[int],
    title: str,
    right: set[str],
    width: int,
) -> str:
    # The text columns keep their width; the last takes what is left, at least 20.
    indent = sum(widths[:-1]) + 2 * (len(widths) - 1)
    room = max(20, width - indent)
    lines = [title] if title else []
    for row in [list(columns), *rows]:
        head = [
            cell.rjust(w) if name in right else cell.ljust(w)
            for name, cell, w in zip(columns[:-1], row[:-1], widths, strict=False)
        ]
        parts = textwrap.wrap(row[-1], room, break_on_hyphens=False, break_long_words=False) or [""]
        lines.append(("  ".join([*head, parts[0]])).rstrip())
        lines.extend(" " * indent + part for part in parts[1:])
    return "\n".join(lines) + "\n"


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    title: str = "",
    right: Iterable[str] = (),
    wrap: str | None = None,
    console: Console | None = None,
) -> None:
    """Print a table: a rich table when stdout is a terminal, else :func:`plain_table`.
    The ``wrap`` column (the last one) is wrapped, never cut: on a terminal to its width,
    in a pipe to ``COLUMNS`` when that is set (else kept on one line, for grep)."""
    rows = [[escape(cell, limit=None) for cell in row] for row in rows]
    columns = [escape(c, limit=None) for c in columns]
    title = escape(title, limit=None)
    right = {escape(c, limit=None) for c in right}
    if not is_terminal():
        columns_env = os.environ.get("COLUMNS", "")
        width = int(columns_env) if columns_env.isdigit() else None
        text = plain_table(columns, rows, title=title, right=right, wrap=wrap, width=width)
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    table = Table(title=title or None, title_justify="left", header_style="bold")
    for name in columns:
        table.add_column(
            name,
            justify="right" if name in right else "left",
            # Wrapped, or folded where a word is too long, rather than cut with an ellipsis;
            # the other columns keep their width while the wrapped one has room.
            overflow="fold" if wrap is not None else "ellipsis",
            ratio=1 if name == wrap else None,
        )
    for row in rows:
        table.add_row(*row)
    (console or Console(highlight=False)).print(table)


@contextlib.contextmanager
def progress(message: str, *, delay: float = PROGRESS_DELAY) -> Iterator[None]:
    """Show a spinner with ``message`` on stderr if the work inside takes longer than
    ``delay`` seconds and stderr is a terminal; otherwise show nothing.

    Example::

        with progress("exporting resnet1202"):
            program = torch.export.export(model, (x,))
    """
    from archspec.progress import enabled

    # Off in a pipe, and where asked (ARCHSPEC_PROGRESS=0, archspec --no-progress).
    if not is_terminal(sys.stderr) or not enabled():
        yield
        return
    # A console on its own copy of the terminal, so the spinner keeps drawing while the
    # work inside redirects file descriptor 2 (rendering does, to filter Graphviz noise).
    stream = os.fdopen(os.dup(sys.stderr.fileno()), "w")
    status = Console(file=stream, force_terminal=True).status(message)
    lock = threading.Lock()
    started = False

    def start() -> None:
        nonlocal started
        with lock:
            if not done:
                status.start()
                started = True

    done = False
    timer = threading.Timer(delay, start)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            done = True
            timer.cancel()
            if started:
                status.stop()
        stream.close()
