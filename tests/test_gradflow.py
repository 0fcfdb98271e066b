"""Gradient flow at initialization: the numbers are the real gradients, for every block
type and skip kind, reproducible by seed; the CLI plots them."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import archspec
from archspec.analysis.gradflow import GradFlow, block_outputs
from archspec.analysis.gradflow_plot import FORMATS, plot_gradflow
from archspec.blocks import blocks
from archspec.blocks.skips import SKIPS
from archspec.cli import main
from archspec.lowering import lower
from archspec.spec.load import from_data

SMALL = {"input_size": 16, "batch": 4, "seed": 0}
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "gradflow"
# Two xdist workers share two cores: a second torch thread each would only wait.
torch.set_num_threads(1)


def tiny(block: str, skip: str | None) -> archspec.ArchSpec:
    return from_data(
        {
            "name": f"tiny_{block}_{skip}",
            "input": {"channels": 3, "size": 16},
            "stem": {"type": "cifar", "width": 8},
            "defaults": {"block": block, **({"skip": skip} if skip else {})},
            "stages": [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}],
            "head": {"classes": 5},
        }
    )


def test_numbers_are_the_gradients_of_an_ordinary_backward_pass() -> None:
    spec = archspec.load("resnet20").override({"input.size": 16})
    run = archspec.gradflow(spec, batch=4, seed=3)

    # The same pass, by hand, through the model's ordinary forward.
    model = archspec.build(spec, seed=3).train()
    kept: list[torch.Tensor] = []
    # resnet20's last block ends in the second call of its ReLU module
    model.get_submodule("layer3.2.relu").register_forward_hook(lambda m, i, o: kept.append(o))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        x = torch.randn(4, 3, 16, 16)
        y = torch.randint(0, 10, (4,))
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    assert math.isclose(run.loss, loss.item(), rel_tol=1e-6)

    for block in run.blocks:
        grads = [
            p.grad.double().pow(2).sum()
            for name, p in model.named_parameters()
            if name.startswith(block.scope + ".")
        ]
        assert math.isclose(block.param_grad_norm, float(sum(grads)) ** 0.5, rel_tol=1e-5)
        assert block.params == sum(
            p.numel() for n, p in model.named_parameters() if n.startswith(block.scope + ".")
        )

    # The last block's output gradient, through the head alone.
    out = kept[-1].detach().requires_grad_()
    logits = model.fc(torch.flatten(model.avgpool(out), 1))
    (grad,) = torch.autograd.grad(F.cross_entropy(logits, y), out)
    assert run.blocks[-1].scope == "layer3.2"
    assert math.isclose(run.blocks[-1].output_grad_norm, float(grad.norm()), rel_tol=1e-5)


# every block type with its default skip, and every skip kind on the basic block
CASES = [(b, None) for b in sorted(blocks())] + [("basic", s) for s in sorted(SKIPS)]


@pytest.mark.parametrize(("block", "skip"), CASES)
def test_every_block_type_and_skip(block: str, skip: str | None) -> None:
    spec = tiny(block, skip)
    run = archspec.gradflow(spec, batch=2, seed=0)
    graph = lower(spec)
    assert [b.scope for b in run.blocks] == [r.scope for r in graph.graph["blocks"]]
    assert [b.position for b in run.blocks] == list(range(len(run.blocks)))
    outputs = block_outputs(graph)
    for b in run.blocks:
        assert b.out_shape == graph.nodes[outputs[b.scope]]["shape"]
        assert math.isfinite(b.output_grad_norm) and b.output_grad_norm > 0
        assert math.isfinite(b.param_grad_norm) and b.param_grad_norm >= 0
    model_params = archspec.stats(spec).params
    assert 0 < sum(b.params for b in run.blocks) < model_params
    json.dumps(run.to_dict())  # plain data


def test_a_block_that_ends_in_a_checkpointed_region() -> None:
    """A dense layer without its bottleneck under memory_efficient ends inside a
    recomputed region: its output is that region's one call, and is found as such."""
    spec = tiny("dense", None).override(
        {"defaults.bn_size": None, "defaults.memory_efficient": True}
    )
    run = archspec.gradflow(spec, batch=2, seed=0)
    assert len(run.blocks) == 4
    assert all(math.isfinite(b.output_grad_norm) and b.output_grad_norm > 0 for b in run.blocks)


