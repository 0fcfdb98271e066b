"""The summary of a spec: analytic totals (params, MACs, FLOPs, per stage) beside
torchinfo's layer table from a forward pass on the meta device, so even a network with
10^10 parameters summarizes in seconds without allocating a weight.

Example::

    report = summarize(archspec.lower("resnet50"))
    report.macs, report.flops              # 4089184256, 8178368512
    print(report.torchinfo_table)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from archspec.errors import ArchSpecError
from archspec.graph.stats import graph_stats
from archspec.report.counts import network_depth, torchinfo_mult_adds, uncounted_ops
from archspec.report.ode import ode_report


@dataclass(frozen=True)
class StagePart:
    """One part of the network (``stem``, ``layer1``, ..., ``head``) for the whole batch."""

    name: str
    params: int
    macs: int
    output_size: tuple[int, ...]

    @property
    def flops(self) -> int:
        return 2 * self.macs


@dataclass(frozen=True)
class Summary:
    """What ``archspec summary`` reports. Counts are for the whole input batch.

    ``macs`` count one multiply-add as one, over convolutions and linear layers
    (torchvision's "GFLOPS"); ``flops`` count it as two (``torch.utils.flop_counter``).
    ``uncounted`` names the op kinds outside that convention, with how many there are.
    ``torchinfo_*`` are torchinfo's own totals (``None`` if it could not run), and
    ``expected_torchinfo_mult_adds`` what torchinfo's rules give, computed from shapes.
    """

    name: str
    input_size: tuple[int, ...]
    output_size: tuple[int, ...]
    params: int
    trainable_params: int
    macs: int
    depth: int
    activations: int
    stages: tuple[StagePart, ...]
    uncounted: dict[str, int]
    expected_torchinfo_mult_adds: int
    torchinfo_params: int | None = None
    torchinfo_mult_adds: int | None = None
    torchinfo_table: str = ""
    torchinfo_device: str = ""
    notes: tuple[str, ...] = field(default=())
    # A backbone's outputs: module, channels, reduction and size of each, in order.
    features: tuple[dict[str, Any], ...] = ()
    # Each ODE stage's solver and evaluations per forward (report/ode.py), in order.
    ode_stages: tuple[dict[str, Any], ...] = ()

    @property
    def flops(self) -> int:
        """Two per multiply-add."""
        return 2 * self.macs

    def _repr_html_(self) -> str | None:
        """In a notebook: the totals, the per-stage table and torchinfo's table folded
        underneath; None (the plain repr) if anything fails."""
        from archspec.render.notebook import never_raise, summary_html

        return never_raise(lambda: summary_html(self))

    def to_json(self) -> dict[str, Any]:
        """The record ``archspec summary --json`` prints."""
        return {
            "name": self.name,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "macs": self.macs,
            "flops": self.flops,
            "input_size": list(self.input_size),
            "output_size": list(self.output_size),
            **({"features": list(self.features)} if self.features else {}),
            "depth": self.depth,
            "activations": self.activations,
            "stages": [
                {
                    "name": part.name,
                    "params": part.params,
                    "macs": part.macs,
                    "flops": part.flops,
                    "output_size": list(part.output_size),
                }
                for part in self.stages
            ],
            "uncounted_ops": self.uncounted,
            **({"ode_stages": [dict(o) for o in self.ode_stages]} if self.ode_stages else {}),
            "notes": list(self.notes),
            "torchinfo": {
                "device": self.torchinfo_device,
                "params": self.torchinfo_params,
                "mult_adds": self.torchinfo_mult_adds,
                "expected_mult_adds": self.expected_torchinfo_mult_adds,
            },
            "conventions": {
                "macs": "one multiply-add = 1, convolutions and linear layers "
                "(torchvision's GFLOPS)",
                "flops": "2 x macs (torch.utils.flop_counter)",
                "torchinfo.mult_adds": "macs + conv and linear biases + norm affine terms",
            },
        }


def _stage_parts(graph: nx.DiGraph, batch: int) -> tuple[StagePart, ...]:
    per_stage = graph_stats(graph).per_stage
    last_shape: dict[str, tuple[int, ...]] = {}
    for _, data in graph.nodes(data=True):
        if data.stage:
            last_shape[data.stage] = data.shape
    return tuple(
        StagePart(
            name=name,
            params=row["params"],
            macs=row["macs"] * batch,
            output_size=(batch, *last_shape[name]),
        )
        for name, row in per_stage.items()
        if name in last_shape
    )


def summarize(
    graph: nx.DiGraph, *, batch: int = 1, depth: int = 3, measure_ode: bool = False
) -> Summary:
    """Summarize a graph IR for an input batch of ``batch`` samples; ``depth`` is how
    many module levels torchinfo's table shows.

    torchinfo runs on the meta device (no weight is allocated); if a layer has no meta
    kernel, it runs on the CPU when the weights fit in memory, and is left out otherwise
    (``notes`` says why).
    """
    if batch < 1:
        raise ArchSpecError(f"the batch size must be at least 1, got {batch}")
    stats = graph_stats(graph)
    table, ti_params, ti_macs, device, notes = _run_torchinfo(graph, batch, depth)
    more, odes = ode_report(graph, batch, measure_ode)
    notes = [*notes, *more]
    return Summary(
        name=stats.name,
        input_size=(batch, *stats.input_shape),
        output_size=(batch, *stats.output_shape),
        features=tuple(
            {
                "module": f.module,
                "channels": f.channels,
                "reduction": f.reduction,
                "output_size": [batch, *graph.nodes[f.node].shape],
            }
            for f in stats.features
        ),
        params=stats.params,
        trainable_params=stats.trainable_params,
        macs=stats.macs * batch,
        depth=network_depth(graph),
        activations=stats.activations * batch,
        stages=_stage_parts(graph, batch),
        uncounted=uncounted_ops(graph),
        expected_torchinfo_mult_adds=torchinfo_mult_adds(graph, batch),
        torchinfo_params=ti_params,
        torchinfo_mult_adds=ti_macs,
        torchinfo_table=table,
        torchinfo_device=device,
        notes=tuple(notes),
        ode_stages=tuple(odes),
    )


def _run_torchinfo(
    graph: nx.DiGraph, batch: int, depth: int
) -> tuple[str, int | None, int | None, str, list[str]]:
    import torchinfo

    from archspec.arguments import check_memory, tensor_bytes
    from archspec.codegen.torch_module import build_module

    size = (batch, *graph.graph["input_shape"])
    notes: list[str] = []
    for device in ("meta", "cpu"):
        try:
            model = build_module(graph, device=device, seed=0)
        except ArchSpecError as exc:  # too large for this machine's memory
            notes.append(f"torchinfo skipped: {exc}")
            break
        try:
            if device == "cpu":  # a real forward pass: the input and activations are real
                check_memory(
                    tensor_bytes(*(d.shape for _, d in graph.nodes(data=True))) * batch,
                    "torchinfo's forward pass on the CPU",
                )
        except ArchSpecError as exc:
            notes.append(f"torchinfo skipped: {exc}")
            break
        try:
            import torch

            # The input made on the device itself: torchinfo's input_size would draw it on
            # the CPU first (gigabytes for a large batch) and then move it.
            result = torchinfo.summary(
                model,
                input_data=[torch.zeros(size, device=device)],
                device=device,
                depth=depth,
                verbose=0,
                mode="eval",
                col_names=("output_size", "num_params", "mult_adds"),
                row_settings=("var_names",),
            )
        except Exception as exc:  # a layer without a meta kernel: try the CPU next
            cause = exc.__cause__ or exc
            # torch's errors carry a C++ backtrace after their first line
            first = (str(cause).strip().splitlines() or [""])[0][:300]
            notes.append(f"torchinfo on {device} failed: {type(cause).__name__}: {first}")
            continue
        return _table_text(result), result.total_params, result.total_mult_adds, device, notes
    return "", None, None, "", notes


def _table_text(result: Any) -> str:
    """torchinfo's table, its unit names mended: on Python 3.11 its str-valued unit enum
    formats as its name ("Total mult-adds (Units.GIGABYTES)"), not its symbol ("(G)")."""
    from torchinfo.enums import Units

    return re.sub(
        r"\(Units\.([A-Z]+)\)",
        lambda m: f"({Units[m[1]].value})" if m[1] in Units.__members__ else m[0],
        str(result),
    )
