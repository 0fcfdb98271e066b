"""archspec's own torch layers, for the ops torch.nn lacks (a pad skip, a gate, ...).

These files import torch and nothing of archspec, so emit_python can copy a class's
source into a standalone file as it is.
"""

from archspec.nn.attention import ChannelConv, SelectiveFuse, channel_part
from archspec.nn.layers import DropPath, Gate, PadShortcut, Scale

__all__ = [
    "ChannelConv",
    "DropPath",
    "Gate",
    "PadShortcut",
    "Scale",
    "SelectiveFuse",
    "channel_part",
]
