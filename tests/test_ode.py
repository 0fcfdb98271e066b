"""ODE stages (archspec/spec/ode.py, lowering/ode.py, nn/ode.py): the spec errors, the
honest costs, and the numbers: N shared-weight residual blocks are N Euler steps."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import archspec
from archspec.errors import ArchSpecError, SpecError

torchdiffeq = pytest.importorskip("torchdiffeq")

TINY = {
    "name": "tiny_ode",
    "input": {"channels": 1, "size": 8},
    "stem": [{"conv": 4, "kernel": 3}],
    "defaults": {"block": "preact"},
    "stages": [{"depth": 3, "width": 4}],
    "head": {"pool": "avg", "classes": 3},
}


def tiny(ode: dict | None = None, **stage: object) -> archspec.ArchSpec:
    data = {**TINY, "stages": [{**TINY["stages"][0], **stage}]}
    if ode is not None:
        data["stages"][0]["ode"] = ode
    return archspec.ArchSpec(**data)


def test_shared_weight_blocks_equal_euler_steps() -> None:
    """x_{k+1} = x_k + f(x_k), N times with one f, is N Euler steps of size T/N = 1."""
    n = 3
    ode = archspec.build(tiny({"solver": "euler", "steps": n, "t": float(n)}), seed=0).eval()
    discrete = archspec.build(tiny(depth=n), seed=1).eval()
    state = discrete.state_dict()
    for key, value in ode.state_dict().items():
        if key.startswith("layer1.func."):
            for k in range(n):
                state[key.replace("layer1.func.", f"layer1.{k}.")] = value
        else:
            state[key] = value
    discrete.load_state_dict(state)
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(ode(x), discrete(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("solver", ["euler", "midpoint", "rk4"])
def test_fixed_grid_matches_torchdiffeq(solver: str) -> None:
    model = archspec.build(tiny({"solver": solver, "steps": 3, "t": 0.5}), seed=0).eval()
    stage = model.layer1
    x = torch.randn(2, 4, 8, 8)
    span = torch.tensor([0.0, 0.5])
    with torch.no_grad():
        ref = torchdiffeq.odeint(
            lambda t, y: stage.func(y), x, span, method=solver, options={"step_size": 0.5 / 3}
        )[-1]
        torch.testing.assert_close(stage(x), ref, rtol=1e-5, atol=1e-6)


def test_adaptive_and_adjoint_run_and_count() -> None:
    model = archspec.build(tiny({"solver": "dopri5", "rtol": 1e-4, "atol": 1e-5}), seed=0)
    x = torch.randn(2, 1, 8, 8)
    model(x).sum().backward()
    assert model.layer1.last_evals >= 6  # dopri5 takes 6 evaluations a step, at least
    stats = archspec.stats(model_spec := tiny({"solver": "dopri5"}))
    assert stats.data_dependent and stats.ode_evals == {"layer1.func": None}
    # The adjoint's gradient solves backwards in time: it is the continuous gradient, equal
    # to backpropagation through the steps up to the solver's error (eval mode: batch
    # statistics of re-solved states would differ); the ReLUs' kinks keep it near 1%.
    adj = archspec.build(tiny({"solver": "rk4", "steps": 8, "adjoint": True}), seed=0).eval()
    ref = archspec.build(tiny({"solver": "rk4", "steps": 8}), seed=0).eval()
    y, y_ref = adj(x), ref(x)
    torch.testing.assert_close(y, y_ref)
    y.sum().backward()
    y_ref.sum().backward()
    for (name, p), q in zip(adj.named_parameters(), ref.parameters(), strict=True):
        scale = float(q.grad.abs().max())
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=0.02 * scale, msg=name)
    del model_spec


@pytest.mark.parametrize(("solver", "per_step"), [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_macs_count_every_evaluation(solver: str, per_step: int) -> None:
    one = archspec.stats(tiny({"solver": solver, "steps": 1}))
    five = archspec.stats(tiny({"solver": solver, "steps": 5}))
    branch = archspec.stats(tiny({"solver": "euler", "steps": 1})).per_stage["layer1"]["macs"]
    assert one.params == five.params
    assert five.per_stage["layer1"]["macs"] == 5 * per_step * branch
    assert five.ode_evals == {"layer1.func": 5 * per_step} and not five.data_dependent


@pytest.mark.parametrize(
    ("ode", "field", "words"),
    [
        ({"solver": "rk5"}, "stages[0].ode.solver", "rk4"),
        ({"stpes": 2}, "stages[0].ode.stpes", "did you mean 'steps'"),
        ({"solver": "euler", "rtol": 0.1}, "stages[0].ode", "adaptive"),
        ({"solver": "dopri5", "steps": 3}, "stages[0].ode", "fixed-grid"),
        ({"steps": 0}, "stages[0].ode.steps", "greater than or equal"),
        ("rk4", "stages[0].ode", "mapping"),
    ],
)
def test_bad_ode_settings_are_spec_errors(ode: object, field: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        tiny(ode)  # type: ignore[arg-type]
    assert info.value.field == field and words in str(info.value)


def test_ode_stage_keeps_names_and_changes_the_id() -> None:
    spec = tiny({"solver": "rk4", "steps": 2})
    assert spec.arch_id != tiny().arch_id != tiny({"solver": "rk4", "steps": 3}).arch_id
    assert archspec.ArchSpec.from_yaml(spec.to_yaml()) == spec
    names = set(archspec.build(spec, device="meta").state_dict())
    assert "layer1.func.conv1.weight" in names and "layer1.func.bn1.running_mean" in names


def test_shape_changing_stage_keeps_its_first_block_discrete() -> None:
    spec = archspec.load("ode_resnet56")
    model = archspec.build(spec, device="meta")
    assert hasattr(model.layer2, "0") and hasattr(model.layer2, "func")
    assert not hasattr(model.layer1, "0")
    assert archspec.stats(spec).output_shape == (10,)


def test_dense_and_other_skips_are_refused() -> None:
    with pytest.raises(ArchSpecError, match="identity"):
        archspec.lower(tiny({"solver": "euler"}, skip="gated"))


def test_export_fixed_grid_and_refuse_adaptive() -> None:
    x = torch.randn(2, 1, 8, 8)
    model = archspec.build(tiny({"solver": "rk4", "steps": 2}), seed=0).eval()
    program = torch.export.export(model, (x,))
    torch.testing.assert_close(program.module()(x), model(x))
    adaptive = archspec.build(tiny({"solver": "dopri5"}), seed=0).eval()
    with pytest.raises(Exception, match="eagerly only"):
        torch.export.export(adaptive, (x,))


@pytest.mark.slow
def test_compile_fixed_grid() -> None:
    x = torch.randn(2, 1, 8, 8)
    model = archspec.build(tiny({"solver": "midpoint", "steps": 2}), seed=0).eval()
    compiled = torch.compile(model, fullgraph=True)
    torch.testing.assert_close(compiled(x), model(x))


def test_gradflow_compares_ode_and_discrete_stages() -> None:
    """gradflow reads an ODE stage's branch as one block, beside the discrete blocks."""
    ode = archspec.gradflow(tiny({"solver": "euler", "steps": 3, "t": 3.0}), batch=4, seed=0)
    discrete = archspec.gradflow(tiny(depth=3), batch=4, seed=0)
    assert [b.scope for b in ode.blocks] == ["layer1.func"]
    assert [b.scope for b in discrete.blocks] == ["layer1.0", "layer1.1", "layer1.2"]
    (func,) = ode.blocks
    assert func.params == discrete.blocks[0].params and func.param_grad_norm > 0


