"""The shipped specs: ``specs/*.yaml`` in the repository, ``archspec/specs`` in a wheel."""

from __future__ import annotations

from functools import cache
from pathlib import Path

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
    path = preset_dir() / f"{name}.yaml"
    return path if name and "/" not in name and path.is_file() else None
