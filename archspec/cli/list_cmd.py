"""`archspec list`: the shipped presets."""

from __future__ import annotations

import archspec
from archspec.cli.common import _count, app


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
    for name in archspec.presets():
        spec = archspec.load(name)
        stats = graph_stats(archspec.lower(spec))
        rows.append(
            [name, _count(stats.params), short(stats.macs), spec.description.split("(")[0].strip()]
        )
    print_table(["preset", "params", "MACs", "description"], rows, right={"params", "MACs"})
