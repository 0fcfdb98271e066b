"""`archspec schema`: the JSON Schema of the spec language."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from archspec.cli.common import app, err, out


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """Print the JSON Schema of the spec language, for editors.

    With the line
    "# yaml-language-server: $schema=archspec.schema.json" at the top of a spec, VS Code's
    YAML extension completes and checks it as you type.

    \b
    Examples:
      archspec schema -o archspec.schema.json
      archspec schema | jq '.properties | keys'
    """
    from archspec.spec.schema import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    from archspec.files import atomic_write

    atomic_write(output, text)
    out.print(f"wrote {output}", markup=False)
    err.print(
        f"for completion in VS Code, start a spec with: # yaml-language-server: $schema={output}",
        markup=False,
    )
