"""The built module: generated straight-line forward code, torch.compile and
torch.export, channels_last, the meta device, seeding, and the memory guard."""

from __future__ import annotations

import ast
import builtins

import pytest
import torch
from helpers import assert_ir_shapes, generated_modules, module_nodes, n_params, spec_of, tiny_spec
from torch import fx

import archspec
from archspec.graph.ops import ACTS, is_module
from archspec.spec.limits import MAX_CHANNELS


@pytest.fixture(scope="module")
def resnet20() -> fx.GraphModule:
    return archspec.build("resnet20", seed=0).eval()


def _x(batch: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


# --- generated code --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet20", "resnet50", "preact_resnet164", "plain20"])
def test_every_forward_is_straight_line_code(name: str) -> None:
    graph = archspec.lower(name)
    model = archspec.build(name, device="meta")
    assert isinstance(model, fx.GraphModule)
    generated = generated_modules(model)
    assert {type(m).__name__ for _, m in generated} >= {"BasicBlock", "PreActBlock"} & {
        r.module_class for r in graph.graph["blocks"]
    }
    ops = [n for n, d in graph.nodes(data=True) if d["op"] != "input"]
    statements = 0
    for path, module in generated:
        tree = ast.parse(module.code)
        (forward,) = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        assert forward.name == "forward"
        loops = (ast.For, ast.While, ast.AsyncFor, ast.ListComp, ast.DictComp, ast.GeneratorExp)
        assert not [n for n in ast.walk(forward) if isinstance(n, loops)]
        assert not [n for n in ast.walk(forward) if isinstance(n, ast.Dict | ast.Lambda | ast.If)]
        # one line per op or per call of a container (plus the `= None` frees)
        body = [line for line in module.code.strip().splitlines()[1:] if line.strip()]
        assert body[-1].strip().startswith("return ")
        containers = [n for n in module_nodes(module) if "archspec_module" in n.meta]
        statements += len(body) - 1 - len(containers)
        # each activation is released on the line of its last use, as hand-written code
        # releases it when the name goes out of use
        last_use: dict[str, int] = {}
        freed: dict[str, int] = {}
        for stmt in forward.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant):
                assert stmt.value.value is None
                for target in stmt.targets:
                    freed[target.id] = stmt.lineno
                continue
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    last_use[node.id] = stmt.lineno
        returned = {n.id for n in ast.walk(forward.body[-1]) if isinstance(n, ast.Name)}
        functions = {"self", *module.forward.__globals__, *vars(builtins)}  # not activations
        assert set(freed) == set(last_use) - functions - returned, path
        assert all(freed[name] == last_use[name] for name in freed)
    # every op of the graph is one statement somewhere in the tree, but ops inside an
    # nn.Sequential (a chain the Sequential runs itself)
    in_chains = sum(
        not isinstance(child, fx.GraphModule | torch.nn.Sequential)
        for _, m in model.named_modules()
        if isinstance(m, torch.nn.Sequential)
        for child in m
    )
    assert statements == len(ops) - in_chains
    # the code calls each module by its spec path
    scopes = {d["scope"] for _, d in graph.nodes(data=True) if is_module(d["op"])}
    leaves = {name for name, m in model.named_modules() if not list(m.children()) and name}
    assert leaves == scopes


def test_class_name_comes_from_the_spec() -> None:
    assert type(archspec.build("resnet20", device="meta")).__name__ == "Resnet20"
    spec = archspec.load("resnet20").override({"name": "9-lives.v2"})
    assert type(archspec.build(spec, device="meta")).__name__.isidentifier()


# --- compile and export ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_torch_compile_fullgraph(resnet20: fx.GraphModule, backend: str) -> None:
    torch._dynamo.reset()
    compiled = torch.compile(resnet20, fullgraph=True, backend=backend)
    x = _x()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), resnet20(x))


@pytest.mark.slow
def test_torch_compile_fullgraph_trains() -> None:
    """Backward through the compiled graph, in training mode (in-place adds and ReLUs)."""
    torch._dynamo.reset()
    eager = archspec.build("resnet20", seed=0)
    twin = archspec.build("resnet20", seed=0)
    compiled = torch.compile(twin, fullgraph=True, backend="aot_eager")
    x = _x()
    eager(x).sum().backward()
    compiled(x).sum().backward()
    for (name, a), (_, b) in zip(eager.named_parameters(), twin.named_parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-4, rtol=1e-4, msg=name)


