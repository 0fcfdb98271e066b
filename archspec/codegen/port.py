"""Loading checkpoints whose names differ from archspec's: tensors are paired by the
structure of the two models (the order of their modules and the shapes they hold),
not by name, and anything that does not pair up is reported exactly."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Mapping

import torch
from torch import nn

from archspec.errors import PortError

Shape = tuple[int, ...]
# A module as the matcher sees it: its prefix and its (leaf name, shape) pairs.
Module = tuple[str, tuple[tuple[str, Shape], ...]]
_SHOWN = 3  # entries of each kind named in the message; the error holds them all
_BATCHES = "num_batches_tracked"


def _modules(state: Mapping[str, torch.Tensor], skip_leaf: str | None) -> list[Module]:
    groups: dict[str, list[tuple[str, Shape]]] = {}
    for key, tensor in state.items():
        prefix, _, leaf = key.rpartition(".")
        if leaf != skip_leaf:
            groups.setdefault(prefix, []).append((leaf, tuple(tensor.shape)))
    return [(prefix, tuple(leaves)) for prefix, leaves in groups.items()]


def _kind(module: Module) -> tuple[tuple[str, int], ...]:
    """What kind of layer a module is, shapes aside: its leaf names and their ranks."""
    return tuple((leaf, len(shape)) for leaf, shape in module[1])


def _key(prefix: str, leaf: str) -> str:
    return f"{prefix}.{leaf}" if prefix else leaf


def _flat(modules: list[Module]) -> list[tuple[str, Shape]]:
    return [(_key(prefix, leaf), shape) for prefix, leaves in modules for leaf, shape in leaves]


def _listing(items: list[str], what: str) -> str:
    shown = ", ".join(items[:_SHOWN])
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return f"{len(items)} {what} ({shown}{more})"


def _shape(shape: Shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


def _tail(prefix: str) -> str:
    """The last two names of a module's path: ``f.a`` of ``layer2.0.f.a``."""
    return ".".join(prefix.split(".")[-2:])


def _pair_by_tail(
    mine: list[Module], theirs: list[Module], mapping: dict[str, str]
) -> tuple[list[Module], list[Module]]:
    """Pair the modules whose paths end alike and that hold the same shapes into
    ``mapping``, aligned in order, then those left over that are the only one of their
    path ending and shapes on each side; return the modules of each side left unpaired,
    in order.

    Names that agree are the surest guide where a module sits elsewhere in the other
    model's order (torchvision's RegNet registers a block's projection before its
    branch, timm's and archspec's after it), since shapes alone cannot tell a moved
    projection from the branch's first 1x1 conv of the same shape."""
    keys_mine = [(leaves, _tail(prefix)) for prefix, leaves in mine]
    keys_theirs = [(leaves, _tail(prefix)) for prefix, leaves in theirs]
    matcher = difflib.SequenceMatcher(None, keys_mine, keys_theirs, autojunk=False)
    pairs = [
        (i, j)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag == "equal"
        for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
    ]
    paired_mine = {i for i, _ in pairs}
    paired_theirs = {j for _, j in pairs}
    left_mine = Counter(k for i, k in enumerate(keys_mine) if i not in paired_mine)
    left_theirs = Counter(k for j, k in enumerate(keys_theirs) if j not in paired_theirs)
    where = {k: j for j, k in enumerate(keys_theirs) if j not in paired_theirs}
    for i, key in enumerate(keys_mine):
        if i not in paired_mine and left_mine[key] == 1 and left_theirs[key] == 1:
            pairs.append((i, where[key]))
            paired_mine.add(i)
            paired_theirs.add(where[key])
    for i, j in pairs:
        for leaf, _ in mine[i][1]:
            mapping[_key(mine[i][0], leaf)] = _key(theirs[j][0], leaf)
    return (
        [m for i, m in enumerate(mine) if i not in paired_mine],
        [m for j, m in enumerate(theirs) if j not in paired_theirs],
    )


