"""`archspec render`: the diagram."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from archspec.cli.common import (
    Detail,
    SetOpt,
    SpecArg,
    _detail,
    _load_for_writing,
    _lower,
    _progress,
    app,
    fail,
    out,
)


@app.command()
def render(
    spec: SpecArg,
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="The file to write: .svg, .png, .pdf, .dot, .mmd or .html."
        ),
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
    """Draw a spec to SVG, PNG, PDF, Graphviz dot, Mermaid or an interactive HTML page.

    A node per stage, per block (runs of identical blocks drawn once, marked ×N) or per
    op; clusters per stage, tensor shapes on the edges, skip connections coloured by kind
    (identity, projection, pad, gated, sparse, concatenation). .dot is the Graphviz
    source; .mmd a Mermaid flowchart for Markdown pages (GitHub renders it); .html one
    self-contained page to pan, zoom, expand, hover and search (no network needed); the
    others are laid out by Graphviz's dot engine. A failed render leaves an existing file
    untouched.

    \b
    Examples:
      archspec render resnet50 -o resnet50.svg
      archspec render resnet56 -o resnet56.pdf --detail stage
      archspec render my_net.yaml -o my_net.png --detail layer
      archspec render resnet50 -o resnet50.mmd
      archspec render resnet50 -o resnet50.html
    """
    from archspec.render import FORMATS, build_view, render_graph

    if output.suffix.lower().lstrip(".") not in FORMATS:
        raise fail(f"{output}: -o takes {', '.join('.' + f for f in FORMATS)}", 2)
    loaded = _load_for_writing(spec, sets, [output])
    graph = _lower(loaded, spec, sets)
    start = time.perf_counter()
    view = build_view(graph, detail.value)
    with _progress(f"laying out {loaded.name} ({len(view.nodes)} nodes)"):
        render_graph(graph, output, detail=detail.value)  # the suffix picks the writer
    out.print(
        f"wrote {output} ({detail.value} detail, {len(view.nodes)} nodes) in "
        f"{time.perf_counter() - start:.1f} s",
        markup=False,
    )