def test_reproducible_by_seed() -> None:
    a = archspec.gradflow("plain20", **SMALL)
    b = archspec.gradflow("plain20", **SMALL)
    c = archspec.gradflow("plain20", **{**SMALL, "seed": 1})
    assert a == b
    assert a.blocks != c.blocks
    assert a.input_shape == (3, 16, 16) and a.batch == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch": 0}, "batch"),
        ({"batch": 1.5}, "batch"),
        ({"seed": "x"}, "seed"),
        ({"input_size": (16, 16, 16, 16)}, "input_size"),  # (16,) is a 1-D size
        ({"input_size": 2}, "too small"),
        ({"input_size": 0}, "input.size"),
    ],
)
def test_bad_arguments_are_archspec_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(archspec.ArchSpecError, match=match):
        archspec.gradflow("resnet20", **kwargs)


def test_plain_net_gradients_grow_toward_the_input_more_than_residual() -> None:
    # What docs/gradflow.md reports, at a size a test can afford: from the last block to
    # the first, the output gradient grows several times more without skips.
    plain = archspec.gradflow("plain20", input_size=16, batch=8, seed=0)
    res = archspec.gradflow("resnet20", input_size=16, batch=8, seed=0)

    def growth(run: Any) -> float:
        return run.blocks[0].output_grad_norm / run.blocks[-1].output_grad_norm

    assert growth(plain) > 2 * growth(res) > 2


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archspec.cli", "gradflow", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_cli_plots_and_prints(tmp_path: Path) -> None:
    small = ["--input-size", "16", "--batch", "2"]
    proc = cli("plain20", "resnet20", "--json", "-o", "flow.png", *small, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.png"]  # no temp file left
    plain, res = json.loads(proc.stdout)
    assert (plain["name"], res["name"]) == ("plain20", "resnet20")
    assert len(plain["blocks"]) == len(res["blocks"]) == 9
    assert plain["input_shape"] == [3, 16, 16] and plain["batch"] == 2


@pytest.fixture(scope="module")
def runs() -> list[GradFlow]:
    return [archspec.gradflow(name, input_size=8, batch=2) for name in ("plain20", "resnet20")]


@pytest.mark.parametrize("suffix", FORMATS)
def test_plot_formats(tmp_path: Path, suffix: str, runs: list[GradFlow]) -> None:
    path = plot_gradflow(runs, tmp_path / f"flow{suffix}")
    head = path.read_bytes()[:200]
    assert {".png": b"PNG", ".svg": b"<svg", ".pdf": b"%PDF"}[suffix] in head
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    with pytest.raises(archspec.ArchSpecError):
        plot_gradflow(runs, tmp_path / "flow.gif")
    with pytest.raises(archspec.ArchSpecError):
        plot_gradflow([], tmp_path / "empty.png")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["resnet20", "-o", "flow.jpg"], 2),
        (["resnet20", "--input-size", "3x"], 2),
        (["no_such_spec"], 1),
        (["resnet20", "--input-size", "2"], 1),
        (["resnet20", "-o", "missing_dir/flow.png", "--input-size", "16", "--batch", "2"], 1),
    ],
)
def test_cli_errors_are_short(
    tmp_path: Path,
    args: list[str],
    code: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # In this process (the command line's own entry point, without a fresh interpreter
    # for each case); test_cli_plots_and_prints runs the real command.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["archspec", "gradflow", *args])
    with pytest.raises(SystemExit) as info:
        main()
    stderr = capsys.readouterr().err
    assert info.value.code == code, stderr
    assert "Traceback" not in stderr
    assert 1 <= len(stderr.strip().splitlines()) <= 2, stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_variants_docs_plot_are_valid_specs(path: Path) -> None:
    spec = archspec.load(path)
    assert spec.name == path.stem
    assert archspec.lower(spec).graph["output_shape"] == (10,)
