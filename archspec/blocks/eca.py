"""Efficient channel attention (ECA, Wang et al. 2020), an attachment of any residual
block's branch: squeeze-excitation without its bottleneck. Each channel is pooled to one
value, a 1-D conv of k taps slides across the channels (one weight shared by all, no
bias), and its sigmoid scales the branch.

The kernel size follows from the channel count C (the paper's eq. 12, with gamma 2 and
b 1, as timm computes it): t = int(|log2(C) + 1| / 2), k = t if t is odd else t + 1, and
at least 3. So C = 256 gives t = 4, k = 5; C = 2048 gives t = 6, k = 7.

Parameters: k per block. MACs: C·k per sample (the conv over the C pooled values).
The modules are named ``se.conv`` as in timm (``layer1.0.se.conv.weight``), so timm's
checkpoints load by name.

Example::

    import archspec
    spec = archspec.load("resnet50").override({"defaults.eca": True})
    archspec.stats(spec).params - archspec.stats("resnet50").params  # 86: 16 blocks' k
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value


def eca_kernel(channels: int, gamma: int = 2, beta: int = 1) -> int:
    """ECA's kernel size for ``channels`` channels: ``eca_kernel(256)`` is 5."""
    t = int(abs(math.log2(channels) + beta) / gamma)
    return max(t if t % 2 else t + 1, 3)


def efficient_channel_attention(g: GraphBuilder, x: Value) -> Value:
    """Scale ``x`` by ECA's per-channel weights (in scope ``se``, timm's name)."""
    with g.scope("se"):
        s = g.global_pool(x, "avg", name="pool")
        s = g.op("channel_conv", "conv", [s], kernel=eca_kernel(x.channels))
        s = g.act(s, "sigmoid", name="sigmoid")
        return g.op("scale", "scale", [x, s], roles=["main", "gate"])
