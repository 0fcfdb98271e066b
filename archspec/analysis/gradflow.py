"""Gradient flow at initialization: how large the gradient is at each block's output and
on each block's parameters, after one backward pass of a freshly built network.

This is the question residual networks were made to answer: in a deep plain network
the gradient reaching the early blocks shrinks (or grows) block by block; a skip gives
it a path around each block. Comparing ``plain56`` with ``resnet56`` here shows it.

The pass: build the spec with ``seed``, draw a standard-normal input batch and random
labels from the same seed, run forward in training mode (batch norm uses the batch's
statistics, as in the first step of training), take the cross-entropy loss and its
gradients. Nothing is trained.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import torch
import torch.nn.functional as F
from torch import nn

from archspec.arguments import check_int, check_memory, check_seed
from archspec.codegen.torch_module import build_module
from archspec.errors import ArchSpecError, GraphError, shown
from archspec.lowering import lower
from archspec.spec.limits import MAX_BATCH
from archspec.spec.load import load, with_stage_line
from archspec.spec.model import ArchSpec


@dataclass(frozen=True)
class BlockGrad:
    """One block's gradients. Norms are L2 over the whole batch."""

    scope: str
    "Module path of the block, e.g. ``layer2.0``."
    stage: str
    "Its stage, e.g. ``layer2``."
    position: int
    "0-based index of the block in the whole network."
    out_shape: tuple[int, ...]
    "Shape of the block's output for one sample."
    output_grad_norm: float
    """‖∂loss/∂(block output)‖ over the batch; for an ODE stage's branch (``layer1.func``)
    that of the ODE's solution, the stage's output."""
    param_grad_norm: float
    "‖∂loss/∂θ‖ over every parameter of the block (0.0 for a block without any)."
    params: int
    "Number of parameters in the block."

    @property
    def output_grad_rms(self) -> float:
        """The output gradient's root mean square per element: comparable across
        stages whose outputs differ in size."""
        numel = math.prod(self.out_shape)
        return self.output_grad_norm / math.sqrt(numel) if numel else 0.0


