"""`Overlay`: a tenant's copy-on-write view of a template mapping, what a vendor's store holds
instead of a copy of its fixtures (a tenant costs what it changed)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
_ABSENT: Any = object()
_NONE_DELETED: frozenset[Any] = frozenset()   # shared until a tenant deletes: an empty set costs


class Overlay(Generic[K, V]):
    """A tenant's view of a template mapping: its own entries first, then the template's, with
    the template's keys it deleted remembered. Only `own` and `deleted` are ever written, so the
    template is shared by every tenant, and a tenant costs what it changed. Iteration follows a
    dict's order exactly (the template's keys where they stand, a replaced one in its place, a
    new or deleted-then-set one at the end), so exports read the same as from a copied dict.
    The values are the template's own objects: a caller replaces a value, never mutates it."""

    __slots__ = ("base", "own", "deleted", "_extra")

    def __init__(self, base: Mapping[K, V]) -> None:
        self.base = base
        self.own: dict[K, V] = {}
        # the template's keys this tenant removed (or moved): a set from the first one
        self.deleted: set[K] | frozenset[K] = _NONE_DELETED
        self._extra = 0                # own keys iterated after the template's

    def get(self, key: K, default: Any = None) -> Any:
        value = self.own.get(key, _ABSENT)
        if value is not _ABSENT:
            return value
        if key in self.deleted:
            return default
        return self.base.get(key, default)

    def __getitem__(self, key: K) -> V:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return key in self.own or (key not in self.deleted and key in self.base)

    def __len__(self) -> int:
        return len(self.base) - len(self.deleted) + self._extra

    def _trailing(self, key: K) -> bool:
        """Whether `key` is iterated from `own`, after the template's keys."""
        return key not in self.base or key in self.deleted

    def __iter__(self) -> Iterator[K]:
        deleted = self.deleted
        for key in self.base:
            if key not in deleted:
                yield key
        for key in self.own:
            if self._trailing(key):
                yield key

    def keys(self) -> Iterator[K]:
        return iter(self)

    def values(self) -> Iterator[V]:
        return (self[k] for k in self)

    def items(self) -> Iterator[tuple[K, V]]:
        return ((k, self[k]) for k in self)

    def __setitem__(self, key: K, value: V) -> None:
        if key not in self:
            self._extra += self._trailing(key)
        self.own[key] = value

    def setdefault(self, key: K, default: V) -> V:
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: K, default: Any = _ABSENT) -> Any:
        if key not in self:
            if default is _ABSENT:
                raise KeyError(key)
            return default
        value = self[key]
        if self._trailing(key):
            self._extra -= 1
        self.own.pop(key, None)
        if key in self.base:
            if self.deleted is _NONE_DELETED:
                self.deleted = set()
            self.deleted.add(key)  # type: ignore[union-attr]
        return value

    def __delitem__(self, key: K) -> None:
        self.pop(key)

    def move_to_end(self, key: K) -> None:
        """As OrderedDict's: a template key moves by being deleted there and set here."""
        value = self.pop(key)
        self[key] = value

    def popitem(self, last: bool = True) -> tuple[K, V]:
        """As OrderedDict's (the first item when `last` is false)."""
        if not len(self):
            raise KeyError("popitem(): mapping is empty")
        key = next(reversed(list(self))) if last else next(iter(self))
        return key, self.pop(key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping | Overlay) and dict(self.items()) == dict(
            other.items())

    def __repr__(self) -> str:
        return f"Overlay({dict(self.items())!r})"
