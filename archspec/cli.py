"""The ``archspec`` command line.

Exit codes: 0 success, 1 a spec or graph error (printed in one or two lines, no
traceback), 2 a usage error.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

import archspec
from archspec.errors import ArchSpecError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Build, check and measure neural networks from declarative YAML specs.\n\n"
    "SPEC is a path to a YAML file or the name of a shipped preset (archspec list).\n"
    "Exit codes: 0 ok, 1 a spec or graph error, 2 a usage error.",
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SpecArg = Annotated[str, typer.Argument(help="A YAML file or a preset name.", show_default=False)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a field: PATH=VALUE, e.g. stages.2.depth=23."),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def _load(spec: str, sets: list[str] | None = None) -> archspec.ArchSpec:
    return archspec.load(spec, overrides=sets or None)


def _lower(spec: archspec.ArchSpec, source: str) -> Any:
    try:
        return archspec.lower(spec)
    except archspec.GraphError as exc:
        raise archspec.GraphError(f"{source}: {exc}", shapes=exc.shapes) from None


def _count(n: int) -> str:
    return f"{n:,}"


def _giga(n: int) -> str:
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.3f} {unit}"
    return str(n)


@app.command("list")
def list_presets() -> None:
    """List the shipped preset specs, with their parameter counts.

    Example: archspec list
    """
    from archspec.graph.stats import graph_stats

    table = Table("preset", "params", "description", box=None, pad_edge=False)
    for name in archspec.presets():
        spec = archspec.load(name)
        table.add_row(
            name,
            _count(graph_stats(archspec.lower(spec)).params),
            spec.description.split("(")[0].strip(),
        )
    out.print(table)


@app.command()
def validate(
    specs: Annotated[list[str], typer.Argument(help="YAML files or preset names.")],
    sets: SetOpt = None,
) -> None:
    """Check specs through shape inference, without allocating weights.

    Example: archspec validate my_net.yaml resnet50 --set stages.0.depth=2
    """
    failed = 0
    for source in specs:
        try:
            spec = _load(source, sets)
            graph = _lower(spec, source)
            shape = graph.graph["output_shape"]
            out.print(
                f"ok: {source} ({spec.name}, {graph.number_of_nodes()} ops, output {tuple(shape)})",
                markup=False,
            )
        except ArchSpecError as exc:
            err.print(f"error: {exc}", markup=False)
            failed += 1
    if failed:
        raise typer.Exit(1)


@app.command()
def summary(
    spec: SpecArg,
    sets: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Parameters, MACs and FLOPs of a spec, counted analytically from shapes.

    MACs count one multiply-add as one (torchvision's "GFLOPS", torchinfo's "mult-adds");
    FLOPs count it as two. Both cover convolutions and linear layers.

    Example: archspec summary resnet50 --json
    """
    from archspec.graph.stats import graph_stats

    loaded = _load(spec, sets)
    stats = graph_stats(_lower(loaded, spec))
    if as_json:
        record = {
            "name": stats.name,
            "arch_id": loaded.arch_id,
            "params": stats.params,
            "trainable_params": stats.trainable_params,
            "macs": stats.macs,
            "flops": stats.flops,
            "input_size": [1, *stats.input_shape],
            "output_size": [1, *stats.output_shape],
            "activations": stats.activations,
            "stages": stats.per_stage,
            "uncounted_ops": list(stats.uncounted),
        }
        out.print_json(json.dumps(record))
        return
    table = Table(
        title=f"{stats.name}  (input 1x{'x'.join(map(str, stats.input_shape))})",
        box=None,
        pad_edge=False,
        title_justify="left",
    )
    table.add_column("part")
    table.add_column("params", justify="right")
    table.add_column("MACs", justify="right")
    for part, row in stats.per_stage.items():
        if part != "input":
            table.add_row(part, _count(row["params"]), _giga(row["macs"]))
    out.print(table)
    out.print(f"params     {_count(stats.params)}  (trainable {_count(stats.trainable_params)})")
    out.print(f"MACs       {_count(stats.macs)}  ({_giga(stats.macs)}; one multiply-add = 1)")
    out.print(f"FLOPs      {_count(stats.flops)}  ({_giga(stats.flops)}; = 2 x MACs)")
    out.print(f"output     1x{'x'.join(map(str, stats.output_shape))}")
    out.print(
        f"not in MACs: {', '.join(stats.uncounted)} (convs and linear layers only, as "
        "torchvision counts)",
        markup=False,
    )


@app.command()
def build(
    spec: SpecArg,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write a torch.export program (.pt2).")
    ] = None,
    sets: SetOpt = None,
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible initial weights.")] = None,
) -> None:
    """Build the PyTorch model of a spec; with -o model.pt2, save it as a torch.export
    program (load it back with torch.export.load).

    Example: archspec build resnet50 -o resnet50.pt2 --seed 0
    """
    if output is not None and output.suffix != ".pt2":
        raise fail(f"{output}: the output must end in .pt2 (a torch.export program)", 2)
    loaded = _load(spec, sets)
    graph = _lower(loaded, spec)
    from archspec.codegen.torch_module import build_module

    start = time.perf_counter()
    model = build_module(graph, seed=seed)
    params = sum(p.numel() for p in model.parameters())
    out.print(
        f"built {loaded.name}: {_count(params)} params in {time.perf_counter() - start:.2f} s",
        markup=False,
    )
    if output is not None:
        import torch

        from archspec.files import atomic_path

        start = time.perf_counter()
        example = torch.zeros(1, *graph.graph["input_shape"])
        with err.status(f"exporting {loaded.name}..."):
            program = torch.export.export(model.eval(), (example,))
            with atomic_path(output) as tmp:
                torch.export.save(program, tmp)
        out.print(
            f"wrote {output} ({output.stat().st_size / 2**20:.1f} MiB) in "
            f"{time.perf_counter() - start:.1f} s",
            markup=False,
        )


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """Print the JSON Schema of the spec language (for editors).

    Example: archspec schema -o archspec.schema.json
    """
    from archspec.spec.schema import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    from archspec.files import atomic_write

    atomic_write(output, text)
    out.print(f"wrote {output}", markup=False)


@app.command("gradflow")
def gradflow_command(
    specs: Annotated[list[str], typer.Argument(help="YAML files or preset names.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the plot (.png, .svg, .pdf).")
    ] = None,
    input_size: Annotated[
        str | None,
        typer.Option("--input-size", help="Input size, 32 or HxW (default: the spec's)."),
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
    if output is not None and not output.resolve().parent.is_dir():
        raise fail(f"{output}: no such directory {output.parent}")
    size: int | list[int] | None = None
    if input_size is not None:
        parts = input_size.lower().split("x")
        if not all(p.isdigit() for p in parts) or len(parts) > 2:
            raise fail(f"--input-size is N or HxW (e.g. 32 or 32x48), got {input_size!r}", 2)
        size = int(parts[0]) if len(parts) == 1 else [int(p) for p in parts]
    # Every spec is read before torch is imported: a typo fails at once.
    loaded = [(source, _load(source)) for source in specs]
    from archspec.analysis.gradflow import gradflow
    from archspec.analysis.gradflow_plot import plot_gradflow

    results = []
    for source, spec in loaded:
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


def main() -> None:
    """Entry point: run the app, turning archspec's errors into one-line messages."""
    try:
        app()
    except ArchSpecError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    except OSError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("ARCHSPEC_DEBUG"):
            raise
        err.print(
            f"internal error: {type(exc).__name__}: {exc} (set ARCHSPEC_DEBUG=1 for the traceback)",
            markup=False,
        )
        sys.exit(3)


if __name__ == "__main__":
    main()