@dataclass(frozen=True)
class GradFlow:
    """Per-block gradient norms of one spec at initialization (see :func:`gradflow`)."""

    name: str
    arch_id: str
    input_shape: tuple[int, ...]
    batch: int
    seed: int
    loss: float
    blocks: tuple[BlockGrad, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON."""
        data = asdict(self)
        for record, block in zip(data["blocks"], self.blocks, strict=True):
            record["output_grad_rms"] = block.output_grad_rms
        return data


def _parse_size(input_size: int | Sequence[int]) -> int | list[int]:
    if isinstance(input_size, int) and not isinstance(input_size, bool):
        return input_size
    if (
        isinstance(input_size, Sequence)
        and 1 <= len(input_size) <= 3
        and all(isinstance(v, int) and not isinstance(v, bool) for v in input_size)
    ):
        return list(input_size)
    raise ArchSpecError(f"input_size is a size, (L), (H, W) or (D, H, W), got {shown(input_size)}")


def _pass_bytes(graph: nx.DiGraph, batch: int) -> int:
    """A lower bound on what the pass allocates: every op's output kept for backward
    (this pass keeps them all, in-place ops made out-of-place) and its gradient, and the
    weights with theirs, in float32."""
    from archspec.graph.stats import graph_stats

    activations = sum(math.prod(d.shape) for _, d in graph.nodes(data=True)) * batch
    return (activations + graph_stats(graph).params) * 2 * 4


def block_outputs(graph: nx.DiGraph) -> dict[str, str]:
    """Block scope -> the graph node that is the block's output: the last node of the
    block that feeds something outside it (or is the network's output)."""
    members: dict[str, list[str]] = {}
    for node, data in graph.nodes(data=True):
        if data.block:
            members.setdefault(data.block, []).append(node)
    out: dict[str, str] = {}
    final = graph.graph["output"]
    for scope, nodes in members.items():
        leaving = [
            n
            for n in nodes
            if n == final or any(graph.nodes[s].block != scope for s in graph.succ[n])
        ]
        if leaving:
            out[scope] = leaving[-1]
    return out


def gradflow(
    spec: str | Path | ArchSpec,
    *,
    input_size: int | Sequence[int] | None = None,
    batch: int = 8,
    seed: int = 0,
) -> GradFlow:
    """Per-block gradient norms of ``spec`` at initialization: one forward and backward
    pass of the network built with ``seed``, on a standard-normal batch of ``batch``
    inputs (``input_size``, default the spec's) and random labels, cross-entropy loss,
    batch norm in training mode.

    Example::

        plain = archspec.gradflow("plain56", batch=32, seed=0)
        res = archspec.gradflow("resnet56", batch=32, seed=0)
        plain.blocks[0].output_grad_norm, res.blocks[0].output_grad_norm
    """
    check_int("batch", batch, 1, MAX_BATCH)
    check_seed(seed, optional=False)
    loaded = load(spec)
    if input_size is not None:
        loaded = loaded.override({"input.size": _parse_size(input_size)})
    try:
        graph = lower(loaded)
    except GraphError as exc:
        raise with_stage_line(exc, spec) from None
    if len(graph.graph["output_shape"]) != 1:
        raise GraphError(f"gradflow needs a classifier output, got {graph.graph['output_shape']}")
    check_memory(
        _pass_bytes(graph, batch),
        "one forward and backward pass",
        "use a smaller batch or input size",
    )
    model = build_module(graph, seed=seed)
    for module in model.modules():
        if hasattr(module, "inplace"):
            module.inplace = False

    outputs = block_outputs(graph)
    records = [r for r in graph.graph["blocks"] if r.scope in outputs]
    # Each block is a module of the built tree: a forward hook keeps its output.
    kept: dict[str, torch.Tensor] = {}

    def keep(scope: str) -> Any:
        def hook(module: nn.Module, args: Any, out: Any) -> None:
            if isinstance(out, torch.Tensor) and out.requires_grad:
                out.retain_grad()  # a block of constants has no gradient to keep
            kept[scope] = out

        return hook

    # An ODE stage's branch runs once per evaluation, and its last call's output enters the
    # state scaled by the solver's weight for it (h, h/8): the output gradient kept for
    # the branch is that of the state it integrates, the stage's output.
    handles = [
        model.get_submodule(r.stage if r.skip == "ode" else r.scope).register_forward_hook(
            keep(r.scope)
        )
        for r in records
    ]

    block_of_module = {d.scope: d.block for _, d in graph.nodes(data=True) if d.block}
    classes = graph.graph["output_shape"][0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        x = torch.randn(batch, *graph.graph["input_shape"])
        y = torch.randint(0, classes, (batch,))
        model.train()
        try:
            loss = F.cross_entropy(model(x), y)
        except ValueError as err:  # batch norm over a single value per channel
            raise GraphError(f"gradflow: {err} (use a larger batch or input)") from None
        finally:
            for handle in handles:
                handle.remove()
        loss.backward()

    param_sq: dict[str, float] = {}
    param_count: dict[str, int] = {}
    for name, param in model.named_parameters():
        block = block_of_module.get(name.rsplit(".", 1)[0])
        if block is None:
            continue
        grad = param.grad
        param_sq[block] = param_sq.get(block, 0.0) + (
            float(grad.double().pow(2).sum()) if grad is not None else 0.0
        )
        param_count[block] = param_count.get(block, 0) + param.numel()

    blocks = []
    for position, record in enumerate(records):
        scope = record.scope
        grad = kept[scope].grad
        blocks.append(
            BlockGrad(
                scope=scope,
                stage=record.stage,
                position=position,
                out_shape=tuple(graph.nodes[outputs[scope]].shape),
                output_grad_norm=float(grad.double().norm()) if grad is not None else 0.0,
                param_grad_norm=math.sqrt(param_sq.get(scope, 0.0)),
                params=param_count.get(scope, 0),
            )
        )
    return GradFlow(
        name=loaded.name,
        arch_id=loaded.arch_id,
        input_shape=tuple(graph.graph["input_shape"]),
        batch=batch,
        seed=seed,
        loss=float(loss.detach()),
        blocks=tuple(blocks),
    )
