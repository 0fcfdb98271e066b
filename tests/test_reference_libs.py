"""Presets against the libraries they reproduce, installed for the tests: every preset
torchvision or timm defines has its parameter count to the parameter, its MACs (half of
torch.utils.flop_counter's FLOPs on the library's model), loads the
library's weights (by name; DenseNet, RegNet and CSPResNet through port_state_dict) and
computes the same outputs with them."""

from __future__ import annotations

from pathlib import Path

import pytest
import reference_libs
import torch
from helpers import n_params
from test_reference import _randomize
from torch.utils.flop_counter import FlopCounterMode

import archspec

ROOT = Path(__file__).resolve().parent.parent
# torchvision's resnet50(replace_stride_with_dilation=[False, True, True]): resnet50 with
# `output_stride: 8`, the example the norms page shows.
DILATED = ROOT / "examples" / "dilation" / "resnet50_os8.yaml"

TORCHVISION = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "wide_resnet50_2",
    "wide_resnet101_2",
    "densenet121",
    "densenet169",
    "densenet201",
    "regnet_y_400mf",
]
TIMM = reference_libs.TIMM
# Small ones also run with the library's (randomized) weights loaded; all are counted.
# Every timm preset is small enough but resnest50d, whose resnest14d twin runs.
RUN = {"resnet18", "resnext50_32x4d", "densenet121", "regnet_y_400mf"} | (
    set(TIMM) - {"resnest50d"}
)
# Presets whose stem, stage and block paths are archspec's while the library's differ
# (timm's CspNet: stem.conv1.conv, stages.0, head.fc):
# their checkpoints load through port_state_dict (by path endings, order and shapes).
PORTED = ("densenet", "regnet", "cspresnet")


def _reference(name: str) -> torch.nn.Module:
    if name in TIMM:
        return reference_libs.timm().create_model(name, pretrained=False)
    build = getattr(reference_libs.torchvision().models, name)
    if name.startswith("regnet_"):
        # torchvision derives RegNet's widths from tensors it reads back, which the meta
        # device cannot: built on the CPU, then moved where the caller builds.
        device = torch.get_default_device()
        with torch.device("cpu"):
            return build().to(device)
    return build()


def _load(model: torch.nn.Module, reference: torch.nn.Module, name: str) -> None:
    if name.startswith(PORTED):  # other module names: paired by structure
        archspec.port_state_dict(model, reference.state_dict())
    else:
        model.load_state_dict(reference.state_dict(), strict=True)


@pytest.mark.parametrize("name", TORCHVISION + TIMM)
def test_params_equal_the_librarys(name: str) -> None:
    with torch.device("meta"):
        reference = _reference(name)
    assert archspec.stats(name).params == n_params(reference)
    assert n_params(archspec.build(name, device="meta")) == n_params(reference)


@pytest.mark.parametrize("name", TORCHVISION + TIMM)
def test_macs_equal_half_the_flop_counters(name: str) -> None:
    # On the meta device: the counter reads shapes only, so 224x224 costs no arithmetic.
    with torch.device("meta"):
        reference = _reference(name).eval()
        x = torch.empty(1, 3, 224, 224)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            reference(x)
    assert 2 * archspec.stats(name).macs == counter.get_total_flops()


@pytest.mark.parametrize("name", sorted(RUN))
def test_outputs_equal_the_librarys_with_its_weights(name: str) -> None:
    torch.manual_seed(0)
    reference = _reference(name).eval()
    _randomize(reference, seed=1)
    model = archspec.build(name, seed=0).eval()
    _load(model, reference, name)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-4)


