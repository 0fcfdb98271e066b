"""The ``archspec`` command line.

Exit codes: 0 success, 1 a spec or graph error (printed in one or two lines, no
traceback), 2 a usage error, 3 an internal error. A command is one function; tables
go through :mod:`archspec.report.console` (rich on a terminal, plain text in a pipe).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

import archspec
from archspec.errors import ArchSpecError
from archspec.report.console import SafeConsole

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Build, check and measure neural networks from declarative YAML specs.\n\n"
    "SPEC is a path to a YAML file or the name of a shipped preset (archspec list). "
    "Tables are rich on a terminal and plain text when piped.\n\n"
    "\b\nExamples:\n"
    "  archspec validate my_net.yaml\n"
    "  archspec summary resnet50 --input 1x3x224x224\n"
    "  archspec render resnet50 -o resnet50.svg --detail block\n"
    "  archspec build resnet50 --seed 0 -o resnet50.pt --emit-python resnet50.py\n"
    "  archspec compare resnet56 plain56\n\n"
    "\b\nExit codes:\n"
    "  0  ok\n"
    "  1  a spec or graph error, or a file that cannot be read or written\n"
    "     (one or two lines on stderr, no traceback)\n"
    "  2  a usage error: an unknown option, a bad value, a wrong file suffix\n"
    "  3  an internal error (a bug: please report it; ARCHSPEC_DEBUG=1 shows the traceback)",
)
# Every line printed goes through SafeConsole: user text in it is shown escaped.
out = SafeConsole(highlight=False, soft_wrap=True)
err = SafeConsole(stderr=True, highlight=False, soft_wrap=True)

SpecArg = Annotated[str, typer.Argument(help="A YAML file or a preset name.", show_default=False)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a field: PATH=VALUE, e.g. stages.2.depth=23."),
]


class Detail(StrEnum):
    """How much a diagram shows."""

    stage = "stage"
    block = "block"
    layer = "layer"


def _detail(text: str) -> Detail:
    # typer's own enum check words its refusal as a pydantic "Value error, ..."
    try:
        return Detail(text.strip().lower())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not one of {', '.join(Detail)}") from None


def _progress(message: str) -> contextlib.AbstractContextManager[None]:
    """A spinner on stderr for work that takes longer than a second."""
    from archspec.report.console import progress

    return progress(message)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def _load(spec: str, sets: list[str] | None = None) -> archspec.ArchSpec:
    return archspec.load(spec, overrides=sets or None)


def _load_for_writing(
    spec: str, sets: list[str] | None, outputs: list[Path | None]
) -> archspec.ArchSpec:
    """Load ``spec``, refusing outputs that are files it reads (the spec, its extends
    chain) or that are unwritable: checked before any work, so nothing is lost."""
    from archspec.files import refuse_overwriting, writable_target
    from archspec.spec.load import load_with_files

    for path in outputs:
        if path is not None:
            writable_target(path)
    loaded, read = load_with_files(spec, overrides=sets or None)
    refuse_overwriting(outputs, read)
    return loaded


def _shadows(source: str) -> bool:
    """Whether SPEC names both a file and a preset (the file wins)."""
    from archspec.spec.presets import preset_path

    return preset_path(source) is not None and Path(source).is_file()


def _lower(spec: archspec.ArchSpec, source: str, sets: list[str] | None = None) -> Any:
    from archspec.spec.load import with_stage_line

    try:
        return archspec.lower(spec)
    except archspec.GraphError as exc:
        exc = with_stage_line(exc, source, sets or None)  # where the stage is written
        raise archspec.GraphError(f"{source}: {exc}", shapes=exc.shapes) from None


def _count(n: int) -> str:
    return f"{n:,}"


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


@app.command()
def validate(
    specs: Annotated[list[str], typer.Argument(help="YAML files or preset names.")],
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
    for source in specs:
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


@app.command()
def summary(
    spec: SpecArg,
    input_size: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="Input N x C x H x W (or C x H x W), e.g. 8x3x160x160; default 1 x the spec's.",
        ),
    ] = None,
    depth: Annotated[
        int, typer.Option("--depth", "-d", min=0, help="Module levels in torchinfo's table.")
    ] = 3,
    sets: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Params, MACs and FLOPs: torchinfo's layer table and the analytic totals.

    torchinfo runs a forward pass on the meta device (no weights are allocated, so even
    resnet1202 takes seconds); the totals are computed from shapes, per stage.

    MACs count one multiply-add as one, over convolutions and linear layers (torchvision's
    "GFLOPS"); FLOPs count it as two (torch.utils.flop_counter). torchinfo's "mult-adds"
    also count biases and norm weights; the difference is shown. Ops outside the MAC
    convention (norms, activations, pools, adds) are listed, not counted as zero.

    \b
    Examples:
      archspec summary resnet50
      archspec summary resnet50 --input 8x3x160x160 --depth 1
      archspec summary resnet1202 --json | jq .macs
    """
    from archspec.arguments import check_input_size
    from archspec.report.summary import summarize
    from archspec.report.units import parse_shape

    try:
        dims = check_input_size(parse_shape(input_size)) if input_size is not None else None
    except ValueError as exc:  # ArchSpecError is one
        raise fail(f"--input: {exc}", 2) from None
    loaded, batch = archspec.with_input_size(_load(spec, sets), dims)
    with _progress(f"summarizing {loaded.name}"):
        report = summarize(_lower(loaded, spec, sets), batch=batch, depth=depth)
    if as_json:
        out.print_json(json.dumps(report.to_json()))
        return
    _print_summary(report)


