"""``counter``: ``add n`` and ``read``, starting at 0 (or ``init``).

A linearizable counter: every read returns the sum of the adds placed before it. (Jepsen's own counter
checker is weaker — it bounds reads between acknowledged and attempted adds; use this model when the
system claims linearizability.)
"""

from __future__ import annotations

from collections.abc import Hashable
from numbers import Number
from typing import Any, ClassVar

from splitbrain.errors import InvalidHistory, UsageError
from splitbrain.histories.history import UNKNOWN, Operation
from splitbrain.histories.op import same_value
from splitbrain.models._text import show
from splitbrain.models.base import Model

__all__ = [
    "Counter",
]


class Counter(Model):
    """An integer counter starting at 0."""

    name: ClassVar[str] = "counter"
    summary: ClassVar[str] = "a counter starting at 0: add n, read"
    functions: ClassVar[tuple[str, ...]] = ("add", "read")
    readonly: ClassVar[tuple[str, ...]] = ("read",)

    def init(self) -> Hashable:
        return self.start(0)

    def initial_state(self, value: Any) -> Hashable:
        """A number."""
        if not isinstance(value, Number) or isinstance(value, bool):
            raise UsageError(f"counter starts from a number; got {show(value)}")
        return value

    def step(self, state: Any, op: Operation) -> tuple[Any, ...]:
        f = op.f
        if f == "read":
            out = op.output
            return (state,) if out is UNKNOWN or same_value(out, state) else ()
        if f == "add":
            n = op.input
            if not isinstance(n, Number) or isinstance(n, bool):
                raise InvalidHistory(
                    f"add by process {op.process} (event {op.call}) has input {show(n)}; "
                    "expected a number", event=op.call,
                )
            after = state + n
            out = op.output
            # an add's result is either echoed (Jepsen's clients complete ``add 1`` with value 1) or the
            # counter's value after it (Redis INCRBY); anything else is a wrong answer to check
            if out is UNKNOWN or out is None or same_value(out, n) or same_value(out, after):
                return (after,)
            return ()
        return ()
