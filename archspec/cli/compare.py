"""`archspec compare`: several specs side by side."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from archspec.cli.common import _each, _load, _lower, app, complete_spec, fail, out


@app.command()
def compare(
    specs: Annotated[
        list[str],
        typer.Argument(
            metavar="SPECS",
            help="Two or more YAML files or preset names.",
            autocompletion=complete_spec,
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Compare specs side by side: params, MACs, depth, output shape.

    A column per spec; rows: params, MACs, FLOPs, depth (weighted layers on the longest
    path), blocks, input and output shapes. All counted from shapes, for one sample.

    \b
    Examples:
      archspec compare resnet18 resnet34 resnet50
      archspec compare resnet56 plain56 --json
    """
    from archspec.report.compare import compare_rows, side_by_side
    from archspec.report.console import print_table

    if len(specs) < 2:
        raise fail("compare needs at least two specs", 2)
    rows = compare_rows([_lower(_load(s), s) for s in _each(specs, "counting the specs")])
    if as_json:
        out.print_json(json.dumps([r.to_json() for r in rows]))
        return
    names = [r.name for r in rows]
    columns, table = side_by_side(rows, labels=names if len(set(names)) == len(names) else specs)
    print_table(columns, table, right=set(columns[1:]))
