"""archspec's own torch layers, for the ops torch.nn lacks (a pad skip, a gate, a frozen
batch norm, ...).

These files import torch and nothing of archspec, so emit_python can copy a class's
source into a standalone file as it is.
"""

from archspec.nn.attention import ChannelConv, SelectiveFuse, channel_part
from archspec.nn.layers import AvgPoolSame, DropPath, Gate, PadShortcut, Scale
from archspec.nn.norms import ChannelLayerNorm, FrozenBatchNorm

__all__ = [
    "AvgPoolSame",
    "ChannelConv",
    "ChannelLayerNorm",
    "DropPath",
    "FrozenBatchNorm",
    "Gate",
    "PadShortcut",
    "Scale",
    "SelectiveFuse",
    "channel_part",
]
