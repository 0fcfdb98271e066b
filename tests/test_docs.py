"""The generated reference must match the code that generates it."""

from __future__ import annotations

import json
from pathlib import Path

from archspec.spec.schema import json_schema, markdown_reference

DOCS = Path(__file__).resolve().parent.parent / "docs"


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
