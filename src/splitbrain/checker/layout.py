"""The history laid out for the linearizability search: entries, keys, lanes and the pool of crashed calls.

Both engines (the reference in :mod:`splitbrain.checker.search` and the compiled core driven by
:mod:`splitbrain.checker.fast`) read a history through this one layout, so that they number everything
the same way:

* **Entries** 1..n: every call and every return, in the history's real-time order (0 is the list's
  head). A call's ``match`` is its return entry, or -1 when the outcome is unknown (``info``, or never
  completed).
* **Keys**: with an independence key (:mod:`splitbrain.checker.reduced`), operations on different keys
  are searched as separate objects; without one, every operation has key 0.
* **Lanes**: the completed operations of each key coloured as intervals, each taking the lowest lane
  free at its call. Two operations in one lane never overlap, so at any point of the history a lane holds
  at most one open operation, and a set of open operations is a bitset over lanes — at most as wide as
  the history is concurrent, however long it is. That is what keeps a search state small.
* **Classes of alike operations** (``osym``): operations that agree on key, function, input and output.
  The model cannot tell them apart (its ``step`` reads only those fields), so the search steps the model
  once per class and state, not once per operation and state — a million-operation history of values
  0-4 has a few dozen classes. A model whose ``step`` reads anything else sets ``symmetric = False``:
  then every operation is a class of its own.
* **The crash pool**: a call whose outcome is unknown may take effect at any point after it, once, or
  never; it never returns, so it stays pending to the end. It is not put in the list of entries: it
  joins a pool, in a crash class (``oclass``) of the crashed calls alike, and the search counts how many
  calls of each class it has used rather than which — the symmetry that makes a few hundred crashed
  writes cost a few counters.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any

from splitbrain.histories.history import UNKNOWN, Operation

__all__ = [
    "CALL",
    "RETURN",
    "Layout",
    "entries",
    "layout",
]


CALL = 0
RETURN = 1


def entries(ops: Sequence[Operation]) -> tuple[int, list[int], list[int], list[int]]:
    """The call and return entries of ``ops`` in real-time order, numbered 1..n (0 is the list's head).

    Returns ``(n, kind, opi, match)``: each entry's kind (``CALL``/``RETURN``), the index of its operation,
    and for a call the entry of its return (-1 when the outcome is unknown).
    """
    events: list[tuple[int, int, int]] = []
    for i, op in enumerate(ops):
        events.append((op.call, CALL, i))
        if op.ret is not None:
            events.append((op.ret, RETURN, i))
    events.sort()
    n = len(events)
    kind = [0] * (n + 1)
    opi = [0] * (n + 1)
    match = [-1] * (n + 1)
    call_entry = [0] * len(ops)
    for e, (_, k, i) in enumerate(events, start=1):
        kind[e] = k
        opi[e] = i
        if k == CALL:
            call_entry[i] = e
        else:
            match[call_entry[i]] = e
    return n, kind, opi, match


class Layout:
    """What the search reads, all lists of ints (the compiled core takes them as they are).

    ``okey``, ``olane``, ``oclass``, ``osym`` and ``oread`` are per operation: its key, its lane within
    the key (-1 for a crashed call), its crash class (-1 for a completed operation), its class of alike
    operations (``sym_rep`` holds each class's first operation, which stands for it when the model is
    stepped) and whether it is a completed call of a read-only function (``model.readonly``). ``width``
    is the 64-bit words a lane bitset takes.
    Per class: ``class_key``, its calls' entries in order (``class_calls``) and operations
    (``class_ops``); the first operation stands for the class when the model is stepped.
    """

    __slots__ = (
        "class_calls", "class_key", "class_ops", "key_classes", "kind", "lanes", "match", "n", "nkeys",
        "oclass", "okey", "olane", "opi", "oread", "osym", "sym_rep", "width",
    )

    def __init__(
        self, ops: Sequence[Operation], model: Any, key_of: Callable[[Operation], Any] | None
    ) -> None:
        self.n, self.kind, self.opi, self.match = entries(ops)
        keys: dict[Any, int] = {}
        self.okey = [0] * len(ops) if key_of is None else [keys.setdefault(key_of(op), len(keys)) for op in ops]
        self.nkeys = max(1, len(keys))
        readonly = frozenset(getattr(model, "readonly", ()) or ())
        self.oread = [int(op.ret is not None and op.f in readonly) for op in ops]
        self._colour(ops)
        self._pool(ops, bool(getattr(model, "symmetric", True)))

    def _colour(self, ops: Sequence[Operation]) -> None:
        """Lanes: per key, each completed operation takes the lowest lane free at its call."""
        self.olane = [-1] * len(ops)
        free: list[list[int]] = [[] for _ in range(self.nkeys)]
        self.lanes = [0] * self.nkeys
        kind, opi, match = self.kind, self.opi, self.match
        for e in range(1, self.n + 1):
            i = opi[e]
            k = self.okey[i]
            if kind[e] == RETURN:
                heapq.heappush(free[k], self.olane[i])
            elif match[e] != -1:
                if free[k]:
                    self.olane[i] = heapq.heappop(free[k])
                else:
                    self.olane[i] = self.lanes[k]
                    self.lanes[k] += 1
        self.width = max(1, (max(self.lanes) + 63) // 64)

    def _pool(self, ops: Sequence[Operation], symmetric: bool) -> None:
        """Classes of alike operations and crash classes, each in order of its first call; each crash
        class's calls in order."""
        self.oclass = [-1] * len(ops)
        self.osym = [-1] * len(ops)
        self.sym_rep: list[int] = []
        self.class_key: list[int] = []
        self.class_calls: list[list[int]] = []
        self.class_ops: list[list[int]] = []
        classes: dict[Any, int] = {}
        alike: dict[Any, int] = {}
        for e in range(1, self.n + 1):
            if self.kind[e] != CALL:
                continue
            i = self.opi[e]
            op = ops[i]
            if not symmetric:
                name: Any = ("op", i)
            elif type(op.key) in _PLAIN and type(op.input) in _PLAIN and type(op.output) in _PLAIN:
                name = (self.okey[i], op.f, op.key, op.input, op.output)  # what _class_of gives, sooner
            else:
                name = _class_of(op, self.okey[i])
            sym = self.osym[i] = _number(alike, name, i)
            if sym == len(self.sym_rep):
                self.sym_rep.append(i)
            if self.match[e] != -1:
                continue
            c = _number(classes, name, i)
            if c == len(self.class_key):
                self.class_key.append(self.okey[i])
                self.class_calls.append([])
                self.class_ops.append([])
            self.oclass[i] = c
            self.class_calls[c].append(e)
            self.class_ops[c].append(i)
        self.key_classes: list[list[int]] = [[] for _ in range(self.nkeys)]
        for c, k in enumerate(self.class_key):
            self.key_classes[k].append(c)


def layout(ops: Sequence[Operation], model: Any, key_of: Callable[[Operation], Any] | None = None) -> Layout:
    """Lay ``ops`` (no ``fail`` operations among them) out for a search against ``model``."""
    return Layout(ops, model, key_of)


#: types whose values are their own class key (``_strict`` leaves them as they are)
_PLAIN = (int, str, type(None), type(UNKNOWN))


def _class_of(op: Operation, key: int) -> Any:
    """What the model reads of an operation (besides the state): operations that agree on it are alike."""
    return (key, op.f, _strict(op.key), _strict(op.input), _strict(op.output))


def _number(classes: dict[Any, int], name: Any, i: int) -> int:
    """The number of class ``name`` (a new one when first seen); an unhashable value: a class of its own."""
    try:
        return classes.setdefault(name, len(classes))
    except TypeError:
        return classes.setdefault(("op", i), len(classes))


def _strict(value: Any) -> Any:
    """A value as a dict key that keeps apart what the models keep apart: ``True`` is not ``1`` (the
    models compare with :func:`~splitbrain.histories.op.same_value`), in sequences too."""
    kind = type(value)
    if kind is int or kind is str or value is None:
        return value
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, tuple):
        return ("tuple", tuple(_strict(v) for v in value))
    if isinstance(value, dict):
        return ("map", frozenset((_strict(k), _strict(v)) for k, v in value.items()))
    if isinstance(value, frozenset):
        return ("set", frozenset(_strict(v) for v in value))
    return value
