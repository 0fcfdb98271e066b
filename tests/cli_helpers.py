"""Running the real ``archspec`` command line in a fresh interpreter, as a user would,
and the tiny specs the command tests feed it (imported as ``cli_helpers``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from helpers import assert_clean_failure, run_cli

# One runner and one failure check for every CLI test (tests/helpers.py holds them).
archspec_cli = run_cli
assert_fails_cleanly = assert_clean_failure


def tiny_spec_data(
    block: str = "basic", *, skip: str | None = None, name: str = "tiny", **defaults: Any
) -> dict[str, Any]:
    """Two stages of two blocks on a 16x16 input; the second stage halves the size and
    doubles the width, so its first block changes shape."""
    extra = {"skip": skip} if skip else {}
    return {
        "name": name,
        "input": {"channels": 3, "size": 16},
        "stem": {"type": "cifar", "width": 8},
        "defaults": {"block": block, **extra, **defaults},
        "stages": [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}],
        "head": {"classes": 5},
    }


def write_spec(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
