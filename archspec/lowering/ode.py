"""Lowering of an ODE stage (a stage with ``ode:``): the block's residual branch f is
lowered once, as one function evaluation, in the scope ``layerN.func``, and an ``ode``
op closes the stage with the solver's settings.

Where the stage changes the shape (a stride, or other output channels), its first block
stays a discrete block (``layerN.0``) and the ODE follows at the new shape: an ODE keeps
its state's shape (Chen et al. 2018 downsample before their ODE block too).

With ``time_channel``, an ``ode_time`` op (``layerN.time``) stands for t, and every conv
of f takes it as one more input channel (graph/ops/ode.py).
"""

from __future__ import annotations

from contextlib import nullcontext

from archspec.blocks.base import BlockConfig, BlockType
from archspec.graph.builder import GraphBuilder, Value
from archspec.spec.ode import OdeSpec

FUNC = "func"


def lower_ode_stage(
    g: GraphBuilder, block_type: BlockType, cfg: BlockConfig, ode: OdeSpec, x: Value
) -> Value:
    if block_type.lower_stage is not None:
        raise g.refuse(
            f"block {cfg.block!r} cannot be an ODE stage: its stage is lowered as a whole "
            "(ops between or around its blocks), not as one residual branch repeated; use a "
            "residual block type"
        )
    if cfg.skip != "identity":
        raise g.refuse(
            f"an ODE stage integrates x + f(x), so its skip must be 'identity', not {cfg.skip!r}"
        )
    if cfg.stride != 1 or cfg.out_channels(x.channels) != x.channels:
        with g.block("0", x, kind=cfg.block, skip=cfg.skip, index=0) as record:
            x = block_type.lower(g, cfg, x, cfg.stride)
            record.out_shape = x.shape
    # The branch alone: the same rule with no skip, so nothing is merged (and no drop
    # path, which drops what a merge would add).
    branch = cfg.model_copy(update={"skip": "none", "drop_path": 0.0})
    t = g.op("ode_time", "time", [x]) if ode.time_channel else None
    with g.block(FUNC, x, kind=cfg.block, skip="ode", index=1) as record:
        with g.time_channel(t) if t is not None else nullcontext():
            fx = block_type.lower(g, branch, x, 1)
        record.out_shape = fx.shape
        record.module_class = "OdeFunc"
    evals = ode.evaluations()
    g.graph.graph.setdefault("ode_evals", {})[record.scope] = evals
    return g.op(
        "ode",
        "ode",
        [x, fx],
        roles=["skip", "main"],
        **ode.solver_settings(),
        evals=evals,
        func=record.scope,
    )


def eager_only_stages(graph: object) -> list[str]:
    """The ODE stages of a graph IR that run eagerly only (dopri5, or the adjoint method):
    torch.export and torch.compile cannot trace torchdiffeq's loop."""
    stages = getattr(graph, "graph", {}).get("stages", [])
    return [r.scope for r in stages if r.ode is not None and (r.ode.adaptive or r.ode.adjoint)]
