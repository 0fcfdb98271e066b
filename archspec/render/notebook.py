"""What an :class:`~archspec.ArchSpec`, a :class:`~archspec.Summary` and a
:class:`~archspec.Stats` show in a Jupyter notebook: the block diagram as SVG and the
per-stage table as HTML. The objects' ``_repr_*_`` methods import this module only when
a notebook asks, so ``import archspec`` stays light.

A repr must never raise (a notebook would print a traceback where a value was expected):
each function here returns ``None`` on any failure, and the notebook falls back to the
plain text repr. Every string that comes from a spec is HTML-escaped.

Example::

    spec_bundle(archspec.load("resnet20"))["text/html"][:30]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import networkx as nx

    from archspec.graph.stats import Stats
    from archspec.report.summary import Summary
    from archspec.spec.model import ArchSpec

T = TypeVar("T")
# Past this many nodes at block detail (dense nets of hundreds of distinct layers), the
# notebook shows stage detail: Graphviz would take seconds where a repr should be instant.
MAX_NOTEBOOK_NODES = 300
_CONVENTION = "1 multiply-add = 1 MAC = 2 FLOPs; MACs count convolutions and linear layers"
_TABLE = 'style="border-collapse:collapse;text-align:right;font-variant-numeric:tabular-nums"'


def never_raise(make: Callable[[], T]) -> T | None:
    """``make()``, or None if it raises anything at all: a notebook repr must not."""
    try:
        return make()
    except Exception:  # any failure at all: the plain repr is shown instead
        return None


def _si(n: int) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.3f} {prefix}"
    return f"{n:,} "


def _shape(shape: Iterable[int]) -> str:
    return "×".join(str(int(d)) for d in shape)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An HTML table, every cell escaped."""
    cell = 'style="padding:2px 8px;border-bottom:1px solid #ddd"'
    head = "".join(f"<th {cell}>{escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td {cell}>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _totals(params: int, macs: int, extra: str = "") -> str:
    return escape(
        f"{params:,} params · {_si(macs)}MACs · {_si(2 * macs)}FLOPs{extra} ({_CONVENTION})"
    )


def _header(name: str, line: str, more: str = "") -> str:
    return (
        f'<div style="font-weight:bold;font-size:1.1em">{escape(name)}</div>{more}<div>{line}</div>'
    )


def stats_html(stats: Stats) -> str | None:
    """The per-part table of :func:`archspec.stats` (one sample)."""

    def make() -> str:
        total = max(stats.macs, 1)
        rows = [
            [
                part,
                f"{row['params']:,}",
                f"{row['macs']:,}",
                f"{2 * row['macs']:,}",
                f"{100 * row['macs'] / total:.1f} %",
            ]
            for part, row in stats.per_stage.items()
            if part != "input"
        ]
        io = f" · input {_shape(stats.input_shape)} → "
        io += (
            f"{len(stats.features)} feature maps" if stats.features else _shape(stats.output_shape)
        )
        parts = [
            _header(stats.name, _totals(stats.params, stats.macs, escape(io))),
            table(["part", "params", "MACs", "FLOPs", "share of MACs"], rows),
        ]
        if stats.uncounted:
            parts.append(f"<div>not in MACs: {escape(', '.join(stats.uncounted))}</div>")
        if stats.data_dependent:
            parts.append(
                "<div>MACs count 1 evaluation of each adaptive ODE stage: the real count "
                "depends on the data (summary(..., measure_ode=True) measures it)</div>"
            )
        return "".join(parts)

    return never_raise(make)


def summary_html(summary: Summary) -> str | None:
    """The totals and per-stage table of :func:`archspec.summary` (the whole batch), with
    torchinfo's layer table folded underneath."""

    def make() -> str:
        rows = [
            [p.name, f"{p.params:,}", f"{p.macs:,}", f"{p.flops:,}", _shape(p.output_size)]
            for p in summary.stages
        ]
        io = f" · input {_shape(summary.input_size)} → {_shape(summary.output_size)}"
        parts = [
            _header(summary.name, _totals(summary.params, summary.macs, escape(io))),
            table(["part", "params", "MACs", "FLOPs", "output"], rows),
        ]
        if summary.torchinfo_mult_adds is not None:
            parts.append(
                f"<div>torchinfo: {summary.torchinfo_params or 0:,} params, "
                f"{summary.torchinfo_mult_adds:,} mult-adds (MACs plus bias and norm "
                f"terms; {escape(summary.torchinfo_device)})</div>"
            )
        parts.extend(f"<div>{escape(note)}</div>" for note in summary.notes)
        if summary.torchinfo_table:
            parts.append(
                "<details><summary>torchinfo's layer table</summary>"
                f"<pre>{escape(summary.torchinfo_table)}</pre></details>"
            )
        return "".join(parts)

    return never_raise(make)


def _diagram(graph: nx.DiGraph) -> str:
    """The block diagram (stage detail for very wide ones) as inline SVG markup."""
    from archspec.render.draw import _quiet_fontconfig, to_agraph
    from archspec.render.view import build_view

    view = build_view(graph, "block")
    if len(view.nodes) > MAX_NOTEBOOK_NODES:
        view = build_view(graph, "stage")
    with _quiet_fontconfig():
        svg = to_agraph(view).draw(format="svg", prog="dot").decode()
    svg = svg[svg.index("<svg") :]
    # Graphviz's comments name the graph; nothing in them is needed inline.
    return re.sub(r"<!--.*?-->", "", svg, flags=re.S)


def spec_bundle(spec: ArchSpec) -> dict[str, str] | None:
    """A spec's notebook display: its name, description and totals, the per-stage
    table and the block diagram (``text/html``), and the diagram alone
    (``image/svg+xml``) for front ends that show only images."""

    def make() -> dict[str, str]:
        from archspec.graph.stats import graph_stats
        from archspec.lowering import lower

        graph = lower(spec)
        stats = graph_stats(graph)
        svg = _diagram(graph)
        rows = []
        for record in graph.graph["stages"]:
            config = record.config
            row = stats.per_stage.get(record.scope, {"params": 0, "macs": 0})
            rows.append(
                [
                    record.scope,
                    f"ODE of a {record.kind} branch, {record.ode.solver}"
                    if record.ode is not None
                    else f"{record.depth} × {record.kind}",
                    getattr(config, "width", ""),
                    getattr(config, "stride", ""),
                    f"{row['params']:,}",
                    f"{row['macs']:,}",
                ]
            )
        description = (
            f'<div style="color:#555">{escape(spec.description)}</div>' if spec.description else ""
        )
        io = f" · input {_shape(stats.input_shape)} · arch_id {spec.arch_id}"
        html = "".join(
            [
                _header(spec.name, _totals(stats.params, stats.macs, escape(io)), description),
                table(["stage", "blocks", "width", "stride", "params", "MACs"], rows),
                f'<div style="max-height:40em;overflow:auto">{svg}</div>',
            ]
        )
        return {"text/html": html, "image/svg+xml": svg}

    return never_raise(make)
