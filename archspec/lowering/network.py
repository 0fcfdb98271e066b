"""Lowering: an :class:`~archspec.spec.model.ArchSpec` becomes the graph IR.

stem -> stages (each ``depth`` blocks, lowered by the block type's own rule) -> head.
Scopes follow torchvision's ResNet (``conv1``, ``bn1``, ``maxpool``, ``layer1.0.conv1``,
``avgpool``, ``fc``), so the built model loads its checkpoints as they are.
"""

from __future__ import annotations

from typing import Any

from archspec.blocks import get
from archspec.errors import GraphError
from archspec.graph.builder import GraphBuilder, Value
from archspec.graph.outputs import select_features
from archspec.graph.records import IRGraph
from archspec.lowering.ode import lower_ode_stage
from archspec.spec.model import ArchSpec
from archspec.spec.parts import NAMED_STEM_WIDTH, ConvLayer, NamedStem, NormLayer, PoolLayer


def lower(spec: ArchSpec) -> IRGraph:
    """The graph IR of a spec: a DiGraph of primitive ops with every shape inferred.

    Raises :class:`~archspec.errors.GraphError` where shapes disagree.

    Example::

        graph = archspec.lower(archspec.load("resnet18"))
        graph.nodes["layer1.0.conv1"].shape   # (64, 56, 56)
    """
    g = GraphBuilder(spec.name, spec.input.shape)
    g.total_blocks = sum(cfg.depth for cfg in spec.blocks)
    with g.section("stem"):
        x = lower_stem(g, spec.stem_spec, g.input)
    dilation = 1  # the network's, as torchvision's ResNet.dilation
    for i, cfg in enumerate(spec.blocks):
        previous, stride = dilation, cfg.stride
        if cfg.dilate:  # validation refused block types that cannot dilate
            dilation, stride = dilation * _one_stride(stride, i), 1
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
                        g.dilation = (previous if j == 0 else dilation, dilation)
                        x = block_type.lower(g, cfg, x, stride if j == 0 else 1)
                        record.out_shape = x.shape
                g.dilation = (1, 1)
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


def _one_stride(stride: int | tuple[int, ...], i: int) -> int:
    """A dilating stage's stride as one number: dilation is the same on every axis."""
    if isinstance(stride, int):
        return stride
    if len(set(stride)) == 1:
        return stride[0]
    raise GraphError(
        f"stage {i + 1} trades its stride {list(stride)} for dilation: a dilated stage "
        "takes one stride for every axis"
    )


def lower_stem(g: GraphBuilder, stem: NamedStem | tuple, x: Value) -> Value:
    if isinstance(stem, NamedStem):
        width = stem.width or NAMED_STEM_WIDTH.get(stem.type, 0)
        norm = stem.norm if stem.norm is not None else "batch"
        bias = norm == "none"  # as in the blocks: a conv no norm follows has a bias
        if stem.type in ("r3d", "r2plus1d"):
            return lower_video_stem(g, stem.type, width, x, norm, bias)
        if stem.type == "imagenet":
            x = g.conv(x, width, 7, stride=2, padding=3, bias=bias, name="conv1")
        elif stem.type == "deep":  # ResNet-C: three 3x3 convs replace the 7x7
            half = max(width // 2, 1)
            x = g.conv(x, half, 3, stride=2, bias=bias, name="conv1.0")
            x = g.act(g.norm(x, norm, name="conv1.1"), "relu", name="conv1.2")
            x = g.conv(x, half, 3, bias=bias, name="conv1.3")
            x = g.act(g.norm(x, norm, name="conv1.4"), "relu", name="conv1.5")
            x = g.conv(x, width, 3, bias=bias, name="conv1.6")
        elif stem.type == "cifar":
            x = g.conv(x, width, 3, bias=bias, name="conv1")
        else:
            return x
        x = g.act(g.norm(x, norm, name="bn1"), "relu", name="relu")
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
            x = g.act(x, layer.act, name=getattr(layer.act, "kind", layer.act))
    return x


def lower_video_stem(
    g: GraphBuilder, kind: str, width: int, x: Value, norm: Any = "batch", bias: bool = False
) -> Value:
    """torchvision's video stems, with its module paths (``stem.0``, ``stem.1``, ...)."""
    if kind == "r3d":  # BasicStem: frames kept, each 7x7/2
        x = g.conv(x, width, (3, 7, 7), stride=(1, 2, 2), bias=bias, name="stem.0")
        return g.act(g.norm(x, norm, name="stem.1"), "relu", name="stem.2")
    # R2Plus1dStem: 45 channels between (torchvision's number, for a width of 64)
    mid = max(width * 45 // 64, 1)
    x = g.conv(x, mid, (1, 7, 7), stride=(1, 2, 2), bias=bias, name="stem.0")
    x = g.act(g.norm(x, norm, name="stem.1"), "relu", name="stem.2")
    x = g.conv(x, width, (3, 1, 1), bias=bias, name="stem.3")
    return g.act(g.norm(x, norm, name="stem.4"), "relu", name="stem.5")


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
    taken = {d.scope for _, d in g.graph.nodes(data=True)}
    if name not in taken:
        return name
    k = 2
    while f"{name}_{k}" in taken:
        k += 1
    return f"{name}_{k}"
