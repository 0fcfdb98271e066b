"""Third-party block types: the tiny package under tests/plugins/ declares one in the
``archspec.blocks`` entry-point group. It is installed into a temporary directory (never
into the environment the rest of the suite runs in) and a fresh interpreter with that
directory on its path validates, counts, builds and runs a spec that uses it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import pip

PLUGIN = Path(__file__).parent / "plugins" / "archspec_twin_block"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("plugin")
    # --no-build-isolation: hatchling comes with the dev extra, so nothing is fetched
    pip("install", "--no-build-isolation", "--target", target, PLUGIN)
    return target


def run_with_plugin(plugin_path: Path, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(plugin_path)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )


BUILD = """
import json, sys, torch, archspec
from archspec.blocks import blocks
from archspec.spec.load import from_data
from archspec.spec.schema import markdown_reference

spec = from_data({
    "name": "twins",
    "input": {"channels": 3, "size": 16},
    "stem": "cifar",
    "defaults": {"block": "twin", "skip": "gated"},
    "stages": [{"depth": 2, "width": 16}, {"depth": 1, "width": 32, "stride": 2}],
    "head": {"classes": 4},
})
model = archspec.build(spec, seed=0)
out = model(torch.randn(2, 3, 16, 16))
out.sum().backward()
print(json.dumps({
    "registered": "twin" in blocks(),
    "params": archspec.stats(spec).params,
    "built": sum(p.numel() for p in model.parameters()),
    "shape": list(out.shape),
    "modules": sorted(n for n, _ in model.named_modules() if n.startswith("layer1.0.")),
    "documented": "### `block: twin`" in markdown_reference(),
}))
"""


def test_plugin_block_type_builds_and_runs(plugin_path: Path) -> None:
    proc = run_with_plugin(plugin_path, BUILD)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["registered"] and result["documented"]
    assert result["shape"] == [2, 4]
    assert result["params"] == result["built"]
    # stem 3->16; two twin blocks of 16 and one of 32, each with its gate; the last one
    # changes shape, so its carry is a projection (conv + norm)
    twin = lambda c_in, w: 2 * 9 * c_in * w + 2 * w + c_in * w + w  # noqa: E731
    expected = (
        9 * 3 * 16 + 2 * 16
        + twin(16, 16) * 2
        + twin(16, 32) + 16 * 32 + 2 * 32
        + 32 * 4 + 4
    )  # fmt: skip
    assert result["params"] == expected
    assert {"layer1.0.left", "layer1.0.right", "layer1.0.bn", "layer1.0.gate"} <= set(
        result["modules"]
    )


def test_without_the_plugin_the_name_is_unknown() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from archspec.spec.load import from_data\n"
            "from_data({'name': 't', 'input': {}, 'defaults': {'block': 'twin'},"
            " 'stages': [{'depth': 1, 'width': 8}], 'head': {'classes': 2}})",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "unknown block type 'twin'" in proc.stderr


GUIDE = Path(__file__).resolve().parent.parent / "docs" / "extending.md"


def test_the_guide_shows_this_plugin_and_its_yaml_builds(plugin_path: Path) -> None:
    """docs/extending.md's code is the plugin's, and its spec builds with it installed."""
    text = GUIDE.read_text()
    code, _ = re.findall(r"```python\n(.*?)```", text, re.S)
    source = (PLUGIN / "archspec_twin_block" / "__init__.py").read_text()
    body = source.split('"""', 2)[2].replace("from __future__ import annotations\n", "")
    assert code.strip() == body.strip()
    (spec_yaml,) = re.findall(r"```yaml\n(.*?)```", text, re.S)
    proc = run_with_plugin(
        plugin_path,
        f"import torch, archspec\nspec = archspec.ArchSpec.from_yaml({spec_yaml!r})\n"
        "y = archspec.build(spec, seed=0)(torch.randn(2, 3, 32, 32))\n"
        "print(spec.blocks[0].block, tuple(y.shape))",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["twin", "(2,", "10)"]


def test_the_plugin_passes_the_block_author_check(plugin_path: Path) -> None:
    """The guide's check, run as written against the installed plugin."""
    _, check = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    proc = run_with_plugin(plugin_path, check + "\ntest_twin_block()\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
