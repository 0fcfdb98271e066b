"""What a summary says of ODE stages: the evaluations of f its MACs count, and, for an
adaptive solver, the count measured on a random batch when asked (it depends on the
data, so the analytic totals count one evaluation)."""

from __future__ import annotations

from typing import Any

import networkx as nx


def ode_report(
    graph: nx.DiGraph, batch: int, measure: bool
) -> tuple[list[str], list[dict[str, Any]]]:
    """One note and one record per ODE stage (the record is what ``summary --json``
    prints); ``measure`` builds the model (CPU, seed 0) and runs one random batch of
    ``batch`` in eval mode to count an adaptive solver's evaluations."""
    records = [r for r in graph.graph["stages"] if r.ode is not None]
    if not records:
        return [], []
    measured = _measure(graph, batch) if measure and any(r.ode.adaptive for r in records) else {}
    notes, facts = [], []
    for r in records:
        ode = r.ode
        fact: dict[str, Any] = {
            "stage": r.scope,
            "function": f"{r.scope}.func",
            "solver": ode.solver,
            "steps": None if ode.adaptive else ode.steps,
            "t": ode.t,
            "rtol": ode.rtol if ode.adaptive else None,
            "atol": ode.atol if ode.adaptive else None,
            "adjoint": ode.adjoint,
            "time_channel": ode.time_channel,
            # per forward: a number for a fixed grid; an adaptive solver's depends on the data
            "evaluations": ode.evaluations() if not ode.adaptive else "data-dependent",
            "macs_count_evaluations": ode.evaluations() or 1,
        }
        if not ode.adaptive:
            notes.append(
                f"{r.scope}: ODE stage, {ode.solver} with {ode.steps} steps: MACs count "
                f"{ode.evaluations()} evaluations of {r.scope}.func"
            )
        elif r.scope in measured:
            fact["measured_evaluations"] = measured[r.scope]
            fact["measured_batch"] = batch
            notes.append(
                f"{r.scope}: ODE stage, {ode.solver}: MACs count 1 evaluation of "
                f"{r.scope}.func; {measured[r.scope]} on a random batch of {batch} "
                "(the count depends on the data)"
            )
        else:
            notes.append(
                f"{r.scope}: ODE stage, {ode.solver}: MACs count 1 evaluation of "
                f"{r.scope}.func; the real count depends on the data (measure it with "
                "summary(..., measure_ode=True) or --measure-ode)"
            )
        facts.append(fact)
    return notes, facts


def _measure(graph: nx.DiGraph, batch: int) -> dict[str, int]:
    import torch

    from archspec.arguments import check_weights_fit
    from archspec.codegen.torch_module import build_module

    check_weights_fit(graph, torch.device("cpu"), None)
    model = build_module(graph, seed=0).eval()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        model(torch.randn(batch, *graph.graph["input_shape"]))
    return {
        r.scope: model.get_submodule(r.scope).last_evals
        for r in graph.graph["stages"]
        if r.ode is not None and r.ode.adaptive
    }
