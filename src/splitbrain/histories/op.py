"""`Op`: one event of a history, with Jepsen's semantics.

An operation appears in a history as an ``invoke`` event and, later, one completion from the same
process:

* ``ok``   — it happened, and ``value`` is its result;
* ``fail`` — it definitely did not happen (it has no effect and constrains nothing);
* ``info`` — it may or may not have happened, at any point after its invoke. The process is then
  considered crashed; Jepsen continues with a fresh process id.

Events of the special process ``"nemesis"`` describe faults (partitions, crashes); they are kept in the
history for reports but are not operations.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "COMPLETIONS",
    "MAX_DEPTH",
    "NAN",
    "NEMESIS",
    "OP_TYPES",
    "FrozenMap",
    "Op",
    "OpType",
    "TooDeep",
    "freeze",
    "same_value",
]


OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES: tuple[str, ...] = ("invoke", "ok", "fail", "info")
COMPLETIONS: frozenset[str] = frozenset({"ok", "fail", "info"})
NEMESIS = "nemesis"


class Op(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One history event. ``index`` is its position in the history (assigned on load when absent).

    ``time`` is an integer (simulated ticks, or monotonic nanoseconds for real systems); ``node`` names
    the server that handled it, when known; ``vclock`` is the vector clock stamped on the event by the
    simulator or recorder. ``key`` is set for keyed workloads (``kv``); ``error`` carries a completion's
    error description; ``extra`` keeps any other fields a foreign format carried, so nothing is lost.
    """

    process: int | str
    type: OpType
    f: str
    value: Any = None
    index: int = -1
    time: int | None = None
    node: str | None = None
    vclock: dict[str, int] | None = None
    key: Any = None
    error: Any = None
    extra: dict[str, Any] | None = None

    @property
    def is_invoke(self) -> bool:
        return self.type == "invoke"

    @property
    def is_nemesis(self) -> bool:
        return self.process == NEMESIS

    def with_index(self, index: int) -> Op:
        return msgspec.structs.replace(self, index=index)


class FrozenMap(dict[Any, Any]):
    """A map value that cannot change and can be hashed: what a map in a history (a JSON object, an EDN
    map) becomes, so that models can keep it in their hashable states. It is a ``dict`` for everything
    else — equal to the same plain dict, written back as a map by every format."""

    __slots__ = ("_hash",)
    _hash: int

    def __hash__(self) -> int:  # type: ignore[override]
        try:
            return self._hash
        except AttributeError:
            self._hash = hash(frozenset(self.items()))
            return self._hash

    def _immutable(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a map value of a history cannot be changed")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _immutable

    def __repr__(self) -> str:
        return f"{{{', '.join(f'{k!r}: {v!r}' for k, v in self.items())}}}"

    def __reduce__(self) -> Any:
        return (FrozenMap, (dict(self),))


#: every NaN read from a history becomes this one object, so that a read of NaN matches a write of NaN
#: (``float("nan") != float("nan")``, but :func:`same_value` and containers compare it by identity)
NAN = float("nan")

#: how deep values may nest; deeper input is refused with a clear error instead of exhausting the stack
MAX_DEPTH = 200


class TooDeep(ValueError):
    """A value nested deeper than :data:`MAX_DEPTH` levels."""


# isinstance's class tuples, built once (an ``A | B`` written in the call builds a union on every call)
_ATOMIC = (str, int, type(None))
_SEQUENCES = (list, tuple)
_SETS = (set, frozenset)


def freeze(value: Any, _depth: int = 0) -> Any:
    """Normalise a decoded value so that every format yields equal, hashable values: sequences become
    tuples, maps :class:`FrozenMap`, sets frozensets, and every NaN the one :data:`NAN`.

    Raises :class:`TooDeep` past :data:`MAX_DEPTH` levels of nesting.
    """
    if isinstance(value, _ATOMIC):
        return value
    if _depth > MAX_DEPTH:
        raise TooDeep(f"a value is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, float):
        return NAN if value != value else value
    if isinstance(value, _SEQUENCES):
        return tuple(freeze(v, _depth + 1) for v in value)
    if isinstance(value, FrozenMap):
        return value
    if isinstance(value, dict):
        return FrozenMap((freeze(k, _depth + 1), freeze(v, _depth + 1)) for k, v in value.items())
    if isinstance(value, _SETS):
        return frozenset(freeze(v, _depth + 1) for v in value)
    return value


def same_value(a: Any, b: Any) -> bool:
    """Whether two history values are the same value: ``==``, except that ``True`` is not ``1`` (nor
    ``False`` ``0``), in containers too, and :data:`NAN` is itself. What the models compare outputs with."""
    if a is b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(v, b[k]) for k, v in a.items())
    return bool(a == b)
