"""A network's outputs: the head's, or a backbone's feature maps.

A backbone (``features:`` in a spec) returns a list of feature maps: by default the
stem's last activation before its pool and each stage's output, the last one after the
final norm where the network has one (timm's ``features_only`` points), or the outputs
of the modules it names. Lowering builds the whole network, then keeps only the ops the
outputs need, so stats, summaries, diagrams and the built model all see the same net.
"""

from __future__ import annotations

import networkx as nx

from archspec.errors import GraphError
from archspec.graph.records import FeatureRecord


def _inside(scope: str, module: str) -> bool:
    return scope == module or scope.startswith(module + ".")


def _near(graph: nx.DiGraph, module: str) -> str:
    """The modules beside a missing one, in the network's order: those of its deepest
    parent that exists, so ``layer1.9`` is answered with layer1's blocks."""
    scopes = [d.scope for _, d in graph.nodes(data=True) if d.op != "input" and d.scope]
    parts = module.split(".")
    for depth in range(len(parts) - 1, 0, -1):
        owner = ".".join(parts[:depth]) + "."
        below = [s[len(owner) :].split(".")[0] for s in scopes if s.startswith(owner)]
        if below:
            return f"{owner[:-1]} has: {', '.join(list(dict.fromkeys(below))[:20])}"
    top = list(dict.fromkeys(s.split(".")[0] for s in scopes))
    return f"the top level has: {', '.join(top[:20])}"


def module_output(graph: nx.DiGraph, module: str) -> str:
    """The IR node whose value module ``module`` returns: a layer's last call, or the
    one value a container (stage, block, ``downsample``) passes out."""
    members = [n for n, d in graph.nodes(data=True) if d.op != "input" and _inside(d.scope, module)]
    if not members:
        raise GraphError(f"features: no module {module!r} in this network; {_near(graph, module)}")
    inside = set(members)
    final = graph.graph["output"]
    leaving = [n for n in members if n == final or any(s not in inside for s in graph.succ[n])]
    if len(leaving) > 1 and any(graph.nodes[n].scope != module for n in leaving):
        raise GraphError(
            f"features: module {module!r} passes out {len(leaving)} values "
            f"({', '.join(leaving[:4])}); name one of its parts"
        )
    return leaving[-1]


def default_points(graph: nx.DiGraph) -> list[str]:
    """timm's feature points: the stem's last op before its pools, each stage's output,
    the last replaced by the final norm's activation where there is one."""
    points: list[str] = []
    stem = [n for n, d in graph.nodes(data=True) if d.stage == "stem"]
    while stem and graph.nodes[stem[-1]].op == "pool":
        stem.pop()
    if stem:
        points.append(graph.nodes[stem[-1]].scope)
    points += [record.scope for record in graph.graph["stages"]]
    end = graph.graph["features_end"]
    if graph.nodes[end].stage == "head":  # a final norm and activation
        points[-1] = graph.nodes[end].scope
    return points


def reductions(graph: nx.DiGraph) -> dict[str, int]:
    """Each op's nominal reduction: the product of the strides between the input and it
    (the least over its inputs: squeeze-excitation's pooled weights scale a map without
    changing its grid), so it does not depend on the input size (resnet50's last stage
    is 32 at 224 and at 200). A global pool spans the whole input.

    One number at every rank, as timm's ``feature_info`` has it: the reduction of the
    last spatial axis (W, or L of a 1-D signal). A stride given per axis counts its
    last entry, so a video stage with stride [1, 2, 2] halves the reduction's grid."""
    shape = graph.graph["input_shape"]
    size = shape[-1] if len(shape) > 1 else 1
    out: dict[str, int] = {}
    for node, data in graph.nodes(data=True):
        before = min((out[i] for i in data.inputs), default=1)
        if data.op == "global_pool":
            out[node] = max(before, size)
        else:
            stride = data.params.get("stride", 1)
            out[node] = before * int(stride if isinstance(stride, int) else stride[-1])
    return out


def feature_records(
    graph: nx.DiGraph, features: bool | tuple[str, ...]
) -> tuple[FeatureRecord, ...]:
    """What a backbone returning ``features`` (True: timm's points) would return, each
    output's module, node, channels and reduction; ``graph`` is left as it is."""
    names = default_points(graph) if features is True else list(features)
    if len(set(names)) != len(names):
        raise GraphError(f"features: a module is named twice in {names}")
    nodes = [module_output(graph, name) for name in names]
    regions = {n: region for region in graph.graph.get("checkpoints", ()) for n in region}
    for name, node in zip(names, nodes, strict=True):
        if node in regions and node != regions[node][-1]:
            raise GraphError(
                f"features: {name!r} is recomputed in backward with its layer "
                f"(memory_efficient); name {regions[node][-1]!r} or turn memory_efficient off"
            )
    strides = reductions(graph)
    return tuple(
        FeatureRecord(name, node, graph.nodes[node].shape[0], strides[node])
        for name, node in zip(names, nodes, strict=True)
    )


def select_features(graph: nx.DiGraph, features: bool | tuple[str, ...]) -> None:
    """Make ``graph`` a backbone returning ``features``, pruned to the ops they need."""
    records = feature_records(graph, features)
    graph.graph["features"] = records
    set_outputs(graph, [r.node for r in records])


def set_outputs(graph: nx.DiGraph, outputs: list[str]) -> None:
    """The network returns ``outputs``; every op none of them needs is removed."""
    needed = set(outputs)
    for node in outputs:
        needed |= nx.ancestors(graph, node)
    if len(needed) < graph.number_of_nodes():  # what initializes the weights in order
        graph.graph["init_order"] = [
            (n, d, graph.nodes[d.inputs[0]].shape if d.inputs else ())
            for n, d in graph.nodes(data=True)
        ]
    graph.remove_nodes_from([n for n in list(graph.nodes) if n not in needed])
    graph.graph["outputs"] = tuple(outputs)
    graph.graph["output"] = outputs[-1]
    graph.graph["output_shape"] = graph.nodes[outputs[-1]].shape
    graph.graph["output_shapes"] = tuple(graph.nodes[n].shape for n in outputs)
    present = {d.block for _, d in graph.nodes(data=True)}
    present |= {d.stage for _, d in graph.nodes(data=True)}
    for key in ("blocks", "stages"):
        graph.graph[key] = [r for r in graph.graph[key] if r.scope in present]
    regions = [[n for n in region if n in needed] for region in graph.graph.get("checkpoints", ())]
    graph.graph["checkpoints"] = [region for region in regions if region]
    if graph.graph.get("features_end") not in needed:
        graph.graph["features_end"] = None
