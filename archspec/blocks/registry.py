"""The registry of block types, by name.

Built-in types register when :mod:`archspec.blocks` is imported; third-party packages
add theirs through the ``archspec.blocks`` entry-point group (the entry point names a
module that calls :func:`register`, or a :class:`BlockType` itself).
"""

from __future__ import annotations

from importlib.metadata import entry_points

from archspec.blocks.base import BlockType

_BLOCKS: dict[str, BlockType] = {}
_plugins_loaded = False


def register(block_type: BlockType) -> BlockType:
    """Add a block type. Registering the same name twice with another config is an error.

    Example::

        register(BlockType("mine", MyConfig, lower_mine, "my block"))
    """
    known = _BLOCKS.get(block_type.name)
    if known is not None and known.config is not block_type.config:
        raise ValueError(f"block type {block_type.name!r} is already registered")
    _BLOCKS[block_type.name] = block_type
    return block_type


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group="archspec.blocks"):
        obj = ep.load()
        if isinstance(obj, BlockType):
            register(obj)


def blocks() -> dict[str, BlockType]:
    """Every registered block type, built-in and plugin, by name."""
    _load_plugins()
    return dict(_BLOCKS)


def get(name: str) -> BlockType | None:
    if name not in _BLOCKS:
        _load_plugins()
    return _BLOCKS.get(name)