def test_gradflow_output_gradient_of_an_ode_is_its_solutions() -> None:
    """rk4's last evaluation enters the state as h/8 of it: the branch's output gradient
    is that of the stage's output, the ODE's solution, whatever the solver."""
    spec = tiny({"solver": "rk4", "steps": 2, "t": 1.0})
    (func,) = archspec.gradflow(spec, batch=4, seed=0).blocks
    # gradflow's documented pass: the net built with the seed, a standard-normal batch
    # and random labels drawn after seeding, training mode.
    model = archspec.build(spec, seed=0).train()
    torch.manual_seed(0)
    x, y = torch.randn(4, 1, 8, 8), torch.randint(0, 3, (4,))
    kept: list[torch.Tensor] = []

    def keep(module: torch.nn.Module, args: object, out: torch.Tensor) -> None:
        out.retain_grad()
        kept.append(out)

    model.layer1.register_forward_hook(keep)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    assert func.output_grad_norm == pytest.approx(float(kept[0].grad.double().norm()), rel=1e-6)


@pytest.mark.slow
def test_docs_page_examples_run(tmp_path: Path) -> None:
    """docs/ode.md: every Python block runs as written, in a fresh interpreter."""
    page = (Path(__file__).parent.parent / "docs" / "ode.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    assert len(blocks) == 4
    for code in blocks:
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-2000:]


