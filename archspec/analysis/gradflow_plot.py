"""The gradient-flow plot: block output and parameter gradient norms of several specs,
side by side, against the block's position in the network (``archspec gradflow -o``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from archspec.analysis.gradflow import GradFlow
from archspec.errors import ArchSpecError
from archspec.files import atomic_file

FORMATS = (".png", ".svg", ".pdf")


def plot_gradflow(results: Sequence[GradFlow], path: str | Path) -> Path:
    """Draw ``results`` into ``path`` (.png, .svg or .pdf), written atomically: two panels
    (output gradient, parameter gradient), log scale, one line per spec, dotted lines
    where a new stage starts.

    Example::

        runs = [archspec.gradflow(name, batch=32) for name in ("plain56", "resnet56")]
        plot_gradflow(runs, "gradflow.png")
    """
    target = Path(path)
    if target.suffix.lower() not in FORMATS:
        raise ArchSpecError(f"{target}: the plot must end in {', '.join(FORMATS)}")
    if not results:
        raise ArchSpecError("nothing to plot")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ArchSpecError(
            "the gradflow plot needs matplotlib: pip install 'archspec[sweep]'"
        ) from None

    # A Figure with its own Agg canvas, not pyplot: no global state, no display needed.
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, sharex=True)
    panels = (
        (left, "output_grad_norm", "‖∂loss/∂ block output‖"),
        (right, "param_grad_norm", "‖∂loss/∂ block parameters‖"),
    )
    for axes, field, title in panels:
        for result in results:
            xs = [b.position + 1 for b in result.blocks]
            ys = [getattr(b, field) for b in result.blocks]
            axes.plot(xs, ys, marker="o", markersize=2.5, linewidth=1.2, label=result.name)
        starts = [
            b.position + 0.5
            for prev, b in zip(results[0].blocks, results[0].blocks[1:], strict=False)
            if b.stage != prev.stage
        ]
        for x in starts:
            axes.axvline(x, color="0.7", linestyle=":", linewidth=1)
        axes.set_yscale("log")
        axes.set_title(title)
        axes.set_xlabel("block (input side → output side)")
        axes.grid(True, which="major", alpha=0.3)
    left.legend()
    first = results[0]
    shape = "x".join(map(str, first.input_shape))
    figure.suptitle(
        f"gradients at initialization (batch {first.batch} of {shape}, seed {first.seed}, "
        "cross-entropy, train-mode batch norm)",
        fontsize=10,
    )
    with atomic_file(target) as f:
        figure.savefig(f, format=target.suffix.lower()[1:], dpi=120)
    return target