def _print_summary(report: Any) -> None:
    from archspec.report.console import print_table
    from archspec.report.units import count, shape, short

    if report.torchinfo_table:
        sys.stdout.write(f"torchinfo ({report.torchinfo_device} device)\n")
        sys.stdout.write(report.torchinfo_table.rstrip("\n") + "\n\n")
    for note in report.notes:
        err.print(f"note: {note}", markup=False)
    rows = [
        [p.name, count(p.params), short(p.macs), short(p.flops), shape(p.output_size)]
        for p in report.stages
    ]
    print_table(
        ["part", "params", "MACs", "FLOPs", "output"],
        rows,
        title=f"{report.name}: input {shape(report.input_size)}, output "
        + (
            ", ".join(f"{f['module']} {shape(f['output_size'])}" for f in report.features)
            if report.features
            else shape(report.output_size)
        ),
        right={"params", "MACs", "FLOPs"},
    )
    lines = [
        ("params", f"{count(report.params)}  (trainable {count(report.trainable_params)})"),
        (
            "MACs",
            f"{count(report.macs)}  ({short(report.macs)}; 1 multiply-add = 1 MAC, convs "
            "and linear layers, as torchvision counts)",
        ),
        ("FLOPs", f"{count(report.flops)}  ({short(report.flops)}; 2 per MAC)"),
    ]
    if report.torchinfo_mult_adds is not None:
        extra = report.torchinfo_mult_adds - report.macs
        agrees = report.torchinfo_mult_adds == report.expected_torchinfo_mult_adds
        lines.append(
            (
                "torchinfo mult-adds",
                f"{count(report.torchinfo_mult_adds)}  (= MACs + {count(extra)} for biases "
                f"and norm weights{'' if agrees else '; NOT what its rules predict'})",
            )
        )
    lines.append(("depth", f"{report.depth} weighted layers on the longest path"))
    if report.uncounted:
        ops = ", ".join(f"{op} ×{n}" for op, n in report.uncounted.items())
        lines.append(("not in MACs", ops))
    width = max(len(k) for k, _ in lines)
    sys.stdout.write("\n" + "".join(f"{k.ljust(width)}  {v}\n" for k, v in lines))


@app.command()
def build(
    spec: SpecArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="model.pt2: a torch.export program; model.pt: the state_dict with the spec.",
        ),
    ] = None,
    emit_python: Annotated[
        Path | None,
        typer.Option(
            "--emit-python", help="Write standalone PyTorch source (needs no archspec) to a .py."
        ),
    ] = None,
    sets: SetOpt = None,
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible initial weights.")] = None,
) -> None:
    """Build the model of a spec; save it as .pt2, .pt or standalone Python.

    -o model.pt2 writes a torch.export program (torch.export.load); -o model.pt the
    state_dict with the spec inside (archspec.load_checkpoint); --emit-python model.py
    source that needs only PyTorch and loads that same state_dict.

    \b
    Examples:
      archspec build resnet50 --seed 0 -o resnet50.pt
      archspec build resnet50 -o resnet50.pt2
      archspec build resnet56 --emit-python resnet56.py -o resnet56.pt --seed 0
      archspec build resnet50 --set stages.2.depth=23 -o resnet101ish.pt
    """
    if output is not None and output.suffix not in (".pt2", ".pt"):
        raise fail(f"{output}: -o takes a .pt2 (torch.export) or .pt (checkpoint) file", 2)
    if emit_python is not None and emit_python.suffix != ".py":
        raise fail(f"{emit_python}: --emit-python takes a .py file", 2)
    from archspec.arguments import check_seed, check_weights_fit

    try:
        check_seed(seed)
    except ArchSpecError as exc:
        raise fail(f"--seed: {exc}", 2) from None
    loaded = _load_for_writing(spec, sets, [output, emit_python])
    graph = _lower(loaded, spec, sets)
    from archspec.files import atomic_file, atomic_write
    from archspec.graph.stats import graph_stats
    from archspec.report.units import short

    if emit_python is not None:
        from archspec.codegen.emit_python import emit_python as emit

        with _progress(f"writing the source of {loaded.name}"):
            atomic_write(emit_python, emit(graph, spec_yaml=loaded.to_yaml()))
        out.print(f"wrote {emit_python} (standalone PyTorch source)", markup=False)
        if output is None:
            return
    from archspec.codegen.torch_module import build_module

    params = graph_stats(graph).params
    import torch

    check_weights_fit(graph, torch.device("cpu"), None)
    start = time.perf_counter()
    with _progress(f"building {loaded.name} ({short(params)} params)"):
        model = build_module(graph, seed=seed)
    out.print(
        f"built {loaded.name}: {_count(params)} params in {time.perf_counter() - start:.2f} s",
        markup=False,
    )
    if output is None:
        return
    start = time.perf_counter()
    if output.suffix == ".pt2":
        # Traced at batch 2 with the batch dimension left free, so the program takes
        # any batch size (a batch of 1 would be specialized to 1).
        example = torch.zeros(2, *graph.graph["input_shape"])
        batch = {"x": {0: torch.export.Dim.DYNAMIC}}
        with _progress(f"exporting {loaded.name}"):
            program = torch.export.export(model.eval(), (example,), dynamic_shapes=batch)
            # Not saved with the program: a batch of the spec's input size would add its
            # bytes to the file (1.5 GB for input.size=8192); the signature is enough.
            program.example_inputs = None
            del example
            with atomic_file(output) as f:
                torch.export.save(program, f)
        what = "torch.export program"
    else:
        from archspec.checkpoint import save_checkpoint

        with _progress(f"saving {loaded.name}"):
            save_checkpoint(model, loaded, output, seed=seed)
        what = "state_dict and spec"
    out.print(
        f"wrote {output} ({what}, {output.stat().st_size / 2**20:.1f} MiB) in "
        f"{time.perf_counter() - start:.1f} s",
        markup=False,
    )


