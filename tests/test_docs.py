"""The docs cannot drift: the generated reference matches the code that generates it,
and the README's example is about the spec it shows (tests/test_docs_examples.py runs
every example)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

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


def test_extending_names_every_setting_a_block_config_brings() -> None:
    from archspec.blocks import BlockConfig

    page = (DOCS / "extending.md").read_text()
    start = page.index("which brings the settings every block takes:")
    brought = re.sub(r"\s+", " ", page[start : page.index("Its `block` field", start)])
    named = set(re.findall(r"`(\w+)`", brought))
    assert named == set(BlockConfig.model_fields) - {"block"}, "docs/extending.md"


def test_readme_python_example_names_its_files_after_its_spec() -> None:
    """The README's Python example works on the spec it loads last (tiny.yaml, the spec
    written above it), and every file it writes is named after that spec. That it runs
    is tests/test_docs_examples.py's job."""
    readme = (ROOT / "README.md").read_text()
    spec_yaml = re.findall(r"```yaml\n(.*?)```", readme, re.S)[0]
    name = re.search(r"^name: (\S+)$", spec_yaml, re.M)[1]
    (code,) = re.findall(r"```python\n(.*?)```", readme, re.S)
    files = re.findall(r'"([\w./-]+\.(?:svg|png|pdf|dot|mmd|html|pt2?|onnx|safetensors))"', code)
    assert files, "the example writes no file?"
    assert all(Path(f).stem == name for f in files), (name, files)


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
