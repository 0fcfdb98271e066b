"""`archspec validate`: check specs without building them."""

from __future__ import annotations

from typing import Annotated

import typer

from archspec.cli.common import SetOpt, _each, _load, _lower, _shadows, app, complete_spec, err, out
from archspec.errors import ArchSpecError


@app.command()
def validate(
    specs: Annotated[
        list[str],
        typer.Argument(
            metavar="SPECS", help="YAML files or preset names.", autocompletion=complete_spec
        ),
    ],
    sets: SetOpt = None,
    every: Annotated[
        bool, typer.Option("--all", "-a", help="List every problem of a spec, not the first.")
    ] = False,
) -> None:
    """Check specs through shape inference, without allocating weights.

    A spec with several mistakes reports the first, with a count of the others; --all
    lists each on its own line. A file that has the name of a preset is read, not the
    preset, and the ok line says so.

    \b
    Examples:
      archspec validate my_net.yaml resnet50 --set stages.0.depth=2
      archspec validate --all my_net.yaml
    """
    from archspec.errors import SpecError

    failed = 0
    for source in _each(specs, "validating"):
        try:
            spec = _load(source, sets)
            graph = _lower(spec, source, sets)
            shapes = graph.graph["output_shapes"]
            output = ", ".join(str(tuple(s)) for s in shapes)
            shadow = " (a file, not the preset of that name)" if _shadows(source) else ""
            out.print(
                f"ok: {source}{shadow} ({spec.name}, {graph.number_of_nodes()} ops, "
                f"output{'s' if len(shapes) > 1 else ''} {output})",
                markup=False,
            )
        except ArchSpecError as exc:
            problems = exc.problems if every and isinstance(exc, SpecError) else (exc,)
            for problem in problems:
                err.print(f"error: {problem}", markup=False)
            failed += 1
    if failed:
        raise typer.Exit(1)
