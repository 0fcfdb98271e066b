"""Regenerate docs/spec.md (the spec language reference) and docs/archspec.schema.json
from the pydantic models. Run: make docs."""

from __future__ import annotations

import json
from pathlib import Path

from archspec.files import atomic_write
from archspec.spec.schema import json_schema, markdown_reference

DOCS = Path(__file__).resolve().parent.parent / "docs"

if __name__ == "__main__":
    atomic_write(DOCS / "spec.md", markdown_reference())
    atomic_write(DOCS / "archspec.schema.json", json.dumps(json_schema(), indent=2) + "\n")
    print(f"wrote {DOCS / 'spec.md'} and {DOCS / 'archspec.schema.json'}")
