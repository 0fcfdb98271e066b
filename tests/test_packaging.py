"""The wheel carries the presets inside the package, so a plain install finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import pip

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    pip("wheel", "--no-build-isolation", "-w", out, ROOT)
    (found,) = out.glob("archspec-*.whl")
    return found


def test_wheel_ships_every_preset(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for spec in (ROOT / "specs").glob("*.yaml"):
        assert f"archspec/specs/{spec.name}" in names
    assert "archspec/cli/__init__.py" in names
    for asset in ("viewer.html", "viewer.js", "viewer.css"):  # the HTML viewer's page
        assert f"archspec/render/{asset}" in names


def test_installed_wheel_loads_presets(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    pip("install", "--target", target, wheel)
    code = (
        f"import sys; sys.path.insert(0, {str(target)!r}); import archspec; "
        "assert archspec.__file__.startswith(sys.path[0]), archspec.__file__; "
        "print(len(archspec.presets()), archspec.stats('resnet50').params)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    count, params = result.stdout.split()
    assert int(count) == len(list((ROOT / "specs").glob("*.yaml")))
    assert int(params) == 25_557_032
