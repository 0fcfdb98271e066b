"""`archspec build`: the model, its checkpoint, export and standalone source."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from archspec.cli.common import (
    SetOpt,
    SpecArg,
    _count,
    _load_for_writing,
    _lower,
    _progress,
    app,
    fail,
    out,
)
from archspec.errors import ArchSpecError


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
        from archspec.codegen.emit import emit_python as emit

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
        from archspec.graph.lower_ode import eager_only_stages

        if eager := eager_only_stages(graph):
            raise fail(
                f"cannot export {', '.join(eager)} to .pt2: dopri5 and the adjoint method run "
                "eagerly only; use a fixed-grid solver (euler, midpoint, rk4) without adjoint"
            )
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
