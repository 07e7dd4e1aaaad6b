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
    "NEMESIS",
    "OP_TYPES",
    "Op",
    "OpType",
    "freeze",
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


def freeze(value: Any) -> Any:
    """Normalise a decoded value so that every format yields equal values: sequences become tuples.

    Tuples are hashable, which models need for their states; dicts keep their shape (their values are
    normalised) so that a round trip through a format gives back the same value.
    """
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: freeze(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    return value