def test_summary_states_and_measures_evaluations() -> None:
    fixed = archspec.summary(tiny({"solver": "rk4", "steps": 2}), depth=1)
    assert any("MACs count 8 evaluations of layer1.func" in n for n in fixed.notes)
    plain = archspec.summary(tiny({"solver": "dopri5"}), depth=1)
    assert any("depends on the data" in n and "measure_ode" in n for n in plain.notes)
    measured = archspec.summary(tiny({"solver": "dopri5"}), depth=1, measure_ode=True)
    (note,) = [n for n in measured.notes if "random batch" in n]
    count = int(note.split("; ")[1].split()[0])
    assert count >= 6 and count % 1 == 0


def test_cli_summary_measure_ode(tmp_path: Path) -> None:
    path = tmp_path / "ode.yaml"
    path.write_text(tiny({"solver": "dopri5"}).to_yaml())
    proc = subprocess.run(
        [sys.executable, "-m", "archspec.cli", "summary", str(path), "-d", "1", "--measure-ode"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "on a random batch of 1" in " ".join(proc.stderr.split())  # notes go to stderr


def test_render_shows_the_solver(tmp_path: Path) -> None:
    for detail in ("block", "layer"):
        out = tmp_path / f"{detail}.dot"
        archspec.render("ode_resnet56", out, detail=detail)
        assert "ODE euler 9 steps, t=9 (9 evals)" in out.read_text()


def test_depth_counts_the_branch_once_per_evaluation() -> None:
    """ode_resnet56 is resnet56's 27 blocks as Euler steps: as deep, 56 weighted layers."""
    from archspec.report.counts import network_depth

    assert network_depth(archspec.lower("ode_resnet56")) == 56
    assert network_depth(archspec.lower("resnet56")) == 56
    # rk4's 4 evaluations a step, one after another: stem 1 + 2·4·2 + head 1.
    assert network_depth(archspec.lower(tiny({"solver": "rk4", "steps": 2}))) == 18
    assert network_depth(archspec.lower(tiny({"solver": "dopri5"}))) == 4  # one evaluation


def test_compare_marks_data_dependent_macs() -> None:
    from archspec.report.compare import compare_rows, side_by_side

    rows = compare_rows([archspec.lower(n) for n in ("ode_resnet56", "odenet_mnist")])
    assert [r.to_json()["macs_data_dependent"] for r in rows] == [False, True]
    table = {row[0]: row[1:] for row in side_by_side(rows)[1]}
    assert table["MACs data-dependent"] == ["no", "yes (1 ODE eval)"]
    plain = side_by_side(compare_rows([archspec.lower("resnet20")]))[1]
    assert "MACs data-dependent" not in {row[0] for row in plain}


def test_stage_detail_says_ode_not_depth_blocks() -> None:
    """A stage node names the solver and its evaluations, not `9 × basic, skip: none`."""
    from archspec.render.view import build_view

    labels = {n.id: n.label for n in build_view(archspec.lower("ode_resnet56"), "stage").nodes}
    assert labels["layer1"].splitlines()[:2] == [
        "layer1: ODE of a basic branch, width 16",
        "ODE euler 9 steps, t=9 (9 evals)",
    ]
    assert labels["layer2"].splitlines()[1] == (
        "skip: pad (first block), ODE euler 8 steps, t=8 (8 evals)"
    )
    adaptive = build_view(archspec.lower("odenet_mnist"), "stage")
    layer1 = next(n.label for n in adaptive.nodes if n.id == "layer1")
    assert "(evals: data-dependent)" in layer1 and layer1.endswith("(1 evaluation)")
    assert "data-dependent" in adaptive.subtitle
    assert "data-dependent" not in build_view(archspec.lower("resnet20"), "stage").subtitle


@pytest.mark.slow
@pytest.mark.parametrize("ode", [{"solver": "dopri5"}, {"solver": "rk4", "adjoint": True}])
def test_compile_runs_an_eager_only_stage_or_refuses_with_fullgraph(ode: dict) -> None:
    x = torch.randn(2, 1, 8, 8)
    model = archspec.build(tiny(ode), seed=0).eval()
    with torch.no_grad():
        # Without fullgraph the stage runs eagerly between compiled graphs (traced, the
        # import of torchdiffeq failed inside scipy).
        torch.testing.assert_close(torch.compile(model)(x), model(x))
        torch._dynamo.reset()
        with pytest.raises(Exception, match="runs eagerly only"):
            torch.compile(model, fullgraph=True)(x)


def test_cli_refuses_to_export_an_adaptive_stage(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "archspec.cli", "build", "odenet_mnist", "-o", "x.pt2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "cannot export layer1 to .pt2: dopri5" in proc.stderr
    assert not (tmp_path / "x.pt2").exists()


def _time_reference(c: int) -> torch.nn.Module:
    """Chen et al.'s ODE function at c channels, by hand: norm, ReLU, a 3x3 conv of c + 1
    input channels (t first, their ConcatConv2d), twice."""
    layers = []
    for _ in range(2):
        layers += [torch.nn.BatchNorm2d(c), torch.nn.ReLU()]
        layers.append(torch.nn.Conv2d(c + 1, c, 3, padding=1, bias=False))
    return torch.nn.Sequential(*layers)


def test_time_channel_counts_the_extra_channel() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    spec = tiny({"solver": "rk4", "steps": 2, "time_channel": True})
    model = archspec.build(spec, seed=0)
    stats = archspec.stats(spec)
    ref = _time_reference(4)
    ref_params = sum(p.numel() for p in ref.parameters())
    func = model.layer1.func
    assert sum(p.numel() for p in func.parameters()) == ref_params
    assert stats.per_stage["layer1"]["params"] == ref_params
    assert stats.params == sum(p.numel() for p in model.parameters())
    assert func.conv1.weight.shape == (4, 5, 3, 3)
    # MACs: each of the 8 evaluations runs both convs over 5 input channels.
    with torch.device("meta"):
        convs = [m for m in _time_reference(4) if isinstance(m, torch.nn.Conv2d)]
        with FlopCounterMode(display=False) as counter:
            for conv in convs:
                conv(torch.empty(1, 5, 8, 8))
    assert stats.per_stage["layer1"]["macs"] == 8 * counter.get_total_flops() // 2
    assert stats.params - archspec.stats(tiny({"solver": "rk4"})).params == 2 * 4 * 9
    summary = archspec.summary(spec, depth=3)
    assert summary.params == stats.params


@pytest.mark.parametrize("solver", ["euler", "midpoint", "rk4"])
def test_time_channel_matches_torchdiffeq(solver: str) -> None:
    spec = tiny({"solver": solver, "steps": 3, "t": 0.5, "time_channel": True})
    stage = archspec.build(spec, seed=0).eval().layer1
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        ref = torchdiffeq.odeint(
            lambda t, y: stage.func(y, t),
            x,
            torch.tensor([0.0, 0.5]),
            method=solver,
            options={"step_size": 0.5 / 3},
        )[-1]
        torch.testing.assert_close(stage(x), ref, rtol=1e-5, atol=1e-6)


def test_time_channel_changes_the_output_and_zeroed_is_euler_steps() -> None:
    """t reaches the convs: the output differs from the stage without time; with the
    weights on t zeroed it equals that stage, and so N shared-weight blocks (Euler)."""
    n = 3
    timed = archspec.build(
        tiny({"solver": "euler", "steps": n, "t": float(n), "time_channel": True}), seed=0
    ).eval()
    plain = archspec.build(tiny({"solver": "euler", "steps": n, "t": float(n)}), seed=1).eval()
    discrete = archspec.build(tiny(depth=n), seed=2).eval()
    state = {k: (v[:, 1:] if "func.conv" in k else v) for k, v in timed.state_dict().items()}
    plain.load_state_dict(state)
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        assert (timed(x) - plain(x)).abs().max() > 1e-4
        for key in ("layer1.func.conv1.weight", "layer1.func.conv2.weight"):
            timed.get_parameter(key)[:, 0] = 0
        torch.testing.assert_close(timed(x), plain(x), rtol=1e-6, atol=1e-6)
        shared = {}
        for key, value in plain.state_dict().items():
            for k in range(n) if key.startswith("layer1.func.") else [None]:
                shared[key if k is None else key.replace("layer1.func.", f"layer1.{k}.")] = value
        discrete.load_state_dict(shared)
        torch.testing.assert_close(timed(x), discrete(x), rtol=1e-6, atol=1e-6)


def test_time_channel_refusals() -> None:
    with pytest.raises(SpecError) as info:
        tiny({"time_channel": "yes"})
    assert info.value.field == "stages[0].ode.time_channel"
    grouped = tiny({"time_channel": True}, block="resnext", groups=2, base_width=2, width=4)
    with pytest.raises(ArchSpecError, match="grouped conv"):
        archspec.lower(grouped)


def test_every_ode_setting_reaches_the_built_stage() -> None:
    # OdeSpec.solver_settings() is handed to OdeStage as keywords: a new setting must be
    # one of its parameters (and every parameter but the modules a setting).
    import inspect

    from archspec.nn.ode import OdeStage
    from archspec.spec.ode import OdeSpec

    params = inspect.signature(OdeStage.__init__).parameters
    keywords = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(OdeSpec().solver_settings()) == keywords - {"first"}
