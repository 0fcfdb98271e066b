"""Block types, one file each, registered by name (see :mod:`archspec.blocks.registry`)."""

from archspec.blocks import (  # noqa: F401  (they register themselves)
    basic,
    bottleneck,
    csp,
    dense,
    highway,
    preact,
    regnet,
    resnest,
    resnext,
    selective_kernel,
    sk_bottleneck,
    video,
)
from archspec.blocks.base import BlockConfig, BlockType
from archspec.blocks.registry import blocks, get, register

__all__ = ["BlockConfig", "BlockType", "blocks", "get", "register"]
