"""Graph IR -> a tree of ``torch.fx.GraphModule`` s, as hand-written PyTorch nests modules.

The network is first written as one flat fx graph (one statement per op), then cut along
its module paths into the top module, its stages and its blocks (codegen/tree.py). Each
forward is generated Python (fx's codegen): no dict of tensors and no loop over nodes,
so the model costs what hand-written code costs and runs under ``torch.compile``,
``torch.export`` and TorchScript. Module paths are the nodes' scopes
(``layer1.0.conv1``), so torchvision's checkpoints load by name.
"""

from __future__ import annotations

import os
from typing import Any

import networkx as nx
import torch
from torch import fx, nn

from archspec.codegen.checkpoint import regions
from archspec.codegen.network import Feature, FeatureInfo, Generated, Network, Stage
from archspec.codegen.tree import Cut, TreeCutter, camel, is_chain, parent
from archspec.errors import GraphError
from archspec.graph.ops import OPS
from archspec.graph.outputs import feature_records
from archspec.graph.stats import graph_stats

# Never allocate more than this share of physical memory for weights: refuse instead.
MAX_MEMORY_SHARE = 0.5


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


# Ops whose output autograd does not keep for their own backward (convs, norms and pools
# keep their input, if anything), so the one op reading it may overwrite it. Activations
# are not among them: ReLU, sigmoid and tanh keep their output, and an in-place ReLU
# after a ReLU (a dense layer without norms) broke backward. Nor is the input, which
# belongs to the caller, nor any op not listed here.
_OVERWRITABLE = frozenset(
    {"conv", "norm", "add", "merge", "concat", "pool", "global_pool", "linear"}
)


def _may_overwrite(graph: nx.DiGraph, source: str, reader: str) -> bool:
    """True if op ``reader`` may write its result over ``source``'s output: nothing else
    reads it, autograd does not keep it, the network does not return it, and both are
    in one module (a module never writes over a tensor its caller handed it)."""
    data = graph.nodes[source]
    return (
        data.op in _OVERWRITABLE
        and graph.out_degree(source) == 1
        and source not in graph.graph["outputs"]
        and parent(data.scope) == parent(graph.nodes[reader].scope)
    )


def _inplace_ok(
    graph: nx.DiGraph, scope_nodes: list[str], checkpointed: dict[str, Any] | None = None
) -> bool:
    for node in scope_nodes:
        source = graph.nodes[node].inputs[0]
        if not _may_overwrite(graph, source, node):
            return False
        # A checkpointed region keeps the tensors it reads to run again in backward: an
        # op there must not overwrite one of them (a dense layer without norm1 did).
        region = (checkpointed or {}).get(node)
        if region is not None and source not in region.nodes:
            return False
    return True


def _class_name(name: str) -> str:
    return camel(name, prefix="Net")


def _flat(graph: nx.DiGraph) -> tuple[fx.Graph, dict[str, nn.Module]]:
    """The whole network as one flat fx graph, every module called by its full path, and
    those modules (made on the meta device), by path."""
    uses: dict[str, list[str]] = {}
    for node, data in graph.nodes(data=True):
        if OPS[data.op].module is not None:
            uses.setdefault(data.scope, []).append(node)

    leaves: dict[str, nn.Module] = {}
    fx_graph = fx.Graph()
    env: dict[str, fx.Node] = {}
    # Modules are made on the meta device, then materialized once, so no time goes into
    # PyTorch's default init that ours would overwrite.
    checkpointed = regions(graph)
    with torch.device("meta"):
        for node, data in graph.nodes(data=True):
            op = data.op
            rule = OPS[op]
            scope = data.scope
            if rule.module is not None and scope not in leaves:
                in_shape = graph.nodes[data.inputs[0]].shape
                inplace = _inplace_ok(graph, uses[scope], checkpointed)
                leaves[scope] = rule.module(data.params, inplace, in_shape)
            region = checkpointed.get(node)
            if region is not None:  # one call computes the whole region, at its last op
                if node == region.nodes[-1]:
                    env[node] = region.emit(fx_graph, env)
                    env[node].meta["archspec_node"] = node
                    env[node].meta["archspec_scope"] = data.scope
                continue
            args = [env[i] for i in data.inputs]
            if op == "input":
                env[node] = fx_graph.placeholder("x")
            elif rule.module is not None:
                env[node] = fx_graph.call_module(scope, rule.module_call_args(args))
            elif rule.call is not None:
                # A sum is in place like torchvision's `out += identity` when nothing else
                # reads its first operand, and when that is no activation's output: ReLU,
                # sigmoid and tanh keep their output for backward, so it must not change.
                main = data.inputs[0]
                in_place = (
                    op in ("add", "merge")
                    and _may_overwrite(graph, main, node)
                    and graph.nodes[main].op != "act"
                )
                fn, call_args, kwargs = rule.call(data.params, args, in_place)
                env[node] = fx_graph.call_function(fn, call_args, kwargs)
            else:
                raise GraphError(f"no torch lowering for op {op!r}", scope=data.scope)
            # Which IR node an fx node computes, for backends that read the fx graph
            # (codegen/emit/ reads them).
            env[node].meta.setdefault("archspec_node", node)
            env[node].meta["archspec_scope"] = data.scope
    outputs = [env[node] for node in graph.graph["outputs"]]
    fx_graph.output(outputs if graph.graph.get("features") else outputs[0])
    return fx_graph, leaves


