"""Long lines of emitted source broken as black and ruff break them: at the largest
bracket, one item a line with a trailing comma."""

from __future__ import annotations

from collections.abc import Iterator


def _code_chars(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """``(index, char, depth)`` for each character of ``text`` outside string literals,
    ``depth`` counting the brackets open around it (a bracket itself at the outer depth)."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            quote = "" if ch == quote and text[i - 1] != "\\" else quote
        elif ch in "'\"":
            quote = ch
        else:
            if ch in ")]}":
                depth -= 1
            yield i, ch, depth
            if ch in "([{":
                depth += 1


def _matching(text: str, start: int) -> int:
    """Index of the bracket closing the one at ``start`` (strings taken into account)."""
    for i, ch, depth in _code_chars(text, start):
        if ch in ")]}" and depth == 0:
            return i
    return -1


def _split_top_level(text: str) -> list[str]:
    """``text`` cut at its commas outside brackets and strings; a trailing comma ends it."""
    cuts = [i for i, ch, depth in _code_chars(text) if ch == "," and depth == 0]
    parts = [text[a + 1 : b].strip() for a, b in zip([-1, *cuts], [*cuts, len(text)], strict=True)]
    return parts[:-1] if parts and not parts[-1] else parts


def wrap(line: str, width: int = 100) -> str:
    """Break a line longer than ``width`` at its largest bracket, one item a line with
    a trailing comma, as black and ruff format it; items still too long break again."""
    if len(line) <= width or line.lstrip().startswith("#"):
        return line
    indent = line[: len(line) - len(line.lstrip())]
    best = None
    for i, ch in enumerate(line):
        if ch in "([{":
            j = _matching(line, i)
            if j > i + 1 and (best is None or j - i > best[1] - best[0]):
                best = (i, j)
    if best is None:
        return line
    i, j = best
    parts = _split_top_level(line[i + 1 : j])
    inner = [wrap(f"{indent}    {part},", width) for part in parts]
    return "\n".join([line[: i + 1], *inner, indent + line[j:]])
