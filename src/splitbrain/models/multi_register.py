"""``multi-register``: registers read and written together in atomic transactions (Jepsen's ``txn``).

A ``txn`` takes a sequence of micro-ops ``(fn, key, value)``, ``fn`` being ``read``/``r`` or
``write``/``w`` (EDN keywords compare as the plain strings). The invoke's reads carry nil; the completion
carries the values read. Every register starts as nil, or as ``init`` says: a map of register to value,
as Knossos's ``(multi-register {:x 0 :y 0})``. A transaction is legal when each read in its
output sees the state as updated by the transaction's earlier writes: the whole transaction takes effect
at one point.

The state is a tuple of ``(key, value)`` pairs sorted by key, without nil registers, so that it is
canonical (see ``kv`` for why). When the output is unknown, the writes of the input take effect and the
reads constrain nothing.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

from splitbrain.errors import InvalidHistory, UsageError
from splitbrain.histories.history import UNKNOWN, Operation
from splitbrain.histories.op import same_value
from splitbrain.models._text import canonical, show, show_map
from splitbrain.models.base import Model

__all__ = [
    "READ",
    "WRITE",
    "MultiRegister",
    "State",
]


State = tuple[tuple[Any, Any], ...]

READ: frozenset[str] = frozenset({"read", "r"})
WRITE: frozenset[str] = frozenset({"write", "w"})


class MultiRegister(Model):
    """Registers, initially nil, read and written by atomic transactions of micro-ops."""

    name: ClassVar[str] = "multi-register"
    summary: ClassVar[str] = "registers (initially nil, or init) read and written in atomic txns of [r|w key value]"
    functions: ClassVar[tuple[str, ...]] = ("txn",)

    def init(self) -> Hashable:
        return self.start(())

    def initial_state(self, value: Any) -> Hashable:
        """A map of register to value (``{:x 0 :y 0}``); a register left out, or nil, starts as nil."""
        if not isinstance(value, dict):
            raise UsageError(
                f"multi-register starts from a map of register to value, e.g. {{:x 0 :y 0}}; got {show(value)}"
            )
        return canonical((k, v) for k, v in value.items() if v is not None)

    def step(self, state: State, op: Operation) -> tuple[State, ...]:
        if op.f != "txn":
            return ()
        out = op.output
        # A completion without the micro-ops (nil, say) says nothing about the values read.
        check_reads = out is not UNKNOWN and isinstance(out, tuple)
        mops = out if check_reads else op.input
        if not isinstance(mops, tuple):
            raise _malformed(op, f"{show(mops)} is not a sequence of micro-ops")
        values = dict(state)
        changed = False
        for mop in mops:
            if not (isinstance(mop, tuple) and len(mop) == 3):
                raise _malformed(op, f"{show(mop)} is not a micro-op")
            fn, key, value = mop
            if fn in WRITE:
                values[key] = value
                changed = True
            elif fn in READ:
                if check_reads and not same_value(values.get(key), value):
                    return ()
            else:
                raise _malformed(op, f"{show(mop)} is not a micro-op")
        if not changed:
            return (state,)
        return (canonical((k, v) for k, v in values.items() if v is not None),)

    def describe_state(self, state: State) -> str:
        return show_map(state)


def _malformed(op: Operation, problem: str) -> InvalidHistory:
    return InvalidHistory(
        f"txn by process {op.process} (event {op.call}): {problem} (expected [r key value] or "
        "[w key value], fn being read/r or write/w)",
        event=op.call,
    )