def pair_state_dicts(
    ours: Mapping[str, torch.Tensor], foreign: Mapping[str, torch.Tensor]
) -> dict[str, str]:
    """Pair each of our keys with a foreign key, by module names, order and shapes.

    Modules (the tensors sharing a key prefix) whose paths end in the same two names
    (``f.a`` of ``layer2.0.f.a`` and of ``trunk_output.block2.block2-0.f.a``) and hold
    the same shapes pair first: aligned in order, and out of order where a module is
    the only one of its path ending and shapes on each side. The rest are aligned as two
    sequences of (leaf names, shapes) with :class:`difflib.SequenceMatcher`, so one extra
    or missing module shows up as exactly that rather than shifting everything after
    it. Running batch counts (``num_batches_tracked``) are left out when the
    checkpoint has none, as older checkpoints do. Raises
    :class:`~archspec.errors.PortError` listing every tensor that does not pair up.
    Where two layers hold the very same shapes, which of them pairs with a foreign
    layer is decided by order alone.
    """
    has_batches = any(k.rsplit(".", 1)[-1] == _BATCHES for k in foreign)
    skip_leaf = None if has_batches else _BATCHES
    mine, theirs = _modules(ours, skip_leaf), _modules(foreign, skip_leaf)
    mapping: dict[str, str] = {}
    mine, theirs = _pair_by_tail(mine, theirs, mapping)
    matcher = difflib.SequenceMatcher(
        None, [m[1] for m in mine], [m[1] for m in theirs], autojunk=False
    )
    missing: list[tuple[str, Shape]] = []
    unexpected: list[tuple[str, Shape]] = []
    mismatched: list[tuple[str, Shape, str, Shape]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for (ours_prefix, leaves), (their_prefix, _) in zip(
                mine[i1:i2], theirs[j1:j2], strict=True
            ):
                for leaf, _ in leaves:
                    mapping[_key(ours_prefix, leaf)] = _key(their_prefix, leaf)
            continue
        # An unequal stretch: align it again by kind alone (leaf names and ranks), so a
        # layer of another size pairs with its counterpart as a shape mismatch, and
        # whatever has no counterpart of its kind is missing or left over.
        kinds = difflib.SequenceMatcher(
            None, [_kind(m) for m in mine[i1:i2]], [_kind(m) for m in theirs[j1:j2]], False
        )
        for kind_tag, a1, a2, b1, b2 in kinds.get_opcodes():
            if kind_tag != "equal":
                missing += _flat(mine[i1 + a1 : i1 + a2])
                unexpected += _flat(theirs[j1 + b1 : j1 + b2])
                continue
            pairs = zip(mine[i1 + a1 : i1 + a2], theirs[j1 + b1 : j1 + b2], strict=True)
            for (ours_prefix, a), (their_prefix, b) in pairs:
                for (leaf, shape_a), (_, shape_b) in zip(a, b, strict=True):
                    mine_key, their_key = _key(ours_prefix, leaf), _key(their_prefix, leaf)
                    if shape_a == shape_b:
                        mapping[mine_key] = their_key
                    else:
                        mismatched.append((mine_key, shape_a, their_key, shape_b))
    mapping = {k: mapping[k] for k in ours if k in mapping}  # in the model's order
    if missing or unexpected or mismatched:
        parts = []
        if mismatched:
            parts.append(
                _listing(
                    [f"{a} {_shape(sa)} vs {b} {_shape(sb)}" for a, sa, b, sb in mismatched],
                    "shapes differ",
                )
            )
        if missing:
            parts.append(
                _listing(
                    [f"{k} {_shape(s)}" for k, s in missing],
                    "of the model's tensors have no counterpart",
                )
            )
        if unexpected:
            parts.append(
                _listing(
                    [f"{k} {_shape(s)}" for k, s in unexpected],
                    "of the checkpoint's tensors are left over",
                )
            )
        raise PortError(
            "the checkpoint does not fit the model: " + "; ".join(parts),
            missing=missing,
            unexpected=unexpected,
            mismatched=mismatched,
        )
    return mapping


def port_state_dict(model: nn.Module, foreign: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """Load ``foreign`` (a state_dict from another implementation of the same network)
    into ``model``, and return which foreign key each of the model's keys took.

    Keys that match by name and shape load as they are; otherwise tensors are paired by
    structure (see :func:`pair_state_dicts`). Nothing is loaded unless everything pairs
    up: a :class:`~archspec.errors.PortError` says exactly what is missing, left over
    or of another shape.

    Example::

        model = archspec.build("densenet121")
        mapping = archspec.port_state_dict(model, torchvision_densenet121.state_dict())
        mapping["conv1.weight"]            # 'features.conv0.weight'
    """
    ours = model.state_dict()
    same = ours.keys() == foreign.keys() and all(
        tuple(ours[k].shape) == tuple(foreign[k].shape) for k in ours
    )
    mapping = {k: k for k in ours} if same else pair_state_dicts(ours, foreign)
    state = {k: foreign[f] for k, f in mapping.items()}
    # Keys left out of the pairing (running batch counts the checkpoint lacks) keep
    # the model's own values.
    state.update({k: v for k, v in ours.items() if k not in state})
    model.load_state_dict(state, strict=True)
    return mapping
