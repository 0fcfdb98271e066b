"""The docs cannot drift: the generated reference matches the code that generates it,
and the README's example runs as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec.spec.schema import json_schema, markdown_reference

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_spec_reference_is_up_to_date() -> None:
    written = (DOCS / "spec.md").read_text()
    assert written == markdown_reference(), "docs/spec.md is stale: run `make docs`"


def test_schema_file_is_up_to_date() -> None:
    written = json.loads((DOCS / "archspec.schema.json").read_text())
    assert written == json_schema(), "docs/archspec.schema.json is stale: run `make docs`"


def test_reference_covers_every_block_type_and_skip() -> None:
    from archspec.blocks import blocks
    from archspec.blocks.skips import DOWNSAMPLES, SKIPS

    text = markdown_reference()
    for name in blocks():
        assert f"### `block: {name}`" in text
    for name in [*SKIPS, *DOWNSAMPLES]:
        assert f"| `{name}` |" in text


@pytest.mark.slow
def test_readme_first_spec_and_python_example_run(tmp_path: Path) -> None:
    """The README's hand-written spec validates, and its Python example runs as written
    (in a fresh interpreter, in a directory holding that spec as tiny.yaml)."""
    readme = (ROOT / "README.md").read_text()
    spec_yaml = re.findall(r"```yaml\n(.*?)```", readme, re.S)[0]
    (tmp_path / "tiny.yaml").write_text(spec_yaml)
    (code,) = re.findall(r"```python\n(.*?)```", readme, re.S)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "resnet50.svg").stat().st_size > 0
    assert (tmp_path / "resnet50.pt").stat().st_size > 0


def test_norms_page_examples_run(tmp_path: Path) -> None:
    """docs/norms.md: its Python block runs as written in a fresh interpreter and prints
    what its comments say; every YAML spec validates; the example drawn is the file."""
    page = (DOCS / "norms.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", page, re.S)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    expected = [line.split("  # ")[1] for line in code.splitlines() if line.startswith("print(")]
    assert proc.stdout.splitlines() == expected
    specs = {}
    for text in re.findall(r"```yaml\n(.*?)```", page, re.S):
        spec = archspec.ArchSpec.from_yaml(text)
        archspec.stats(spec)
        specs[spec.name] = spec
    example = archspec.load(ROOT / "examples" / "norms" / "resnet18_gn_os8.yaml")
    assert specs["resnet18_gn_os8"].arch_id == example.arch_id
    tv_os8 = archspec.load(ROOT / "examples" / "dilation" / "resnet50_os8.yaml")
    assert specs["resnet50_os8"].arch_id == tv_os8.arch_id


@pytest.mark.slow
def test_backbone_page_examples_run(tmp_path: Path) -> None:
    """docs/backbones.md: every Python block runs as written, each in a fresh interpreter;
    its YAML spec validates and summarizes through the commands."""
    page = (DOCS / "backbones.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    assert len(blocks) == 3
    for code in blocks:
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
    (spec_yaml,) = re.findall(r"```yaml\n(.*?)```", page, re.S)
    (tmp_path / "backbone.yaml").write_text(spec_yaml)
    for args in (["validate", "backbone.yaml"], ["summary", "backbone.yaml", "--depth", "1"]):
        proc = subprocess.run(
            [sys.executable, "-m", "archspec.cli", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert "layer3 1x1024x14x14" in proc.stdout.replace("×", "x")
