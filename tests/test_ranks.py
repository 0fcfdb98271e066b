"""1-D and 3-D networks: the video presets against torchvision's video ResNets, the
documented 1-D and 3-D ResNet-18s against MONAI's ResNet, per-axis kernels and strides in
the spec language with errors naming the field, and the command line and API at ranks
1 and 3 (summary, render, .pt2 export, gradflow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import reference_libs
import torch
from helpers import RANK_SIZES, n_params, run_cli, sample, spec_of, tiny_spec
from torch.utils.flop_counter import FlopCounterMode

import archspec
from archspec.blocks.video import mid_channels
from archspec.codegen.torch_module import _class_name
from archspec.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "ranks"
VIDEO = {"r3d_18": 33_371_472, "mc3_18": 11_695_440, "r2plus1d_18": 31_505_325}
CLIP = [8, 56, 56]  # frames, height, width: small, and deep enough for every stride


def _video_reference(name: str) -> torch.nn.Module:
    reference_libs.torchvision()
    video = pytest.importorskip("torchvision.models.video")
    return getattr(video, name)()


@pytest.mark.parametrize("name", sorted(VIDEO))
def test_video_presets_have_torchvisions_parameters(name: str) -> None:
    with torch.device("meta"):
        reference = _video_reference(name)
    assert n_params(reference) == VIDEO[name] == archspec.stats(name).params
    assert n_params(archspec.build(name, device="meta")) == VIDEO[name]


@pytest.mark.parametrize(
    "name",
    [
        "mc3_18",
        pytest.param("r3d_18", marks=pytest.mark.slow),
        pytest.param("r2plus1d_18", marks=pytest.mark.slow),
    ],
)
def test_video_presets_load_torchvisions_weights_and_compute_its_outputs(name: str) -> None:
    torch.manual_seed(0)
    reference = _video_reference(name).eval()
    for buffer in reference.buffers():  # running statistics away from 0 and 1
        if buffer.is_floating_point():
            buffer.uniform_(0.5, 1.5)
    model = archspec.build(name, seed=1).eval()
    model.load_state_dict(reference.state_dict(), strict=True)  # every name and shape
    x = torch.randn(1, 3, *CLIP, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), atol=1e-5, rtol=1e-5)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        reference(x)
    small = archspec.load(name).override({"input.size": CLIP})
    assert counter.get_total_flops() == 2 * archspec.stats(small).macs


def test_factorized_conv_uses_torchvisions_mid_channels() -> None:
    graph = archspec.lower(archspec.load("r2plus1d_18").override({"input.size": CLIP}))
    for block in ("layer1.0", "layer2.0", "layer3.1"):
        first = graph.nodes[f"{block}.conv1.0.0"]["params"]
        second = graph.nodes[f"{block}.conv2.0.0"]["params"]
        out = graph.nodes[f"{block}.conv1.0.3"]["params"]["out_channels"]
        # one mid width for both convs, from the block's input channels
        assert first["out_channels"] == second["out_channels"]
        assert first["out_channels"] == mid_channels(first["in_channels"], out)
        assert first["kernel"] == (1, 3, 3) and second["kernel"] == (1, 3, 3)
    assert mid_channels(64, 64) == 144 and mid_channels(64, 128) == 230


def _monai_resnet18(spatial_dims: int, channels: int, classes: int, **kw: Any) -> Any:
    pytest.importorskip("monai", reason="monai is a test-only dependency")
    from monai.networks.nets import resnet18

    return resnet18(
        spatial_dims=spatial_dims,
        n_input_channels=channels,
        conv1_t_size=7,
        conv1_t_stride=2,
        shortcut_type="B",
        num_classes=classes,
        **kw,
    )


@pytest.mark.parametrize(
    ("example", "dims", "size"),
    [
        ("resnet18_1d.yaml", 1, [512]),
        pytest.param("resnet18_3d.yaml", 3, [32, 32, 32], marks=pytest.mark.slow),
    ],
)
def test_documented_1d_and_3d_resnets_equal_monais(example: str, dims: int, size: list) -> None:
    spec = archspec.load(EXAMPLES / example)
    channels, classes = spec.input.channels, spec.head.classes
    torch.manual_seed(0)
    reference = _monai_resnet18(dims, channels, classes, bias_downsample=False).eval()
    assert archspec.stats(spec).params == n_params(reference)
    model = archspec.build(spec, seed=1).eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = sample(size, channels=channels, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), atol=1e-5, rtol=1e-5)
    # MONAI's default gives its projection convs a bias (bias_downsample=True): one
    # bias per output channel of each of the three downsample convs more than archspec's
    with_bias = _monai_resnet18(dims, channels, classes)
    assert n_params(with_bias) == n_params(reference) + 128 + 256 + 512


# --- the spec language ---------------------------------------------------------------


def _error(data: dict[str, Any]) -> SpecError:
    with pytest.raises(SpecError) as info:
        spec_of(data)
    return info.value


def test_per_axis_lists_must_fit_the_rank_naming_the_field() -> None:
    data = tiny_spec(size=[32])
    data["stem"] = [{"conv": 8, "kernel": [3, 3]}, {"pool": "max", "kernel": 2, "stride": [2]}]
    err = _error(data)
    assert err.path == ("stem", 0, "kernel") and "1-D" in str(err) and "[3, 3]" in str(err)

    data = tiny_spec(size=[4, 16, 16])
    data["stages"][1]["stride"] = [1, 2]
    err = _error(data)
    assert err.path == ("stages", 1, "stride") and "3-D" in str(err)

    data = tiny_spec(size=16, extra={"stride": [2, 2, 2]})
    assert _error(data).path == ("defaults", "stride")


def test_video_stems_and_convs_need_a_3d_input() -> None:
    data = tiny_spec(size=16)
    data["stem"] = "r3d"
    err = _error(data)
    assert err.path == ("stem",) and "2-D" in str(err)
    err = _error(tiny_spec("video", size=[32], extra={"conv": "factorized"}))
    assert err.path == ("defaults", "conv") and "'factorized'" in str(err)


def test_a_list_stem_takes_a_kernel_and_stride_per_axis() -> None:
    data = tiny_spec(size=[4, 16, 16])
    data["stem"] = [
        {"conv": 8, "kernel": [3, 7, 7], "stride": [1, 2, 2]},
        {"norm": "batch"},
        {"act": "relu"},
        {"pool": "max", "kernel": [1, 3, 3], "stride": [1, 2, 2], "padding": [0, 1, 1]},
    ]
    data["stages"][1]["stride"] = [1, 2, 2]
    spec = spec_of(data)
    graph = archspec.lower(spec)
    assert graph.nodes["conv1"]["params"]["padding"] == (1, 3, 3)  # kernel // 2 per axis
    assert graph.nodes["conv1"]["shape"] == (8, 4, 8, 8)
    assert graph.nodes["maxpool"]["shape"] == (8, 4, 4, 4)
    model = archspec.build(spec, seed=0)
    out = model.conv1(sample([4, 16, 16]))
    assert tuple(out.shape) == (2, 8, 4, 8, 8)
    assert spec_of(json.loads(json.dumps(spec.model_dump(mode="json")))) == spec
    assert archspec.ArchSpec.from_yaml(spec.to_yaml()).arch_id == spec.arch_id


@pytest.mark.parametrize("down", ["projection", "avgproj", "pad"])
def test_a_stride_per_axis_reaches_every_downsample(down: str) -> None:
    data = tiny_spec(size=[4, 16, 16], downsample=down)
    data["stages"][1]["stride"] = [1, 2, 2]
    spec = spec_of(data)
    model = archspec.build(spec, seed=0)
    assert n_params(model) == archspec.stats(spec).params
    graph = archspec.lower(spec)
    assert graph.nodes["layer2.1.conv2"]["shape"] == (64, 4, 8, 8)
    assert model(sample([4, 16, 16])).shape == (2, 5)


# --- the command line and API at ranks 1 and 3 ---------------------------------------


def _tiny_file(tmp_path: Path, rank: int) -> Path:
    import yaml

    path = tmp_path / f"tiny{rank}d.yaml"
    path.write_text(yaml.safe_dump(tiny_spec(size=RANK_SIZES[rank], name=f"tiny{rank}d")))
    return path


def test_summary_takes_inputs_of_any_rank() -> None:
    one_d = EXAMPLES / "resnet18_1d.yaml"
    proc = run_cli("summary", one_d, "--input", "1x12x5000", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["input_size"] == [1, 12, 5000] and report["output_size"] == [1, 5]
    assert report["params"] == archspec.stats(one_d).params
    # five numbers make a 2-D spec 3-D: N, C, D, H, W
    proc = run_cli("summary", "resnet20", "--input", "2x3x4x16x16", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["input_size"] == [2, 3, 4, 16, 16]
    s = archspec.summary("resnet20", input_size=(2, 3, 4, 16, 16))
    assert s.input_size == (2, 3, 4, 16, 16) and s.output_size == (2, 10)


@pytest.mark.parametrize("rank", [1, 3])
def test_render_draws_shapes_of_any_rank(tmp_path: Path, rank: int) -> None:
    spec = _tiny_file(tmp_path, rank)
    out = tmp_path / "net.dot"
    proc = run_cli("render", spec, "-o", out, "--detail", "layer")
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    last = "64×16" if rank == 1 else "64×2×8×8"  # after the stride-2 stage
    assert last in text
    assert archspec.render(spec_of(tiny_spec(size=RANK_SIZES[rank])), tmp_path / "n.svg").is_file()


@pytest.mark.parametrize("rank", [pytest.param(1, marks=pytest.mark.slow), 3])
def test_pt2_export_at_ranks_1_and_3(tmp_path: Path, rank: int) -> None:
    spec = _tiny_file(tmp_path, rank)
    out = tmp_path / "net.pt2"
    proc = run_cli("build", spec, "-o", out, "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    program = torch.export.load(str(out))
    x = sample(RANK_SIZES[rank], seed=4)
    model = archspec.build(spec, seed=3).eval()
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x))


@pytest.mark.parametrize("rank", [1, 3])
def test_gradflow_at_ranks_1_and_3(tmp_path: Path, rank: int) -> None:
    spec = _tiny_file(tmp_path, rank)
    result = archspec.gradflow(spec, batch=2)
    assert len(result.blocks) == 4
    assert all(b.output_grad_norm > 0 for b in result.blocks)
    if rank == 1:
        return  # the command line's rank rule is the same at both ranks: one run of it
    proc = run_cli("gradflow", spec, "--input-size", "4x8x8", "--batch", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)[0]["blocks"]) == 4


@pytest.mark.parametrize("rank", [1, 3])
def test_emit_python_at_ranks_1_and_3(rank: int) -> None:
    spec = spec_of(tiny_spec(size=RANK_SIZES[rank]))
    namespace: dict = {"__name__": "emitted"}
    exec(compile(archspec.emit_python(spec), "<emitted>", "exec"), namespace)
    model = archspec.build(spec, seed=0).eval()
    emitted = namespace[_class_name(spec.name)]()
    emitted.load_state_dict(model.state_dict(), strict=True)
    x = sample(RANK_SIZES[rank])
    with torch.no_grad():
        torch.testing.assert_close(emitted.eval()(x), model(x))


def test_ranks_page_examples_run(tmp_path: Path) -> None:
    """docs/ranks.md: its first spec validates and builds, the second stage's stride
    written as [1, 2] is the error the page shows, and its Python example runs."""
    import re
    import subprocess
    import sys

    page = (ROOT / "docs" / "ranks.md").read_text()
    clip = re.findall(r"```yaml\n(.*?)```", page, re.S)[0]
    spec = archspec.ArchSpec.from_yaml(clip)
    assert archspec.build(spec, seed=0)(sample([8, 64, 64], batch=1)).shape == (1, 10)
    (tmp_path / "clip_net.yaml").write_text(
        clip.replace("width: 64, stride: [1, 2, 2]", "width: 64, stride: [1, 2]")
    )
    proc = run_cli("validate", "clip_net.yaml", cwd=tmp_path)
    shown = re.search(r"```\n(error: clip_net.*?)\n```", page, re.S)
    assert proc.returncode == 1 and shown is not None
    assert proc.stderr.strip() == shown.group(1)
    (code,) = re.findall(r"```python\n(.*?)```", page, re.S)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["torch.Size([1, 400])", "1 (12, 5000)", "(8, 5)"]
