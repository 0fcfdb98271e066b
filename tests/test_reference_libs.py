"""Presets against the libraries they reproduce, installed for the tests: every preset
torchvision or timm defines has its parameter count to the parameter, its MACs (half of
torch.utils.flop_counter's FLOPs on the library's model), loads the
library's weights (by name, DenseNet through port_state_dict) and computes the same
outputs with them."""

from __future__ import annotations

import pytest
import reference_libs
import torch
from helpers import n_params
from test_reference import _randomize
from torch.utils.flop_counter import FlopCounterMode

import archspec

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
]
TIMM = ["resnet50d", "seresnet50", "ecaresnet50d", "skresnet18", "skresnext50_32x4d"]
# Small ones also run with the library's (randomized) weights loaded; all are counted.
RUN = {
    "resnet18",
    "resnext50_32x4d",
    "densenet121",
    "resnet50d",
    "seresnet50",
    "ecaresnet50d",
    "skresnet18",
    "skresnext50_32x4d",
}


def _reference(name: str) -> torch.nn.Module:
    if name in TIMM:
        return reference_libs.timm().create_model(name, pretrained=False)
    return getattr(reference_libs.torchvision().models, name)()


def _load(model: torch.nn.Module, reference: torch.nn.Module, name: str) -> None:
    if name.startswith("densenet"):  # other module names: paired by structure
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
