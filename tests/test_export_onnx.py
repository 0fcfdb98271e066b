"""ONNX export checked by running the file in a real onnxruntime session, at two batch
sizes, against the built model in eval mode. Cases come from the presets: one per block
type (``archspec.blocks.blocks()``) the presets use, the one with the fewest parameters,
its stages cut to two blocks and its input as small as it takes; then the variants the
presets switch on (DenseNet's memory_efficient, sparse highway skips, SE, drop_path)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from cli_helpers import archspec_cli

import archspec
from archspec.blocks import blocks

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

torch.set_num_threads(1)


def _family_presets() -> dict[str, str]:
    """Block type -> the preset using it with the fewest parameters."""
    best: dict[str, tuple[int, str]] = {}
    for name in archspec.presets():
        graph = archspec.lower(name)
        if any(d["op"] == "ode" for _, d in graph.nodes(data=True)):
            continue  # ODE stages export as tests/test_ode.py checks, not as a block family
        params = archspec.stats(name).params
        for stage in graph.graph["stages"]:
            kind = getattr(stage.config, "block", None)
            if kind in blocks() and (kind not in best or params < best[kind][0]):
                best[kind] = (params, name)
    return {kind: name for kind, (_, name) in sorted(best.items())}


FAMILIES = _family_presets()


def small(name: str, **overrides: Any) -> archspec.ArchSpec:
    """``name`` with two blocks a stage at the smallest input size it takes."""
    spec = archspec.load(name)
    cut = {f"stages.{i}.depth": min(2, s["depth"]) for i, s in enumerate(spec.stages)}
    spec = spec.override({**cut, **overrides})
    rank = len(archspec.lower(spec).graph["input_shape"]) - 1
    for size in (8, 16, 32, 64, 128, 224):
        try:
            # A 2-D square as one number; other ranks one entry per axis.
            candidate = spec.override({"input.size": size if rank == 2 else [size] * rank})
            archspec.lower(candidate)
            return candidate
        except archspec.ArchSpecError:
            continue
    raise AssertionError(f"{name} takes no input size up to 224")


def check_onnx(spec: archspec.ArchSpec, path: Path, **build: Any) -> None:
    model = archspec.build(spec, seed=0, **build)
    archspec.export(spec, path, model=model)
    assert model.training, "the model's mode is restored after export"
    model.eval()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    assert given.name == "input" and given.shape[0] == "batch"
    for batch in (1, 3):
        x = torch.randn(batch, *spec.input.shape, generator=torch.Generator().manual_seed(batch))
        got = session.run(None, {"input": x.numpy()})
        with torch.no_grad():
            want = model(x)
        want = list(want) if isinstance(want, list | tuple) else [want]
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert g.shape == tuple(w.shape)
            assert np.abs(g - w.numpy()).max() <= 1e-4


def test_every_block_type_in_the_presets_has_a_case() -> None:
    assert {"basic", "bottleneck", "dense", "highway", "resnext"} <= set(FAMILIES)


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_onnx_matches_the_model(kind: str, tmp_path: Path) -> None:
    check_onnx(small(FAMILIES[kind]), tmp_path / "model.onnx")


VARIANTS = {
    "dense_memory_efficient": (FAMILIES["dense"], {"defaults.memory_efficient": True}),
    "highway_sparse": (FAMILIES["highway"], {"defaults.skip": "sparse"}),
    # drop_path needs a skip to drop the branch beside (plain20 has none).
    "se_drop_path": ("resnet20", {"defaults.se": 4, "defaults.drop_path": 0.2}),
}


@pytest.mark.parametrize("case", sorted(VARIANTS))
def test_onnx_variants(case: str, tmp_path: Path) -> None:
    name, overrides = VARIANTS[case]
    check_onnx(small(name, **overrides), tmp_path / f"{case}.onnx")


def test_onnx_backbone_names_its_feature_outputs(tmp_path: Path) -> None:
    spec = small("resnet20")
    check_onnx(spec, tmp_path / "backbone.onnx", features=True)
    session = ort.InferenceSession(str(tmp_path / "backbone.onnx"))
    assert [o.name for o in session.get_outputs()][-1] == "features.layer3"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet20", "highway20"])
def test_onnx_full_preset(name: str, tmp_path: Path) -> None:
    check_onnx(archspec.load(name), tmp_path / f"{name}.onnx")


@pytest.mark.slow
def test_cli_writes_onnx(tmp_path: Path) -> None:
    out = tmp_path / "resnet20.onnx"
    proc = archspec_cli("build", "resnet20", "--seed", "0", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and "ONNX" in proc.stdout
    session = ort.InferenceSession(str(out))
    x = torch.randn(2, 3, 32, 32)
    want = archspec.build("resnet20", seed=0).eval()(x).detach().numpy()
    assert np.abs(session.run(None, {"input": x.numpy()})[0] - want).max() <= 1e-4


def test_missing_extra_is_one_line(tmp_path: Path) -> None:
    # onnxscript made unimportable in a fresh interpreter, as on an install without the extra.
    code = (
        "import sys; sys.modules['onnxscript'] = None\n"
        "from archspec.cli import main\n"
        f"sys.argv = ['archspec', 'build', 'resnet20', '-o', {str(tmp_path / 'm.onnx')!r}]\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'archspec[onnx]'" in lines[0], proc.stderr
    assert not list(tmp_path.iterdir())


def test_export_failure_is_one_line(tmp_path: Path) -> None:
    class Unexportable(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.sum() > 0:  # data-dependent control flow: torch.export refuses it
                return x
            return -x

    from archspec.formats.onnx import export_onnx

    with pytest.raises(archspec.ArchSpecError, match="ONNX export failed") as info:
        export_onnx(Unexportable(), (3, 8, 8), tmp_path / "m.onnx")
    assert "\n" not in str(info.value)
    assert not list(tmp_path.iterdir())