def _check_memory(graph: nx.DiGraph, device: torch.device, dtype: torch.dtype | None) -> None:
    if device.type == "meta":
        return
    need = graph_stats(graph).params * torch.finfo(dtype or torch.float32).bits // 8
    have = _physical_memory()
    if need > MAX_MEMORY_SHARE * have:
        raise GraphError(
            f"the weights alone need {need / 2**30:.1f} GiB, more than half of this "
            f"machine's {have / 2**30:.1f} GiB; build on device='meta' to inspect it"
        )


def _materialize(
    model: nn.Module,
    graph: nx.DiGraph,
    device: torch.device,
    dtype: torch.dtype | None,
    seed: int | None,
) -> nn.Module:
    if device.type != "meta":
        model = model.to_empty(device=device)
    if dtype is not None:
        model = model.to(dtype)
    if device.type != "meta":  # meta tensors hold no values to initialize
        _initialize(model, graph, seed)
    return model


def build_module(
    graph: nx.DiGraph,
    *,
    seed: int | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> Network:
    """The ``nn.Module`` tree computing ``graph``, initialized as torchvision initializes
    ResNets: the top module calls the stem's modules, the stages and the head; a stage
    calls its blocks; a block its ops (codegen/tree.py). ``device="meta"`` allocates
    nothing (shapes and parameter counts only).
    """
    device = torch.device(device)
    _check_memory(graph, device, dtype)
    flat, leaves = _flat(graph)
    classes = _container_classes(graph)
    stages = {record.scope for record in graph.graph["stages"]}

    def owner(node: fx.Node) -> str:
        if node.op == "call_module":
            return parent(str(node.target))
        return parent(node.meta["archspec_scope"])

    def make(path: str, cut: Cut) -> nn.Module:
        if is_chain(cut):
            return nn.Sequential(*(cut.modules[str(i)] for i in range(len(cut.modules))))
        name = classes.get(path) or camel(path.rsplit(".", 1)[-1])
        cls = Stage if path in stages else Generated
        return cls(cut.modules, cut.graph, class_name=name)

    top = TreeCutter(flat, leaves, owner, make).cut()
    with torch.device("meta"):
        model = Network(top.modules, top.graph, class_name=_class_name(graph.graph["name"]))
    _ode_stages(model, graph)
    model.backbone = bool(graph.graph.get("features"))
    model.feature_info = _feature_info(graph)
    model.features_path = _features_path(model, graph)
    model.classifier = _classifier(graph)
    model.num_classes = model.get_classifier().out_features if model.classifier else 0
    end = graph.graph.get("features_end")
    model.num_features = graph.nodes[end].shape[0] if model.features_path else None
    return _materialize(model, graph, device, dtype, seed)  # type: ignore[return-value]


def _ode_stages(model: nn.Module, graph: nx.DiGraph) -> None:
    """Each ODE stage's module (its first block, if any, then f, then the ode op) becomes
    an :class:`~archspec.nn.ode.OdeStage` with the same children, so the state-dict
    names stay (``layer1.func.conv1.weight``) and the forward calls the solver."""
    from archspec.nn.ode import OdeStage

    for record in graph.graph["stages"]:
        if record.ode is None:
            continue
        stage = model.get_submodule(record.scope)
        new = OdeStage(
            stage.get_submodule("func"),
            **record.ode.solver_settings(),
            first=getattr(stage, "0", None),
        )
        _set_module(model, record.scope, new)


def build_flat(
    graph: nx.DiGraph, *, seed: int | None = None, device: str | torch.device = "meta"
) -> fx.GraphModule:
    """The network as one flat ``GraphModule``, every module called by its full path from
    one forward that frees each value after its last reader (emit_python reads it; the
    tests compare the tree's allocations with it)."""
    flat, leaves = _flat(graph)
    root = nn.Module()
    for path, module in leaves.items():
        _set_module(root, path, module)
    model = fx.GraphModule(root, flat, class_name=_class_name(graph.graph["name"]))
    return _materialize(model, graph, torch.device(device), None, seed)  # type: ignore[return-value]


def _container_classes(graph: nx.DiGraph) -> dict[str, str]:
    """Class names of the stages and blocks: the block type's (``Bottleneck``)."""
    names = {r.scope: camel(r.kind) + "Stage" for r in graph.graph["stages"]}
    for record in graph.graph["blocks"]:
        names[record.scope] = record.module_class or camel(record.kind)
    return names


def _feature_info(graph: nx.DiGraph) -> FeatureInfo | None:
    """A backbone's outputs; for a classifier, as timm's classifiers have it, the maps
    its backbone would return (None where it has none: no chain up to the last stage,
    or a point recomputed in backward)."""
    features = graph.graph.get("features")
    if not features:
        if graph.graph.get("features_end") is None:
            return None
        try:
            features = feature_records(graph, True)
        except GraphError:
            return None
    return FeatureInfo([Feature(f.module, f.channels, f.reduction) for f in features])


def _features_path(model: fx.GraphModule, graph: nx.DiGraph) -> tuple[str, ...]:
    """The top module's calls from its input up to the last stage's map (and the final
    norm after it): forward_features runs them in turn. Empty if they are no chain."""
    end = graph.graph.get("features_end")
    path: list[str] = []
    value: fx.Node | None = None
    for node in model.graph.nodes:
        if node.op == "placeholder":
            value = node
            continue
        if end is None or node.op != "call_module" or node.args != (value,) or node.kwargs:
            return ()
        path.append(str(node.target))
        value = node
        if end in node.meta.get("archspec_outputs", (node.meta.get("archspec_node"),)):
            return tuple(path)
    return ()


def _classifier(graph: nx.DiGraph) -> str | None:
    """The module path of the final linear layer, if the network ends with one."""
    last = graph.nodes[graph.graph["outputs"][-1]]
    return last.scope if last.op == "linear" and not graph.graph.get("features") else None


def _set_module(root: nn.Module, path: str, module: nn.Module) -> None:
    *parents, leaf = path.split(".")
    node = root
    for part in parents:
        child = getattr(node, part, None)
        if child is None:
            child = nn.Module()
            node.add_module(part, child)
        node = child
    node.add_module(leaf, module)


@torch.no_grad()
def _initialize(model: nn.Module, graph: nx.DiGraph, seed: int | None) -> None:
    """torchvision's ResNet init: Kaiming normal (fan_out) convs, norms at 1 and 0,
    linear layers at PyTorch's default; ``init: zero`` nodes start at zero."""
    # A backbone is initialized in the order of the whole network, the layers it leaves
    # out included (made and dropped), so it gets the weights its classifier would.
    order = graph.graph.get("init_order") or [
        (node, data, graph.nodes[data.inputs[0]].shape if data.inputs else ())
        for node, data in graph.nodes(data=True)
    ]
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        for node, data, in_shape in order:
            rule = OPS[data.op]
            if rule.module is None or data.call:
                continue
            if node in graph:
                module = model.get_submodule(data.scope)
            elif seed is None:
                continue
            else:  # made on meta: a constructor's own init would draw numbers too
                with torch.device("meta"):
                    module = rule.module(data.params, False, in_shape)
                module = module.to_empty(device="cpu")
            rule.init(module, data.params, data.init == "zero")
