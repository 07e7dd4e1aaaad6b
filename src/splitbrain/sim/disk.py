"""`Disk`: what of a node's ``storage`` survives a crash, and what survives a power loss.

A node writes to ``self.storage`` as to a file through the operating system: the write is visible at
once to the node (the page cache) and survives the *process* dying (``crash``: the kernel still holds
it), but it is on the platter only after ``fsync``. A *power loss* keeps what was synced; each key
written since its last sync resolves on its own, in no particular order — lost, landed, or, for a
value that grew by appending (a list, a string, bytes: a log file), torn after some of the appended
items. That is the behaviour crash-consistency studies measured on real file systems (Pillai et al.
2014, "All File Systems Are Not Created Equal", OSDI: neither atomicity across files nor ordering
between unsynced writes can be assumed) and the one SQLite's crash-test VFS and TigerBeetle's VOPR
storage faults inject. One key stands for one file: a multi-key write (``storage.update(term=3,
vote="n2")``) left unsynced can tear, one key landing and the other not.

Two disks, chosen per workload (``Workload.disk``):

* ``"fsync"`` — the model above. ``Node.fsync()`` (or ``fsync("log")`` for chosen keys, or the
  ``Node.persist(...)`` helper) makes the node's writes durable.
* ``"durable"`` — every write is durable at once, as it was before this model existed: a power loss is
  then the same as a crash. For systems written assuming it.

The node mutates its storage in place (``storage["log"].append(entry)``), so writes are not seen one by
one: a sync compares each key's value with its durable image and copies the ones that changed. Copies
share immutable parts (tuples of numbers and strings, an unchanged prefix of a list), so syncing a long
log after one append costs a comparison of pointers and one new entry.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any, Literal

import msgspec

__all__ = [
    "DISKS",
    "Disk",
    "DiskMode",
    "key_name",
]


DiskMode = Literal["fsync", "durable"]
DISKS: tuple[str, ...] = ("fsync", "durable")

_ATOMS = (str, bytes, int, float, complex, bool, type(None), frozenset, range)
_ATOM_TYPES = frozenset(_ATOMS)  # the same, for a test of the exact type
_MISSING: Any = object()
_TEARABLE = (list, str, bytes)


def key_name(key: Any) -> str:
    """How a trace names a storage key: the string itself, else its ``repr``."""
    return key if isinstance(key, str) else repr(key)


def _immutable_struct(value: Any, copy_of: Callable[[Any], Any]) -> bool:
    """Whether ``value`` is a frozen msgspec struct whose every field ``copy_of`` keeps as it is (nothing
    in it can change, so a copy may share it, as a copied tuple of numbers is the tuple itself)."""
    if not isinstance(value, msgspec.Struct) or not value.__struct_config__.frozen:
        return False
    return all(copy_of(item) is item for item in (getattr(value, name) for name in value.__struct_fields__))


def _unchangeable(value: Any) -> bool:
    """Whether ``value`` is built of atoms, tuples and frozen structs alone: nothing in it can change, so
    :func:`_detach` and :func:`_freeze` keep it as it is. Told without copying anything (a crash detached
    a CRDT's tiny state through a closure per field: 11 us)."""
    cls = type(value)
    if cls in _ATOM_TYPES:
        return True
    if cls is tuple:
        items: Any = value
    elif isinstance(value, msgspec.Struct) and value.__struct_config__.frozen:
        items = [getattr(value, name) for name in value.__struct_fields__]
    else:
        return False
    for item in items:  # noqa: SIM110 (all() over a generator took half as long again)
        if type(item) not in _ATOM_TYPES and not _unchangeable(item):
            return False
    return True


def _freeze(value: Any, old: Any = _MISSING) -> Any:
    """A copy of ``value`` that later in-place changes to it cannot reach; immutable parts are shared.
    ``old`` (the previous copy, when there is one) lends its items to an unchanged list prefix."""
    cls = type(value)
    if cls in _ATOMS:
        return value
    if cls is tuple:
        items = [_freeze(v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else tuple(items)
    if cls is list:
        out = []
        reuse = old if type(old) is list else ()
        for i, item in enumerate(value):
            if i < len(reuse) and reuse[i] is item:  # an immutable item already checked when it was copied
                out.append(item)
            else:
                out.append(_freeze(item))
        return out
    if cls is dict:
        return {k: _freeze(v) for k, v in value.items()}
    if cls is set:
        return {_freeze(v) for v in value}
    if _immutable_struct(value, _freeze):  # a CRDT's state, a log entry: values, never changed in place
        return value
    return copy.deepcopy(value)


def _detach(value: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy(value)`` — the same result, sharing included (``memo``) — with the containers a
    node's storage is made of copied here, without deepcopy's dispatch on every item."""
    cls = type(value)
    if cls in _ATOMS:
        return value
    found = memo.get(id(value), _MISSING)
    if found is not _MISSING:
        return found
    if cls is dict:
        out: Any = {}
        memo[id(value)] = out
        for k, v in value.items():
            out[_detach(k, memo)] = _detach(v, memo)
    elif cls is list:
        out = []
        memo[id(value)] = out
        out.extend(_detach(v, memo) for v in value)
    elif _unchangeable(value):  # a tuple or frozen struct of atoms (a CRDT's state): nothing to copy
        return value
    elif cls is tuple:
        items = [_detach(v, memo) for v in value]
        out = value if all(a is b for a, b in zip(items, value, strict=True)) else tuple(items)
        memo[id(value)] = out
    elif _immutable_struct(value, lambda item: _detach(item, memo)):
        memo[id(value)] = out = value
    else:
        return copy.deepcopy(value, memo)
    return out


def _same(value: Any, image: Any) -> bool:
    if value is image:
        return True
    try:
        return bool(value == image)
    except Exception:  # an exotic __eq__: count it as changed, a copy is always correct
        return False


class Disk:
    """One node's storage: ``cache`` (what the node reads and writes) over a durable image.

    ``durable`` mode keeps no image: the cache is the disk.
    """

    __slots__ = ("_image", "cache", "mode")

    def __init__(self, mode: DiskMode = "fsync") -> None:
        self.mode = mode
        self.cache: dict[Any, Any] = {}
        self._image: dict[Any, Any] = {}

    # -- what the node does -------------------------------------------------------------------------
    def sync(self, keys: Iterable[Any] = ()) -> None:
        """Make the cached value of ``keys`` (default: every key) durable."""
        if self.mode == "durable":
            return
        cache, image = self.cache, self._image
        chosen = list(keys)
        if not chosen:
            for key, value in cache.items():
                old = image.get(key, _MISSING)
                if old is _MISSING or not _same(value, old):
                    image[key] = _freeze(value, old)
            if len(image) != len(cache):
                for key in [k for k in image if k not in cache]:
                    del image[key]
            return
        for key in chosen:
            if key in cache:
                old = image.get(key, _MISSING)
                if old is _MISSING or not _same(cache[key], old):
                    image[key] = _freeze(cache[key], old)
            else:
                image.pop(key, None)

    # -- what faults do -----------------------------------------------------------------------------
    def dirty(self) -> list[Any]:
        """The keys whose cached value is not durable, in a fixed order: the cache's, then deleted keys."""
        if self.mode == "durable":
            return []
        cache, image = self.cache, self._image
        out = [k for k, v in cache.items() if k not in image or not _same(v, image[k])]
        return out + [k for k in image if k not in cache]

    def appended(self, key: Any) -> int | None:
        """How many items ``key``'s cached value appended to its durable one, when it only appended (a
        write that can tear after any of them); ``None`` otherwise."""
        if key not in self.cache or key not in self._image:
            return None
        new, old = self.cache[key], self._image[key]
        if type(new) is not type(old) or not isinstance(new, _TEARABLE) or len(new) <= len(old):
            return None
        return len(new) - len(old) if new[: len(old)] == old else None

    def restart_after_crash(self) -> None:
        """The process died: the cache survives (the kernel holds it), detached from the dead incarnation's
        references so that nothing it still holds can change the next one's storage."""
        self.cache = _detach(self.cache, {})

    def restart_after_power_loss(self, fate: Callable[[Any, int | None], int]) -> dict[str, int]:
        """The machine lost power: the cache becomes the durable image plus what ``fate`` lets land.

        ``fate(key, appended)`` decides each dirty key (in :meth:`dirty` order): ``0`` lost, ``-1``
        landed whole, or — for an append of ``appended`` items — ``n`` in ``1..appended - 1``, torn after
        the first ``n``. Returns the keys that landed (by :func:`key_name`) with their fate, what a trace
        records.
        """
        if self.mode == "durable":
            self.restart_after_crash()
            return {}
        landed: dict[str, int] = {}
        image = self._image
        for key in self.dirty():
            grown = self.appended(key)
            outcome = fate(key, grown)
            if outcome == 0:
                continue
            landed[key_name(key)] = outcome
            if key not in self.cache:
                del image[key]
            elif grown is not None and 0 < outcome < grown:
                old = image[key]
                image[key] = _freeze(self.cache[key][: len(old) + outcome], old)
            else:
                image[key] = _freeze(self.cache[key], image.get(key, _MISSING))
        self.cache = copy.deepcopy(image)
        return landed

    @property
    def durable(self) -> dict[Any, Any]:
        """A copy of what a power loss now would keep for sure."""
        return copy.deepcopy(self.cache if self.mode == "durable" else self._image)
