"""`archspec summary`: the torchinfo table and the analytic counts."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

import archspec
from archspec.cli.common import SetOpt, SpecArg, _load, _lower, _progress, app, err, fail, out


@app.command()
def summary(
    spec: SpecArg,
    input_size: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            metavar="NxCx...",
            help="Input N x C x spatial (or C x spatial), e.g. 8x3x160x160, 1x12x5000 "
            "(1-D), 2x3x16x112x112 (3-D); default 1 x the spec's.",
        ),
    ] = None,
    depth: Annotated[
        int, typer.Option("--depth", "-d", min=0, help="Module levels in torchinfo's table.")
    ] = 3,
    sets: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    measure_ode: Annotated[
        bool,
        typer.Option(
            "--measure-ode",
            help="Count an adaptive ODE stage's evaluations on a random batch (CPU forward).",
        ),
    ] = False,
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
    from archspec.arguments import check_input_size, split_input_size
    from archspec.report.summary import summarize
    from archspec.report.units import parse_shape

    base = _load(spec, sets)
    try:
        dims = check_input_size(parse_shape(input_size)) if input_size is not None else None
        if dims is not None:  # its batch, channels and axes as the spec's rank reads them
            split_input_size(dims, base.input.rank)
    except ValueError as exc:  # ArchSpecError is one
        raise fail(f"--input: {exc}", 2) from None
    loaded, batch = archspec.with_input_size(base, dims)
    with _progress(f"summarizing {loaded.name}"):
        report = summarize(
            _lower(loaded, spec, sets), batch=batch, depth=depth, measure_ode=measure_ode
        )
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
