"""Norms torch.nn lacks: batch norm with frozen statistics and affine (as detection
backbones use), and layer norm over the channels of a feature map. Both work at any rank."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class FrozenBatchNorm(nn.Module):
    """Batch norm whose statistics and affine are fixed buffers, not parameters:
    ``(x − running_mean) / sqrt(running_var + eps) · weight + bias`` in training and in
    eval alike, as torchvision's ``FrozenBatchNorm2d`` computes it, at any rank. It holds
    batch norm's state-dict names (``weight``, ``bias``, ``running_mean``,
    ``running_var``), so a trained batch norm's weights load into it."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        # Constructor arguments kept under their names: emit_python writes the
        # constructor back from them.
        self.num_features = num_features
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        # A batch norm's checkpoint counts its batches; a frozen one has none to count.
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1, -1] + [1] * (x.dim() - 2)  # a list, so TorchScript compiles it
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(shape) + shift.reshape(shape)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


class ChannelLayerNorm(nn.LayerNorm):
    """Layer norm over the channels alone, at each position of a (N, C, ...) feature map:
    timm's ``LayerNorm2d`` (ConvNeXt's norm, eps 1e-6) at any rank. Not GroupNorm(1, C),
    which would normalize over the channels and the positions together."""

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__(num_channels, eps=eps)
        self.num_channels = num_channels  # emit_python reads the constructor's arguments

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.movedim(1, -1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.movedim(-1, 1)
