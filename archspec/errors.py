"""The one error family archspec raises for bad input.

Every error a user can cause (a malformed spec, a shape mismatch, an impossible
override) is an :class:`ArchSpecError`, itself a :class:`ValueError`, so callers can
catch one type. The CLI prints ``str(error)``: one or two lines, never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ArchSpecError(ValueError):
    """Base class of every error archspec raises for bad input."""


@dataclass(frozen=True)
class Mark:
    """A position in a source file; line and column count from 1."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut short: an error message stays one line however long the value
    (a 10,000-character description, a list of a thousand stages)."""
    try:
        text = repr(value)
    except RecursionError:  # data nested thousands deep, from the Python API
        return "(a value nested too deeply to show)"
    if len(text) <= limit:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} as text"
    return f"{text[: limit - 20]}... ({size})"


def format_path(path: Sequence[str | int]) -> str:
    """Render a field path the way users write it: ``stages[2].depth``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class SpecError(ArchSpecError):
    """A spec that cannot be read or validated.

    Carries where the problem is (``file``, ``line``, ``column``) and which field it
    concerns (``path``, a tuple such as ``("stages", 2, "depth")``).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: Sequence[str | int] = (),
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.path = tuple(path)
        super().__init__(str(self))

    @property
    def field(self) -> str:
        """The field path as users write it (``stages[2].depth``), or ``""``."""
        return format_path(self.path)

    def __str__(self) -> str:
        where = self.file or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class GraphError(ArchSpecError):
    """A spec that validates but cannot be lowered: shapes that disagree, a network
    that downsamples its input to nothing, a model too large to allocate.

    ``scope`` names the block (``layer2.0``), ``shapes`` the shapes involved.
    """

    def __init__(
        self,
        message: str,
        *,
        scope: str = "",
        shapes: Sequence[tuple[int, ...]] = (),
    ) -> None:
        self.message = message
        self.scope = scope
        self.shapes = tuple(tuple(s) for s in shapes)
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"block {self.scope}: " if self.scope else ""
        return f"{where}{self.message}"


class PortError(ArchSpecError):
    """A foreign state_dict that does not fit a model (``archspec.port_state_dict``).

    ``missing``: the model's tensors with no counterpart, as ``(key, shape)``;
    ``unexpected``: the checkpoint's tensors left over, as ``(key, shape)``;
    ``mismatched``: paired tensors of different shapes, as
    ``(our key, our shape, foreign key, foreign shape)``.
    """

    def __init__(
        self,
        message: str,
        *,
        missing: Sequence[tuple[str, tuple[int, ...]]] = (),
        unexpected: Sequence[tuple[str, tuple[int, ...]]] = (),
        mismatched: Sequence[tuple[str, tuple[int, ...], str, tuple[int, ...]]] = (),
    ) -> None:
        self.message = message
        self.missing = tuple(missing)
        self.unexpected = tuple(unexpected)
        self.mismatched = tuple(mismatched)
        super().__init__(message)
