"""``kv``: a key-value store of strings with ``get``, ``put`` and ``append`` on ``op.key``.

Every key starts as ``""`` (or as ``init``, a map of key to value, says); ``put`` sets the value,
``append`` concatenates, ``get`` returns the current value (a ``get`` that returns nil is read as ``""``:
some clients write nil for a missing key; likewise a nil ``put`` or ``append`` value is ``""``).
This is the model of Porcupine's kv tests.

The state is a tuple of ``(key, value)`` pairs sorted by key, leaving out keys whose value is ``""``.
Leaving them out makes the state canonical — a key put to ``""`` and a key never touched are the same
state — and sorting makes it independent of the order keys were first written, so the checker's memo
sees equal states as equal.

Keys are independent, so :meth:`KV.partition` splits a history by key and the checker checks each part
on its own (P-compositionality, Horn & Kroening 2015): one key's state is then at most one pair.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

from splitbrain.errors import InvalidHistory, UsageError
from splitbrain.histories.history import UNKNOWN, Operation
from splitbrain.models._text import canonical, show, show_map
from splitbrain.models.base import Model

__all__ = [
    "KV",
    "KVState",
]


KVState = tuple[tuple[Any, Any], ...]


class KV(Model):
    """A string key-value store; every key starts as the empty string."""

    name: ClassVar[str] = "kv"
    summary: ClassVar[str] = 'a key-value store of strings (get, put, append by key), every key ""'
    functions: ClassVar[tuple[str, ...]] = ("get", "put", "append")
    keyed: ClassVar[bool] = True  # step reads op.key: one store of many keys
    readonly: ClassVar[tuple[str, ...]] = ("get",)

    def init(self) -> Hashable:
        return self.start(())

    def initial_state(self, value: Any) -> Hashable:
        """A map of key to value; a key left out, or nil or ``""``, starts as ``""``."""
        if not isinstance(value, dict):
            raise UsageError(f"kv starts from a map of key to value, e.g. {{\"x\" \"a\"}}; got {show(value)}")
        return canonical((k, v) for k, v in value.items() if v is not None and v != "")

    def step(self, state: KVState, op: Operation) -> tuple[KVState, ...]:
        key = op.key
        current = ""
        for k, v in state:
            if k == key:
                current = v
                break
        f = op.f
        if f == "get":
            out = op.output
            if out is UNKNOWN:
                return (state,)
            return (state,) if (out if out is not None else "") == current else ()
        value = op.input if op.input is not None else ""
        if f == "append":
            if current == "":
                pass  # appending to an absent key: also right for values that are not strings
            elif value == "":
                return (state,)
            else:
                try:
                    value = current + value
                except TypeError:
                    raise InvalidHistory(
                        f"append by process {op.process} (event {op.call}) of {show(value)} to key "
                        f"{show(key)}, whose value is {show(current)}: the values cannot be concatenated",
                        event=op.call,
                    ) from None
        elif f != "put":
            return ()
        if value == current:
            return (state,)
        return (_assign(state, key, value),)

    def partition(self, operations: Sequence[Operation]) -> list[list[Operation]]:
        """One list per key, keys in first-seen order, each list in the given order."""
        groups: dict[Any, list[Operation]] = {}
        for op in operations:
            group = groups.get(op.key)
            if group is None:
                groups[op.key] = group = []
            group.append(op)
        return list(groups.values())

    def independence_key(self, op: Operation) -> Any:
        """Operations on different keys are independent: each reads and changes only its key's part
        of the state. With ``partition=False`` the checker uses this for one reduced search over the
        whole history (:mod:`splitbrain.checker.reduced`) instead of splitting it."""
        return op.key

    def describe_state(self, state: KVState) -> str:
        return show_map(state)


def _assign(state: KVState, key: Any, value: Any) -> KVState:
    """``state`` with ``key`` set to ``value`` (removed when ``value`` is ``""``), canonical."""
    # fast paths for the partitioned case, where a state holds at most this one key
    if not state:
        return ((key, value),) if value != "" else ()
    if len(state) == 1 and state[0][0] == key:
        return ((key, value),) if value != "" else ()
    pairs = [(k, v) for k, v in state if k != key]
    if value != "":
        pairs.append((key, value))
    return canonical(pairs)
