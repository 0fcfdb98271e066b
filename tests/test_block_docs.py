"""docs/blocks/: every page's YAML validates, and every count its tables state is the
one archspec computes, so the worked arithmetic cannot drift from the code. Every block
type and skip kind archspec ships has its page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import archspec
from archspec.blocks import blocks
from archspec.blocks.skips import DOWNSAMPLES, SKIPS

PAGES = sorted((Path(__file__).resolve().parent.parent / "docs" / "blocks").glob("*.md"))
FENCE = re.compile(r"```yaml\n(.*?)```", re.S)
ROW = re.compile(r"^\| `([\w.-]+)` \| ([\d,]+) \| ([\d,]+) \|$", re.M)
BUILT_IN = ("basic", "bottleneck", "preact", "resnext", "dense", "highway", "video", "csp")


def _specs(text: str) -> dict[str, archspec.ArchSpec]:
    specs = {}
    for block in FENCE.findall(text):
        spec = archspec.ArchSpec.from_yaml(block)
        specs[spec.name] = spec
    return specs


def test_pages_exist() -> None:
    assert len(PAGES) >= 8


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_yaml_and_numbers(page: Path) -> None:
    text = page.read_text()
    specs = _specs(text)
    for name, spec in specs.items():
        if name in archspec.presets():
            # a page's YAML is the preset (or the part of it that differs)
            assert spec.arch_id == archspec.load(name).arch_id, name
    rows = ROW.findall(text)
    if page.name != "README.md":
        assert rows, f"{page.name} states no counts"
    for name, params, macs in rows:
        stats = archspec.stats(specs.get(name) or name)
        assert (f"{stats.params:,}", f"{stats.macs:,}") == (params, macs), name


def test_every_block_type_and_skip_kind_has_its_page() -> None:
    text = "\n".join(p.read_text() for p in PAGES)
    for name in BUILT_IN:
        assert name in blocks()
        assert f"block: {name}" in text, name
    for name in SKIPS:
        if name not in ("identity", "projection", "pad", "none"):
            assert f"skip: {name}" in text, name
    for name in DOWNSAMPLES:
        if name not in ("projection", "pad"):
            assert f"downsample: {name}" in text, name
