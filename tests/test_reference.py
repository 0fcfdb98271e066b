"""archspec's ResNets against an independent, hand-written torchvision-layout ResNet
(tests/reference_resnet.py): same state_dict, weights load strictly, same outputs."""

from __future__ import annotations

import pytest
import reference_resnet
import torch
from torch import nn

import archspec

NAMES = ["resnet18", "resnet50"]


def _randomize(model: nn.Module, seed: int) -> None:
    """Give every parameter and norm buffer random values, so that a swapped or
    misnamed tensor cannot hide behind torchvision's init (norms at 1 and 0, running
    statistics at 0 and 1)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                t.fill_(3)  # num_batches_tracked
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif name.endswith(("running_mean", "bias")):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
            elif t.dim() == 1:  # norm weights
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1 + 1.0)
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=gen) * (2.0 / fan_in) ** 0.5)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_keys_and_shapes(name: str) -> None:
    ours = archspec.build(name, device="meta").state_dict()
    ref = getattr(reference_resnet, name)().state_dict()
    assert list(ours) == list(ref)
    assert {k: tuple(v.shape) for k, v in ours.items()} == {
        k: tuple(v.shape) for k, v in ref.items()
    }
    assert {k: v.dtype for k, v in ours.items()} == {k: v.dtype for k, v in ref.items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_reference_weights_give_the_same_outputs(name: str) -> None:
    ref = getattr(reference_resnet, name)()
    _randomize(ref, seed=0)
    ours = archspec.build(name, seed=1)
    result = ours.load_state_dict(ref.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    ref_state = ref.state_dict()
    for key, value in ours.state_dict().items():
        assert torch.equal(value, ref_state[key]), key

    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    ref.eval(), ours.eval()
    with torch.no_grad():
        expected, got = ref(x), ours(x)
    assert got.shape == expected.shape == (2, 1000)
    assert expected.abs().max() > 1e-3  # a real signal, not all zeros
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)

    # training mode too: batch statistics, and the running statistics they update
    ref.train(), ours.train()
    torch.testing.assert_close(ours(x), ref(x), atol=1e-4, rtol=1e-4)
    ref_state = ref.state_dict()
    for key, value in ours.state_dict().items():
        torch.testing.assert_close(value, ref_state[key], atol=1e-5, rtol=1e-5)


def test_init_follows_torchvision() -> None:
    """The reference's init scheme: Kaiming-normal (fan_out) convs, norms at 1 and 0,
    running statistics at 0 and 1, the classifier at PyTorch's default."""
    ours = archspec.build("resnet18", seed=0)
    ref = reference_resnet.resnet18()
    convs = 0
    for name, mod in ours.named_modules():
        if list(mod.children()):
            continue  # containers: nn.Sequential there, plain nn.Module here
        ref_mod = ref.get_submodule(name)
        assert type(mod) is type(ref_mod), name
        if isinstance(mod, nn.BatchNorm2d):
            for key in ("weight", "bias", "running_mean", "running_var"):
                assert torch.equal(getattr(mod, key), getattr(ref_mod, key)), (name, key)
        if isinstance(mod, nn.Conv2d):
            fan_out = mod.weight.shape[0] * mod.weight[0, 0].numel()
            std = (2.0 / fan_out) ** 0.5
            assert mod.weight.std().item() == pytest.approx(std, rel=0.2), name
            assert abs(mod.weight.mean().item()) < std / 4, name
            convs += 1
    assert convs == 20
    bound = 1 / 512**0.5  # nn.Linear's default: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert ours.fc.weight.abs().max() <= bound and ours.fc.weight.std() > bound / 3
    assert ours.fc.bias.abs().max() <= bound
