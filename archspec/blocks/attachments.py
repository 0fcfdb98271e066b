"""What any residual block can carry on its branch besides its convs: squeeze-excitation
(or ECA, archspec/blocks/eca.py) and stochastic depth. :func:`archspec.blocks.skips.residual`
applies them to the branch before it meets the skip, so every block type that merges
through it gets them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archspec.blocks.base import BlockConfig
from archspec.blocks.eca import efficient_channel_attention

if TYPE_CHECKING:
    from archspec.graph.builder import GraphBuilder, Value


def squeeze_excite(
    g: GraphBuilder,
    x: Value,
    reduction: int = 16,
    *,
    squeezed: int | None = None,
    act: Any = "relu",
) -> Value:
    """Hu et al. 2018: pool each channel to one value, squeeze to channels/reduction with
    a 1x1 conv and ReLU, expand back, and scale ``x`` by the sigmoid of that.

    ``squeezed`` sets the squeezed width itself, where a block derives it from something
    other than ``x`` (RegNetY: a quarter of the block's input channels), and ``act`` the
    activation between the two convs (the block's own, in RegNet).

    Parameters: 2·c·(c/r) + c/r + c (two 1x1 convs with bias). The modules are named
    ``se.fc1`` and ``se.fc2`` as in torchvision's and timm's SE blocks.
    """
    if squeezed is None:
        squeezed = max(1, x.channels // reduction)
    with g.scope("se"):
        s = g.global_pool(x, "avg", name="pool")
        s = g.conv(s, squeezed, 1, padding=0, bias=True, name="fc1")
        s = g.act(s, act, name="relu" if getattr(act, "kind", act) == "relu" else "act")
        s = g.conv(s, x.channels, 1, padding=0, bias=True, name="fc2")
        s = g.act(s, "sigmoid", name="sigmoid")
        return g.op("scale", "scale", [x, s], roles=["main", "gate"])


def drop_path(g: GraphBuilder, x: Value, max_rate: float) -> Value:
    """Stochastic depth at this block's share of ``max_rate``: rate·l/L for the l-th of the
    network's L blocks (Huang et al. 2016's linear decay of the survival probability)."""
    rate = max_rate * g.depth_fraction()
    return g.op("drop_path", "drop_path", [x], p=rate)


def attach(g: GraphBuilder, cfg: BlockConfig, branch: Value) -> Value:
    """The residual branch with the block's attachments applied, in the order of the
    papers' code: squeeze-excitation right after the last norm, then stochastic depth."""
    if cfg.se is not None:
        branch = squeeze_excite(g, branch, cfg.se)
    if cfg.eca:
        branch = efficient_channel_attention(g, branch)
    if cfg.drop_path > 0 and cfg.skip != "none":
        branch = drop_path(g, branch, cfg.drop_path)
    return branch
