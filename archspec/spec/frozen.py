"""Read-only dicts and lists: the settings an :class:`~archspec.ArchSpec` keeps as written.

A spec validates its block configs from ``defaults`` and ``stages`` once. If those could
change in place, ``spec.blocks``, ``arch_id`` and ``to_yaml`` would describe different
networks, so every method that would change one raises ``TypeError`` instead.
``spec.override({...})`` makes a changed, re-validated spec. Copies are ordinary:
``dict(spec.defaults)``, ``spec.defaults.copy()`` and ``copy.deepcopy(spec.defaults)``
are plain, mutable dicts (a deep copy of a whole spec is the spec itself).

Example::

    spec.stages[0]["depth"]              # 3
    spec.stages[0]["depth"] = 4          # TypeError: use spec.override
    spec.override({"stages.0.depth": 4})
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, NoReturn

import yaml

_REFUSAL = (
    "the settings of an ArchSpec are read-only: "
    "spec.override({'path': value}) makes a changed, re-validated copy"
)


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(_REFUSAL)


class FrozenDict(dict[str, Any]):
    """A dict no method changes; made by :func:`freeze`."""

    __slots__ = ()

    # __init__ too: dict.__init__ on an existing dict would update it.
    __init__ = __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    @classmethod
    def fromkeys(cls, keys: Iterable[Any], value: Any = None) -> FrozenDict:  # type: ignore[override]
        return freeze(dict.fromkeys(keys, value))

    def __reduce__(self) -> tuple[Any, ...]:  # pickle would fill it through __setitem__
        return (freeze, (dict(self),))

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}


class FrozenList(list[Any]):
    """A list no method changes; made by :func:`freeze`. A list, so a list-typed block
    setting validates from it as from the list that was written."""

    __slots__ = ()

    __init__ = __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (freeze, (list(self),))

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]


def freeze(value: Any) -> Any:
    """``value`` with every dict a :class:`FrozenDict` and every list a
    :class:`FrozenList`, all the way down; anything else as it is."""
    if isinstance(value, dict):
        out = dict.__new__(FrozenDict)
        dict.update(out, {k: freeze(v) for k, v in value.items()})
        return out
    if isinstance(value, list):
        items = list.__new__(FrozenList)
        list.extend(items, (freeze(v) for v in value))
        return items
    if isinstance(value, tuple):
        return tuple(freeze(v) for v in value)
    return value


# yaml.safe_dump(spec.defaults) writes a mapping, as it did for the plain dict.
for _dumper in (yaml.SafeDumper, yaml.Dumper):
    _dumper.add_representer(FrozenDict, yaml.representer.SafeRepresenter.represent_dict)
    _dumper.add_representer(FrozenList, yaml.representer.SafeRepresenter.represent_list)
