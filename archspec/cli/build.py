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
    err,
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
            help="model.pt2 (torch.export), model.pt or model.safetensors (the weights with "
            "the spec), model.onnx, or a directory (config.json + model.safetensors).",
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
    """Build the model of a spec; save it as .pt2, .pt, .onnx, .safetensors, a directory
    or standalone Python.

    -o model.pt2 writes a torch.export program (torch.export.load); -o model.pt or
    model.safetensors the weights with the spec inside (archspec.load_checkpoint); -o
    model.onnx ONNX with a free batch dimension (onnxruntime); -o DIR (no suffix)
    config.json + model.safetensors (archspec.from_pretrained); --emit-python model.py
    source that needs only PyTorch and loads that same state_dict.

    \b
    Examples:
      archspec build resnet50 --seed 0 -o resnet50.pt
      archspec build resnet50 -o resnet50.pt2
      archspec build resnet20 -o resnet20.onnx
      archspec build resnet20 --seed 0 -o resnet20.safetensors
      archspec build resnet56 --emit-python resnet56.py -o resnet56.pt --seed 0
      archspec build resnet50 --set stages.2.depth=23 -o resnet101ish.pt
    """
    from archspec.formats import describe

    if output is not None and describe(output) is None:
        raise fail(f"{output}: -o takes .pt2, .pt, .onnx, .safetensors or a directory", 2)
    if emit_python is not None and emit_python.suffix != ".py":
        raise fail(f"{emit_python}: --emit-python takes a .py file", 2)
    from archspec.arguments import check_seed, check_weights_fit

    try:
        check_seed(seed)
    except ArchSpecError as exc:
        raise fail(f"--seed: {exc}", 2) from None
    from archspec.formats import outputs

    files = outputs(output) if output is not None else []
    loaded = _load_for_writing(spec, sets, [*files, emit_python])
    graph = _lower(loaded, spec, sets)
    from archspec.files import atomic_write
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
        err.print(
            "nothing was written: to save the model add -o FILE (archspec build --help "
            "lists the formats) or --emit-python model.py",
            markup=False,
        )
        return
    if output.suffix == ".pt2":
        from archspec.lowering.ode import eager_only_stages

        if eager := eager_only_stages(graph):
            raise fail(
                f"cannot export {', '.join(eager)} to .pt2: dopri5 and the adjoint method run "
                "eagerly only; use a fixed-grid solver (euler, midpoint, rk4) without adjoint"
            )
    from archspec.formats import size_of, write

    start = time.perf_counter()
    with _progress(f"writing {output}"):
        what = write(model, loaded, output, seed=seed)
    out.print(
        f"wrote {output} ({what}, {size_of(output) / 2**20:.1f} MiB) in "
        f"{time.perf_counter() - start:.1f} s",
        markup=False,
    )
