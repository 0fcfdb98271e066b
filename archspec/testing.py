"""Checks for block authors: test a new block type the way archspec tests its own.

:func:`check_block_type` builds tiny networks of one registered block type with every
skip kind it takes and runs them through what the test suite checks for the built-in
types: the analytic parameter count equals the built model's, every inferred shape the
real one, every weight gets a gradient, every module of the built tree called alone
gives what it gives inside the network, and the block's module has its class name.
A failed check raises ``AssertionError`` naming the block type, the skip and what
differed, so it reads well under pytest.

Example::

    from archspec.testing import check_block_type

    def test_my_block():
        check_block_type("twin")
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import torch
from torch import fx, nn

from archspec.errors import ArchSpecError


class _Run(fx.Interpreter):
    """One generated forward run op by op, the containers it calls the same way."""

    def __init__(self, module: fx.GraphModule, prefix: str, tree: TreeRun) -> None:
        super().__init__(module)
        self.prefix = prefix
        self.tree = tree

    def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
        path = f"{self.prefix}.{target}" if self.prefix else str(target)
        return self.tree.call(self.fetch_attr(target), path, args, kwargs)

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        tag = n.meta.get("archspec_node")
        if tag is not None and n.op != "placeholder" and isinstance(result, torch.Tensor):
            self.tree.values[tag] = result.detach().clone()
        return result


class TreeRun:
    """Runs a built model through every level of its module tree and keeps a copy of
    each IR node's value, taken before any later in-place op changes it.

    Example::

        run = TreeRun(model, archspec.lower(spec)).run(x)
        run.values["layer1.0.add"]      # the first block's merge
    """

    def __init__(self, model: nn.Module, graph: nx.DiGraph) -> None:
        self.model = model
        self.values: dict[str, torch.Tensor] = {}
        self.by_scope: dict[str, str] = {}
        for node, data in graph.nodes(data=True):
            self.by_scope.setdefault(data.scope, node)

    def call(
        self, module: nn.Module, path: str, args: Any, kwargs: Any, in_sequence: bool = False
    ) -> Any:
        if isinstance(module, fx.GraphModule):
            return _Run(module, path, self).run(*args)
        if isinstance(module, nn.Sequential):
            (x,) = args
            for i, child in enumerate(module):
                x = self.call(child, f"{path}.{i}", (x,), {}, in_sequence=True)
            return x
        out = module(*args, **kwargs)
        # Inside a generated forward, run_node tags the value; a Sequential's layers are
        # recorded by their module path.
        tag = self.by_scope.get(path) if in_sequence else None
        if tag is not None and isinstance(out, torch.Tensor):
            self.values[tag] = out.detach().clone()
        return out

    def run(self, x: torch.Tensor) -> TreeRun:
        if not isinstance(self.model, fx.GraphModule):
            raise ArchSpecError("TreeRun runs a model built by archspec.build")
        self.output = _Run(self.model, "", self).run(x)
        return self


def assert_ir_shapes(graph: nx.DiGraph, model: nn.Module, x: torch.Tensor) -> None:
    """Every op's output has the shape the graph IR inferred for it (batch aside). Ops
    inside a checkpointed region run within one call, checked through its output."""
    was_training = model.training
    with torch.no_grad():
        run = TreeRun(model, graph).run(x)
    model.train(was_training)
    for ir_node, value in run.values.items():
        expected = (x.shape[0], *graph.nodes[ir_node].shape)
        assert tuple(value.shape) == expected, (ir_node, tuple(value.shape), expected)
    in_regions = {n for region in graph.graph.get("checkpoints", ()) for n in region}
    ops = {n for n, d in graph.nodes(data=True) if d.op != "input"}
    missing = ops - in_regions - set(run.values)
    assert not missing, f"ops never run: {sorted(missing)[:5]}"


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple | list):
        return type(value)(_clone(v) for v in value)
    return value


def assert_modules_work_alone(model: nn.Module, x: torch.Tensor) -> int:
    """Every module of the tree, called alone on the inputs it got inside the network,
    gives what it gave there (eval mode, bit for bit), and no container (stage, block,
    downsample ...) writes over the tensors its caller hands it. Returns how many were checked."""
    model.eval()
    seen: dict[str, list[Any]] = {}
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def pre(mod: nn.Module, args: tuple[Any, ...], name: str = name) -> None:
            seen.setdefault(name, [_clone(args), None])

        def post(mod: nn.Module, args: Any, out: Any, name: str = name) -> None:
            if seen[name][1] is None:
                seen[name][1] = _clone(out)

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    with torch.no_grad():
        for name, (args, expected) in seen.items():
            given = _clone(args)
            got = model.get_submodule(name)(*given)
            torch.testing.assert_close(got, expected, rtol=0, atol=0, equal_nan=True, msg=name)
            if next(model.get_submodule(name).children(), None) is not None:
                # a container; an in-place layer (ReLU(inplace=True)) writes over its input
                # by design, as in any hand-written model
                torch.testing.assert_close(
                    given, args, rtol=0, atol=0, equal_nan=True, msg=f"{name} changed its input"
                )
    return len(seen)


# A small input at each rank, as check_block_type runs a block type: a 1-D signal of 32,
# a 16x16 image, a clip of 4 frames of 16x16.
RANK_SIZES: tuple[int | list[int], ...] = ([32], 16, [4, 16, 16])


def tiny_block_spec(
    block: str, skip: str, size: int | list[int] = 16, **settings: Any
) -> dict[str, Any]:
    """Two stages of two blocks: the first changes the channels, the second also the
    size, so every skip kind meets both of its cases. ``size`` is the input's, at any
    rank (``[32]``, ``16``, ``[4, 16, 16]``)."""
    return {
        "name": f"check_{block}",
        "input": {"channels": 3, "size": size},
        "stem": {"type": "cifar", "width": 8},
        "defaults": {"block": block, "skip": skip, **settings},
        "stages": [{"depth": 2, "width": 32}, {"depth": 2, "width": 64, "stride": 2}],
        "head": {"classes": 5},
    }


def check_block_type(name: str, *, size: int | list[int] | None = None, **settings: Any) -> None:
    """Check registered block type ``name`` with every skip kind it takes, in networks of
    :func:`tiny_block_spec` (``settings`` are added to every block), at ranks 1, 2 and 3
    (or at the one input ``size`` given). Raises ``AssertionError`` on the first check
    that fails, naming what differed.

    Example::

        check_block_type("bottleneck", stride_at="1x1")
    """
    import archspec
    from archspec.blocks import blocks
    from archspec.blocks.skips import SKIPS
    from archspec.spec.load import from_data

    block_type = blocks().get(name)
    if block_type is None:
        raise ArchSpecError(f"no block type {name!r}; registered: {', '.join(blocks())}")
    sizes = RANK_SIZES if size is None else (size,)
    for skip, size in ((k, n) for k in block_type.config.skip_kinds or tuple(SKIPS) for n in sizes):
        where = f"block {name!r}, skip {skip!r}, input size {size}"
        spec = from_data(tiny_block_spec(name, skip, size, **settings), f"<{where}>")
        graph = archspec.lower(spec)
        model = archspec.build(spec, seed=0)
        params = sum(p.numel() for p in model.parameters())
        assert params == archspec.stats(spec).params, (where, params, archspec.stats(spec).params)
        # Each block's module, wherever its stage holds it (layer1.0, layer1.blocks.0).
        scopes = [record.scope for record in graph.graph["blocks"]]
        classes = {type(model.get_submodule(scope)).__name__ for scope in scopes}
        assert classes == {block_type.module_class}, (where, block_type.module_class, classes)
        shape = (size, size) if isinstance(size, int) else tuple(size)
        x = torch.randn(2, 3, *shape, generator=torch.Generator().manual_seed(0))
        assert_ir_shapes(graph, model, x)
        model.train()
        out = model(x)
        assert out.shape == (2, 5) and bool(torch.isfinite(out).all()), (where, out.shape)
        out.square().mean().backward()
        dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
        assert not dead, (where, "no gradient", dead[:5])
        assert_modules_work_alone(model, x)