@pytest.mark.slow
def test_torch_compile_inductor(resnet20: fx.GraphModule) -> None:
    """The default backend (about 25 s here on one core, well under a minute)."""
    torch._dynamo.reset()
    compiled = torch.compile(resnet20, fullgraph=True)
    x = _x()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), resnet20(x), atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_torch_export_matches_eager(resnet20: fx.GraphModule, tmp_path) -> None:
    x = _x()
    program = torch.export.export(resnet20, (x,))
    with torch.no_grad():
        expected = resnet20(x)
        torch.testing.assert_close(program.module()(x), expected, atol=0, rtol=0)
        # another input through the same program, and a save / load round trip
        y = _x(seed=1)
        torch.testing.assert_close(program.module()(y), resnet20(y), atol=0, rtol=0)
    path = tmp_path / "resnet20.pt2"
    torch.export.save(program, path)
    loaded = torch.export.load(path)
    with torch.no_grad():
        torch.testing.assert_close(loaded.module()(x), expected, atol=0, rtol=0)


def test_torch_export_with_dynamic_batch(resnet20: fx.GraphModule) -> None:
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(resnet20, (_x(batch=2),), dynamic_shapes=({0: batch},))
    x = _x(batch=5)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), resnet20(x))


# --- memory format, devices, seeds ----------------------------------------------------


@pytest.mark.parametrize("name", ["resnet20", "preact_resnet164"])
def test_channels_last_gives_the_same_output(name: str) -> None:
    model = archspec.build(name, seed=0, overrides={"stages.0.depth": 1}).eval()
    x = _x()
    with torch.no_grad():
        expected = model(x)
        model_cl = archspec.build(name, seed=0, overrides={"stages.0.depth": 1}).eval()
        model_cl = model_cl.to(memory_format=torch.channels_last)
        got = model_cl(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_meta_device_allocates_nothing() -> None:
    # ~6.6e11 parameters: 2.6 TB of float32 that must never be allocated
    widths = {f"stages.{i}.width": MAX_CHANNELS for i in range(3)}
    spec = archspec.load("resnet20", overrides=widths)
    params = archspec.stats(spec).params
    assert params > 5e11
    model = archspec.build(spec, device="meta")
    tensors = [*model.parameters(), *model.buffers()]
    assert tensors and all(t.is_meta for t in tensors)
    assert n_params(model) == params
    # and a meta model still traces shapes
    out = model(torch.empty(2, 3, 32, 32, device="meta"))
    assert out.is_meta and out.shape == (2, 10)


def test_dtype_and_device_arguments() -> None:
    model = archspec.build("resnet20", seed=0, dtype=torch.float64, device=torch.device("cpu"))
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    assert model(_x().double()).dtype == torch.float64


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_seed_makes_weights_reproducible_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = _state(archspec.build("resnet20", seed=0))
    assert torch.equal(torch.get_rng_state(), before), "seed=N must not touch the global RNG"
    b = _state(archspec.build("resnet20", seed=0))
    c = _state(archspec.build("resnet20", seed=1))
    assert _same(a, b)
    assert not _same(a, c)


def test_seed_none_uses_the_global_rng() -> None:
    torch.manual_seed(5)
    a = _state(archspec.build("resnet20"))
    b = _state(archspec.build("resnet20"))
    assert not _same(a, b), "unseeded builds differ"
    torch.manual_seed(5)
    assert _same(_state(archspec.build("resnet20")), a), "and follow torch.manual_seed"


def test_weights_are_initialized_not_left_empty() -> None:
    """to_empty() leaves garbage; every tensor must be written by the init."""
    for _ in range(2):
        model = archspec.build("resnet56", seed=None)
        for name, t in model.state_dict().items():
            assert torch.isfinite(t.float()).all(), name
            if name.endswith("running_var"):
                assert torch.equal(t, torch.ones_like(t)), name
            elif name.endswith(("running_mean", "bn1.bias", "bn2.bias")):
                assert not t.any(), name


# --- the memory guard ------------------------------------------------------------------


def test_weights_too_large_for_memory_raise_before_allocating() -> None:
    widths = {f"stages.{i}.width": MAX_CHANNELS for i in range(3)}
    # The message quotes the analytic size: refused from the count, not by trying.
    with pytest.raises(archspec.GraphError, match=r"GiB.*device='meta'") as info:
        archspec.build("resnet20", overrides=widths, seed=0)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, archspec.ArchSpecError)
    # the same guard applies to lower-precision and double weights alike
    with pytest.raises(archspec.GraphError):
        archspec.build("resnet20", overrides=widths, dtype=torch.float16)


