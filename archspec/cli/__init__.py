"""The ``archspec`` command line.

Exit codes: 0 success, 1 a spec or graph error (printed in one or two lines, no
traceback), 2 a usage error, 3 an internal error. A command is one file in this folder;
tables go through :mod:`archspec.report.console` (rich on a terminal, plain text in a
pipe).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

from archspec.cli.common import app, err
from archspec.errors import ArchSpecError

# Each command module registers itself on the app when imported, in this order, which is
# the order `archspec --help` lists them in.
COMMANDS = ("list_cmd", "validate", "summary", "build", "render", "compare", "schema", "gradflow")
for _name in COMMANDS:
    importlib.import_module(f"archspec.cli.{_name}")

__all__ = ["app", "main"]


def _on_signal(signum: int, frame: object) -> None:
    """SIGTERM, SIGHUP: remove the temporary files being written, then end as the signal
    would have ended the process (the parent sees the same status)."""
    from archspec.files import remove_temporaries

    remove_temporaries()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def main() -> None:
    """Entry point: run the app, turning archspec's errors into one-line messages."""
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _on_signal)
    try:
        # One name in usage lines and for completion (_ARCHSPEC_COMPLETE), however started.
        app(prog_name="archspec")
    except ArchSpecError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    except OSError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("ARCHSPEC_DEBUG"):
            raise
        err.print(
            f"internal error: {type(exc).__name__}: {exc} (set ARCHSPEC_DEBUG=1 for the traceback)",
            markup=False,
        )
        sys.exit(3)
