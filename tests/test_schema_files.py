"""The JSON Schema (docs/archspec.schema.json, `archspec schema`) accepts every shipped
preset and every spec shown in the docs, those that use `extends:` among them, and
still refuses a complete spec that leaves out a required key."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from docs_blocks import ROOT, pages, yaml_specs

from archspec.spec.schema import json_schema

VALIDATOR = jsonschema.Draft202012Validator(json_schema())
PRESETS = sorted((ROOT / "specs").glob("*.yaml"))
# The twin block type exists only once its plugin package is installed.
PLUGIN_SPECS = {"twins"}


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_every_preset_file_validates(path: Path) -> None:
    errors = [e.message for e in VALIDATOR.iter_errors(yaml.safe_load(path.read_text()))]
    assert not errors, errors


def test_docs_specs_validate() -> None:
    checked = 0
    for page in pages():
        for block in yaml_specs(page):
            data = yaml.safe_load(block.body)
            if data.get("name") in PLUGIN_SPECS:
                continue
            errors = [e.message for e in VALIDATOR.iter_errors(data)]
            assert not errors, (block.where, errors)
            checked += 1
    assert checked >= 10


def test_extends_makes_the_rest_optional_but_a_complete_spec_needs_it() -> None:
    assert VALIDATOR.is_valid({"extends": "resnet20", "name": "mine"})
    assert (ROOT / "specs" / "plain20.yaml").read_text().count("extends:") == 1
    assert not VALIDATOR.is_valid({"name": "x", "input": {"channels": 3, "size": 32}})
    assert not VALIDATOR.is_valid({"extends": "resnet20", "widht": 3})