# --- regressions: module sharing and in-place ops ---------------------------------------


@pytest.mark.parametrize(
    ("stem", "pool"),
    [
        ("imagenet", "max"),  # the stem's maxpool and a global max pool
        ([{"conv": 8}, {"pool": "avg"}], "avg"),  # a stem avgpool and the global one
        ([{"norm": "batch"}, {"conv": 8}, {"norm": "batch"}, {"norm": "batch"}], "avg"),
        (
            [{"conv": 8}, {"pool": "max"}, {"pool": "max", "kernel": 3, "stride": 1, "padding": 1}],
            "max",
        ),
    ],
    ids=["imagenet-maxhead", "two-avgpools", "three-norms", "two-maxpools"],
)
def test_layers_never_share_a_module(stem: object, pool: str) -> None:
    data = tiny_spec(size=64)
    data["stem"] = stem
    data["head"]["pool"] = pool
    spec = spec_of(data)
    graph = archspec.lower(spec)
    model = archspec.build(spec, seed=0)
    module_ops = [
        d for _, d in graph.nodes(data=True) if d["op"] in ("norm", "pool", "global_pool")
    ]
    assert len({d["scope"] for d in module_ops}) == len(module_ops), "one module per layer"
    assert_ir_shapes(graph, model, torch.randn(2, 3, 64, 64))
    assert n_params(model) == archspec.stats(spec).params


def test_the_builder_refuses_two_layers_on_one_module_path() -> None:
    from archspec.graph.builder import GraphBuilder

    g = GraphBuilder("t", (3, 8, 8))
    x = g.conv(g.input, 4, 3, name="conv")
    x = g.norm(x, "batch", name="bn")
    g.act(g.act(x, "relu", name="relu"), "relu", name="relu")  # a module called twice: fine
    with pytest.raises(archspec.GraphError, match="share"):
        g.norm(x, "batch", name="bn")  # a second norm would share the first one's weights
    with pytest.raises(archspec.GraphError, match="share"):
        g.pool(x, "max", 2, 2, name="conv")


@pytest.mark.parametrize("act", sorted(ACTS))
@pytest.mark.parametrize("memory_efficient", [False, True])
def test_in_place_ops_never_overwrite_what_backward_needs(act: str, memory_efficient: bool) -> None:
    """Activation after activation (dense layers without norms), inside and at the edge
    of checkpointed regions: backward must still run and match an out-of-place twin."""
    if "dense" not in archspec.blocks.blocks():
        pytest.skip("no dense block type registered")
    extra = {"norm": "none", "act": act, "memory_efficient": memory_efficient}
    spec = spec_of(tiny_spec("dense", skip="none", extra=extra))
    model = archspec.build(spec, seed=0)
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    model(x).sum().backward()
    twin = archspec.build(spec, seed=0)
    for module in twin.modules():
        if hasattr(module, "inplace"):
            module.inplace = False
    twin(x).sum().backward()
    for (name, a), (_, b) in zip(model.named_parameters(), twin.named_parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def test_in_place_ops_stay_where_torchvision_has_them() -> None:
    """The memory saving is kept where it is safe: ReLU after norm, `out += identity`."""
    model = archspec.build("resnet50", device="meta")
    relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    assert relus and all(m.inplace for m in relus)
    assert sum(m.code.count("+=") for _, m in generated_modules(model)) == 16


def test_a_dilated_conv_op_builds_the_dilation_its_shape_rule_assumed() -> None:
    from archspec.codegen.torch_module import build_module
    from archspec.graph.builder import GraphBuilder

    g = GraphBuilder("dilated", (3, 17, 17))
    params = dict(in_channels=3, out_channels=4, kernel=3, stride=1, padding=0, groups=1)
    x = g.op("conv", "conv1", [g.input], bias=False, dilation=2, **params)
    graph = g.finish(x)
    model = build_module(graph, seed=0)
    assert model.conv1.dilation == (2, 2)
    assert tuple(model(torch.randn(1, 3, 17, 17)).shape[1:]) == graph.nodes["conv1"]["shape"]
