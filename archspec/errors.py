"""The one error family archspec raises for bad input.

Every error a user can cause (a malformed spec, a shape mismatch, an impossible
override) is an :class:`ArchSpecError`, itself a :class:`ValueError`, so callers can
catch one type. The CLI prints ``str(error)``: one or two lines, never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Characters a terminal acts on instead of printing: C0 and C1 controls (ESC starts a
# sequence that can set the window title or clear the screen, CR and newlines forge
# lines), DEL, the Unicode line and paragraph separators, and the bidirectional
# overrides that make text read differently from how it is stored.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


class ArchSpecError(ValueError):
    """Base class of every error archspec raises for bad input.

    Its text is always one printable line: the keys, values and paths it quotes come from
    files and command lines, so every control character in them is shown escaped.
    """

    def __str__(self) -> str:
        return escape(shorten_words(super().__str__()), limit=None)


@dataclass(frozen=True)
class Mark:
    """A position in a source file; line and column count from 1."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{escape(self.file)}:{self.line}:{self.column}"


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: object, limit: int | None = 200) -> str:
    """``text`` safe to print: every control character written as an escape (``\\x1b``,
    ``\\n``), so a key, a path or a value from a spec cannot move the cursor, retitle the
    window or forge a line of output; cut to ``limit`` characters (``None``: whole).

    Example::

        >>> escape("a\\x1b[2Jb\\nok: c")
        'a\\\\x1b[2Jb\\\\nok: c'
    """
    text = str(text)
    if limit is not None and len(text) > limit:
        text = f"{text[: limit - 30]}... ({len(text):,} characters)"
    return _UNSAFE.sub(_escape_char, text)


_LONG_WORD = re.compile(r"\S{161,}")


def shorten_words(text: str) -> str:
    """``text`` with every run of over 160 non-blank characters (a 100,000-character
    block name quoted by a validator, a pasted blob) cut to its start and end, so a
    message stays a line however long the value it quotes.

    Example::

        >>> shorten_words("unknown block type '" + "b" * 1000 + "'")[-40:]
        "bbbbbbbbbbbbbbbbbbbbbbb' (1,021 characters)"
    """

    def cut(match: re.Match[str]) -> str:
        word = match.group()
        return f"{word[:100]}...{word[-30:]} ({len(word):,} characters)"

    return _LONG_WORD.sub(cut, text)


def is_safe(text: str) -> bool:
    """Whether ``text`` prints as written (no character :func:`escape` would rewrite)."""
    return _UNSAFE.search(text) is None


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
    return escape(out)


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
        # Every problem found along with this one, this one included (validate --all).
        self.problems: tuple[SpecError, ...] = (self,)
        super().__init__(str(self))

    @property
    def field(self) -> str:
        """The field path as users write it (``stages[2].depth``), or ``""``."""
        return format_path(self.path)

    def __str__(self) -> str:
        where = escape(self.file or "<spec>")
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.path else ""
        return escape(shorten_words(f"{where}:{field} {self.message}"), limit=None)


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
        where = f"block {escape(self.scope)}: " if self.scope else ""
        return escape(shorten_words(f"{where}{self.message}"), limit=None)


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


class FileError(ArchSpecError):
    """A file that cannot be written (or must not be): a full disk, a read-only file, a
    FIFO or device where an output should go, an output that is one of the inputs.

    ``path`` is the path the caller gave, never a temporary file; ``reason`` says why.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{escape(self.path)}: {reason}")
