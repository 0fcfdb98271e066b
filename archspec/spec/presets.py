"""The shipped specs: ``specs/*.yaml`` in the repository, ``archspec/specs`` in a wheel."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}")

_PACKAGE = Path(__file__).resolve().parent.parent


@cache
def preset_dir() -> Path:
    """Where the preset YAML files are: inside the installed package, or (in an editable
    install) the repository's top-level ``specs/``."""
    for candidate in (_PACKAGE / "specs", _PACKAGE.parent / "specs"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("archspec's preset directory is missing from this install")


def presets() -> list[str]:
    """Names of the shipped specs, sorted.

    Example::

        >>> "resnet50" in archspec.presets()
        True
    """
    return sorted(p.stem for p in preset_dir().glob("*.yaml"))


def preset_path(name: str) -> Path | None:
    """The file of preset ``name``, or None if there is no such preset."""
    # Only a plain name, never a path: "../x" or "/etc/x" must not reach the file system.
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return None
    path = preset_dir() / f"{name}.yaml"
    return path if path.is_file() else None
