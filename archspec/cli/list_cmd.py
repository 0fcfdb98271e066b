"""`archspec list`: the shipped presets."""

from __future__ import annotations

import archspec
from archspec.cli.common import _count, _each, app


@app.command("list")
def list_presets() -> None:
    """List the shipped presets, with their params and MACs.

    \b
    Examples:
      archspec list
      archspec list | grep resnet
    """
    from archspec.graph.stats import graph_stats
    from archspec.report.console import print_table
    from archspec.report.units import short

    rows = []
    for name in _each(archspec.presets(), "counting the presets"):
        spec = archspec.load(name)
        stats = graph_stats(archspec.lower(spec))
        rows.append([name, _count(stats.params), short(stats.macs), spec.description.strip()])
    # Descriptions whole: wrapped to the terminal (or COLUMNS), never cut.
    columns = ["preset", "params", "MACs", "description"]
    print_table(columns, rows, right={"params", "MACs"}, wrap="description")
