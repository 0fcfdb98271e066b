"""Lowering: an :class:`~archspec.spec.model.ArchSpec` becomes the graph IR.

stem -> stages (each ``depth`` blocks, lowered by the block type's own rule) -> head.
Scopes follow torchvision's ResNet (``conv1``, ``bn1``, ``maxpool``, ``layer1.0.conv1``,
``avgpool``, ``fc``), so the built model loads its checkpoints as they are.
"""

from __future__ import annotations

import networkx as nx

from archspec.blocks import get
from archspec.graph.builder import GraphBuilder, Value
from archspec.graph.lower_ode import lower_ode_stage
from archspec.graph.outputs import select_features
from archspec.spec.model import (
    NAMED_STEM_WIDTH,
    ArchSpec,
    ConvLayer,
    NamedStem,
    NormLayer,
    PoolLayer,
)


def lower(spec: ArchSpec) -> nx.DiGraph:
    """The graph IR of a spec: a DiGraph of primitive ops with every shape inferred.

    Raises :class:`~archspec.errors.GraphError` where shapes disagree.

    Example::

        graph = archspec.lower(archspec.load("resnet18"))
        graph.nodes["layer1.0.conv1"]["shape"]   # (64, 56, 56)
    """
    g = GraphBuilder(spec.name, spec.input.shape)
    g.total_blocks = sum(cfg.depth for cfg in spec.blocks)
    with g.section("stem"):
        x = lower_stem(g, spec.stem_spec, g.input)
    for i, cfg in enumerate(spec.blocks):
        block_type = get(cfg.block)
        assert block_type is not None  # validation resolved it
        ode = spec.odes[i]
        with g.stage(
            f"layer{i + 1}", index=i, kind=cfg.block, depth=cfg.depth, config=cfg, ode=ode
        ):
            first = len(g.graph.graph["blocks"])
            if ode is not None:
                x = lower_ode_stage(g, block_type, cfg, ode, x)
            elif block_type.lower_stage is not None:
                x = block_type.lower_stage(g, cfg, x)
            else:
                for j in range(cfg.depth):
                    with g.block(str(j), x, kind=cfg.block, skip=cfg.skip, index=j) as record:
                        x = block_type.lower(g, cfg, x, cfg.stride if j == 0 else 1)
                        record.out_shape = x.shape
            for record in g.graph.graph["blocks"][first:]:
                record.module_class = record.module_class or block_type.module_class
    with g.section("head"):
        last = spec.blocks[-1]
        if type(last).needs_final_norm:
            x = g.act(g.norm(x, last.norm, name="final_norm"), last.act, name="final_act")
        g.graph.graph["features_end"] = x.node
        if spec.head != "none":
            x = lower_head(g, spec, x)
    graph = g.finish(x)
    if spec.features:
        select_features(graph, spec.features)
    return graph


def lower_stem(g: GraphBuilder, stem: NamedStem | tuple, x: Value) -> Value:
    if isinstance(stem, NamedStem):
        width = stem.width or NAMED_STEM_WIDTH.get(stem.type, 0)
        if stem.type == "imagenet":
            x = g.conv(x, width, 7, stride=2, padding=3, name="conv1")
        elif stem.type == "deep":  # ResNet-C: three 3x3 convs replace the 7x7
            half = max(width // 2, 1)
            x = g.conv(x, half, 3, stride=2, name="conv1.0")
            x = g.act(g.norm(x, "batch", name="conv1.1"), "relu", name="conv1.2")
            x = g.conv(x, half, 3, name="conv1.3")
            x = g.act(g.norm(x, "batch", name="conv1.4"), "relu", name="conv1.5")
            x = g.conv(x, width, 3, name="conv1.6")
        elif stem.type == "cifar":
            x = g.conv(x, width, 3, name="conv1")
        else:
            return x
        x = g.act(g.norm(x, "batch", name="bn1"), "relu", name="relu")
        if stem.type in ("imagenet", "deep"):
            x = g.pool(x, "max", 3, 2, 1, name="maxpool")
        return x
    convs = 0
    for layer in stem:
        # Names pair each norm with the conv before it: conv1, bn1, relu, maxpool, conv2...
        if isinstance(layer, ConvLayer):
            convs += 1
            x = g.conv(
                x,
                layer.conv,
                layer.kernel,
                stride=layer.stride,
                padding=layer.padding,
                groups=layer.groups,
                bias=layer.bias,
                name=f"conv{convs}",
            )
        elif isinstance(layer, NormLayer):
            # A norm before any conv normalizes the input: bn0.
            x = g.norm(x, layer.norm, name=_free(g, f"bn{convs}"))
        elif isinstance(layer, PoolLayer):
            x = g.pool(
                x,
                layer.pool,
                layer.kernel,
                layer.stride or layer.kernel,
                layer.padding,
                name=_free(g, f"{layer.pool}pool"),
            )
        else:
            x = g.act(x, layer.act, name=layer.act)
    return x


def lower_head(g: GraphBuilder, spec: ArchSpec, x: Value) -> Value:
    head = spec.head
    assert not isinstance(head, str)  # head: none has no ops
    # torchvision's avgpool; another name if the stem has a pool by that name already.
    x = g.global_pool(x, head.pool, name=_free(g, f"{head.pool}pool"))
    x = g.flatten(x)
    x = g.dropout(x, head.dropout)
    return g.linear(x, head.classes, name="fc")


def _free(g: GraphBuilder, name: str) -> str:
    """``name``, or ``name_2``, ``name_3`` ... if a top-level module has it already: two
    layers with parameters or settings of their own must never share one module (two
    norms, two pools of different sizes, the stem's max pool and a global max pool)."""
    taken = {d["scope"] for _, d in g.graph.nodes(data=True)}
    if name not in taken:
        return name
    k = 2
    while f"{name}_{k}" in taken:
        k += 1
    return f"{name}_{k}"