@app.command()
def render(
    spec: SpecArg,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="The file to write: .svg, .png, .pdf or .dot."),
    ],
    detail: Annotated[
        Detail,
        typer.Option(
            "--detail",
            "-d",
            parser=_detail,
            metavar="stage|block|layer",
            help="A node per stage, per block or per op.",
        ),
    ] = Detail.block,
    sets: SetOpt = None,
) -> None:
    """Draw a spec to SVG, PNG, PDF or Graphviz dot (stage, block or layer detail).

    A node per stage, per block (runs of identical blocks drawn once, marked ×N) or per
    op; clusters per stage, tensor shapes on the edges, skip connections coloured by kind
    (identity, projection, pad, gated, sparse, concatenation). .dot is the Graphviz
    source; the others are laid out by Graphviz's dot engine. A failed render leaves
    an existing file untouched.

    \b
    Examples:
      archspec render resnet50 -o resnet50.svg
      archspec render resnet56 -o resnet56.pdf --detail stage
      archspec render my_net.yaml -o my_net.png --detail layer
    """
    from archspec.render import FORMATS, build_view, to_agraph
    from archspec.render.draw import write

    if output.suffix.lower().lstrip(".") not in FORMATS:
        raise fail(f"{output}: -o takes {', '.join('.' + f for f in FORMATS)}", 2)
    loaded = _load_for_writing(spec, sets, [output])
    graph = _lower(loaded, spec, sets)
    start = time.perf_counter()
    view = build_view(graph, detail.value)
    with _progress(f"laying out {loaded.name} ({len(view.nodes)} nodes)"):
        write(to_agraph(view), output)
    out.print(
        f"wrote {output} ({detail.value} detail, {len(view.nodes)} nodes) in "
        f"{time.perf_counter() - start:.1f} s",
        markup=False,
    )


@app.command()
def compare(
    specs: Annotated[list[str], typer.Argument(help="Two or more YAML files or preset names.")],
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
    rows = compare_rows([_lower(_load(s), s) for s in specs])
    if as_json:
        out.print_json(json.dumps([r.to_json() for r in rows]))
        return
    names = [r.name for r in rows]
    columns, table = side_by_side(rows, labels=names if len(set(names)) == len(names) else specs)
    print_table(columns, table, right=set(columns[1:]))


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
    size: int | list[int] | None = None
    if input_size is not None:
        parts = input_size.lower().split("x")
        if not all(p.isdigit() for p in parts) or len(parts) > 2:
            raise fail(f"--input-size is N or HxW (e.g. 32 or 32x48), got {input_size!r}", 2)
        size = int(parts[0]) if len(parts) == 1 else [int(p) for p in parts]
    # Every spec is read before torch is imported: a typo fails at once.
    loaded = [(source, _load_for_writing(source, None, [output])) for source in specs]
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


def _on_signal(signum: int, frame: object) -> None:
    """SIGTERM, SIGHUP: remove the temporary files being written, then end as the signal
    would have ended the process (the parent sees the same status)."""
    from archspec.files import remove_temporaries

    remove_temporaries()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def main() -> None:
    """Entry point: run the app, turning archspec's errors into one-line messages."""
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _on_signal)
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
