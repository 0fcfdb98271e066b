"""`archspec gradflow`: gradient norms per block at initialization."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

import archspec
from archspec.cli.common import _each, _load_for_writing, app, complete_spec, err, fail, out


@app.command("gradflow")
def gradflow_command(
    specs: Annotated[
        list[str],
        typer.Argument(
            metavar="SPECS", help="YAML files or preset names.", autocompletion=complete_spec
        ),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the plot (.png, .svg, .pdf).")
    ] = None,
    input_size: Annotated[
        str | None,
        typer.Option(
            "--input-size",
            metavar="SIZE",
            help="Input size: 32 or HxW, L or DxHxW for another rank (default: the spec's).",
        ),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Inputs in the batch.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the weights, inputs and labels.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print every block's numbers.")] = False,
) -> None:
    """Gradient norms at each block's output and on each block's parameters, at
    initialization (one backward pass, random inputs and labels); with -o, plot the specs
    side by side.

    Example: archspec gradflow plain56 resnet56 -o gradflow.png
    """
    if output is not None and output.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise fail(f"{output}: the plot must end in .png, .svg or .pdf", 2)
    size: int | list[int] | None = None
    if input_size is not None:
        parts = input_size.lower().split("x")
        if not all(p.isdigit() for p in parts) or len(parts) > 3:
            raise fail(
                f"--input-size is N, HxW or DxHxW (e.g. 32, 32x48, 8x32x32), got {input_size!r}",
                2,
            )
        size = int(parts[0]) if len(parts) == 1 else [int(p) for p in parts]
    # Every spec is read before torch is imported: a typo fails at once.
    loaded = [(source, _load_for_writing(source, None, [output])) for source in specs]
    from archspec.analysis.gradflow import gradflow
    from archspec.analysis.gradflow_plot import plot_gradflow

    results = []
    for source, spec in _each(loaded, "backward passes"):
        try:
            result = gradflow(spec, input_size=size, batch=batch, seed=seed)
        except archspec.GraphError as exc:
            raise archspec.GraphError(f"{source}: {exc}", shapes=exc.shapes) from None
        results.append(result)
        if not as_json and result.blocks:
            first, last = result.blocks[0], result.blocks[-1]
            out.print(
                f"{result.name}: {len(result.blocks)} blocks, loss {result.loss:.3f}; "
                "first block / last block: output grad "
                f"{first.output_grad_norm:.3g} / {last.output_grad_norm:.3g}, "
                f"param grad {first.param_grad_norm:.3g} / {last.param_grad_norm:.3g}",
                markup=False,
            )
    if as_json:
        out.print_json(json.dumps([r.to_dict() for r in results]))
    if output is not None:
        plot_gradflow(results, output)
        (err if as_json else out).print(f"wrote {output}", markup=False)