def _macs(model: torch.nn.Module, size: int = 224) -> int:
    """Multiply-adds of one sample as torch's counter sees a forward on the meta device."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(1, 3, size, size, device="meta"))
    return counter.get_total_flops() // 2


def test_resnet50_gn_is_timms_to_the_mac() -> None:
    with torch.device("meta"):
        reference = _reference("resnet50_gn")
    assert archspec.stats("resnet50_gn").params == n_params(reference) == 25_557_032
    norms = {type(m).__name__ for m in archspec.build("resnet50_gn", device="meta").modules()}
    assert "GroupNorm" in norms and "BatchNorm2d" not in norms  # the stem's too
    assert archspec.stats("resnet50_gn").macs == _macs(reference)


def test_a_dilated_resnet50_is_torchvisions_output_stride_8() -> None:
    tv = reference_libs.torchvision()
    torch.manual_seed(0)
    reference = tv.models.resnet50(replace_stride_with_dilation=[False, True, True]).eval()
    _randomize(reference, seed=1)
    model = archspec.build(DILATED, seed=0).eval()
    assert n_params(model) == n_params(reference) == archspec.stats(DILATED).params
    model.load_state_dict(reference.state_dict(), strict=True)
    for name, conv in reference.named_modules():
        if isinstance(conv, torch.nn.Conv2d):
            ours = model.get_submodule(name)
            assert (ours.stride, ours.padding, ours.dilation) == (
                conv.stride,
                conv.padding,
                conv.dilation,
            ), name
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-4)
    with torch.device("meta"):
        meta = tv.models.resnet50(replace_stride_with_dilation=[False, True, True])
    assert archspec.stats(DILATED).macs == _macs(meta)


def test_a_dilated_resnet18_is_timms_output_stride_8() -> None:
    # torchvision's BasicBlock refuses dilation; timm's dilates its first conv by the
    # dilation before the stage and its second by the stage's own, as archspec does.
    reference = reference_libs.timm().create_model("resnet18", output_stride=8).eval()
    _randomize(reference, seed=1)
    spec = archspec.load("resnet18").override({"output_stride": 8})
    model = archspec.build(spec, seed=0).eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-4)


# timm's other ResNeSts, as overrides of resnest50d: cardinality 2 with radix 4 (the
# attention's logits regrouped split by split) and radix 1 (a sigmoid), both avd_first.
RESNEST_VARIANTS = {
    "resnest50d_4s2x40d": (
        "resnest50d",
        {"radix": 4, "groups": 2, "base_width": 40, "avd_first": True},
        {},
    ),
    "resnest50d_1s4x24d": (
        "resnest50d",
        {"radix": 1, "groups": 4, "base_width": 24, "avd_first": True},
        {},
    ),
}


@pytest.mark.parametrize("name", sorted(RESNEST_VARIANTS))
def test_resnest_variants_are_timms(name: str) -> None:
    preset, block, net = RESNEST_VARIANTS[name]
    overrides = {f"defaults.{k}": v for k, v in block.items()} | net
    spec = archspec.load(preset).override(overrides)
    reference = reference_libs.timm().create_model(name, pretrained=False, **net).eval()
    _randomize(reference, seed=1)
    model = archspec.build(spec, seed=0).eval()
    assert n_params(model) == n_params(reference) == archspec.stats(spec).params
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-4)
    with torch.device("meta"):
        meta = reference_libs.timm().create_model(name, pretrained=False, **net).eval()
    assert archspec.stats(spec).macs == _macs(meta)


@pytest.mark.parametrize("name", ["resnet50d", "resnest14d"])
def test_a_dilated_avg_down_net_is_timms_output_stride_8(name: str) -> None:
    # The avg-down skip of a dilated stage still pools, 2x2 at stride 1 over the map
    # padded at its end (timm's AvgPool2dSame), so the outputs are timm's too.
    reference = reference_libs.timm().create_model(name, output_stride=8).eval()
    _randomize(reference, seed=1)
    spec = archspec.load(name).override({"output_stride": 8})
    model = archspec.build(spec, seed=0).eval()
    assert n_params(model) == n_params(reference) == archspec.stats(spec).params
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-4)
    with torch.device("meta"):
        meta = reference_libs.timm().create_model(name, output_stride=8).eval()
    assert archspec.stats(spec).macs == _macs(meta)


def test_a_dilated_resnest14d_has_timms_convs() -> None:
    # Output stride 8: the strides of layer3 and layer4 become dilation, and their blocks
    # have no avd pool.
    reference = reference_libs.timm().create_model("resnest14d", output_stride=8)
    spec = archspec.load("resnest14d").override({"output_stride": 8})
    model = archspec.build(spec, seed=0)
    assert n_params(model) == n_params(reference) == archspec.stats(spec).params
    model.load_state_dict(reference.state_dict(), strict=True)
    for name, conv in reference.named_modules():
        if isinstance(conv, torch.nn.Conv2d):
            ours = model.get_submodule(name)
            assert (ours.stride, ours.padding, ours.dilation, ours.groups) == (
                conv.stride,
                conv.padding,
                conv.dilation,
                conv.groups,
            ), name
    pools = {n for n, m in model.named_modules() if n.endswith(("avd_last", "avd_first"))}
    assert pools == {"layer2.0.avd_last"}


def test_cspresnet50_has_timms_names_inside_its_stages() -> None:
    # Only the network's top-level names differ from timm's (archspec's stem and head,
    # `layer1` for `stages.0`): every tensor pairs with the one of timm's name.
    with torch.device("meta"):
        reference = _reference("cspresnet50")
    model = archspec.build("cspresnet50", device="meta")
    mapping = archspec.port_state_dict(model, reference.state_dict())
    top = {"conv1": "stem.conv1.conv", "bn1": "stem.conv1.bn", "fc": "head.fc"}

    def timm_name(key: str) -> str:
        head, rest = key.split(".", 1)
        if head.startswith("layer"):
            return f"stages.{int(head[5:]) - 1}.{rest}"
        return f"{top[head]}.{rest}"

    assert mapping == {key: timm_name(key) for key in mapping}
    assert len(mapping) == len(reference.state_dict())
    assert [type(m).__name__ for m in model.layer1] == ["BottleneckBlock"] * 3


def test_regnet_stages_are_the_librarys() -> None:
    # RegNetY-400MF's design-space parameters (Radosavovic et al. 2020), as both
    # libraries' builders take them, give the stages their models have.
    from archspec.blocks.regnet import regnet_stages

    with torch.device("meta"):
        timm_model = _reference("regnety_004")
        tv_model = _reference("regnet_y_400mf")
    timm_stages = [
        (info["num_chs"], len(list(timm_model.get_submodule(info["module"]).children())))
        for info in timm_model.feature_info[1:]
    ]
    tv_stages = [
        (stage[0].f.c[0].out_channels, len(stage)) for stage in tv_model.trunk_output.children()
    ]
    stages = regnet_stages(w0=48, wa=27.89, wm=2.09, depth=16, group_width=8)
    assert stages == timm_stages == tv_stages
    spec = archspec.load("regnety_004")
    assert [(cfg.width, cfg.depth) for cfg in spec.blocks] == stages
