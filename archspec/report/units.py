"""How numbers are written in reports: exact counts with thousands separators, and
short forms with an SI prefix (``4.089 G``), so a row can show both.

Example::

    count(25557032)   # '25,557,032'
    short(4089184256) # '4.089 G'
    shape((1, 3, 224, 224))  # '1x3x224x224'
"""

from __future__ import annotations

from collections.abc import Sequence

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))


def count(n: int) -> str:
    """An exact count: ``25,557,032``."""
    return f"{n:,}"


def short(n: float) -> str:
    """Three decimals and an SI prefix: ``4.089 G``; small numbers as they are."""
    for scale, prefix in _PREFIXES:
        if abs(n) >= scale:
            return f"{n / scale:.3f} {prefix}"
    return f"{n:g}"


def shape(dims: Sequence[int]) -> str:
    """A tensor shape as written on the command line: ``1x3x224x224``."""
    return "x".join(str(d) for d in dims)


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1x3x224x224"`` (or with ``,`` or ``*``) -> ``(1, 3, 224, 224)``.

    Raises ``ValueError`` with a readable message for anything else.
    """
    parts = text.lower().replace("×", "x").replace(",", "x").replace("*", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"{text!r} is not a shape like 1x3x224x224") from None
    if any(d < 1 for d in dims):
        raise ValueError(f"{text!r}: every dimension must be at least 1")
    return dims
