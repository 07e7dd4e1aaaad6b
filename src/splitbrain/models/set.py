"""``set``: a grow-only set with ``add v`` and ``read`` (which returns every element).

The state is a frozenset, so that it is hashable and equal sets are equal states. It starts empty, or
as ``init`` (a sequence or set of elements) says. A read's output (a
sequence or set of elements; nil for none) is compared as a set: order and repeats do not matter.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

from splitbrain.errors import InvalidHistory, UsageError
from splitbrain.histories.history import UNKNOWN, Operation
from splitbrain.models._text import show
from splitbrain.models.base import Model

__all__ = [
    "Set",
]


class Set(Model):
    """A set of elements, initially empty; read returns all of them."""

    name: ClassVar[str] = "set"
    summary: ClassVar[str] = "a set: add v, read returns every element (compared as a set)"
    functions: ClassVar[tuple[str, ...]] = ("add", "read")
    readonly: ClassVar[tuple[str, ...]] = ("read",)

    def init(self) -> Hashable:
        return self.start(frozenset())

    def initial_state(self, value: Any) -> Hashable:
        """A sequence or set of elements (nil: none)."""
        if value is None:
            return frozenset()
        if not isinstance(value, tuple | frozenset):
            raise UsageError(f"set starts from a sequence or set of elements, e.g. #{{1 2}}; got {show(value)}")
        return frozenset(value)

    def step(self, state: frozenset[Any], op: Operation) -> tuple[frozenset[Any], ...]:
        f = op.f
        if f == "add":
            v = op.input
            return (state,) if v in state else (state | {v},)
        if f == "read":
            out = op.output
            if out is UNKNOWN:
                return (state,)
            if out is None:
                return () if state else (state,)
            if isinstance(out, tuple):
                out = frozenset(out)
            elif not isinstance(out, frozenset):
                raise InvalidHistory(
                    f"read by process {op.process} (event {op.call}) returned {show(out)}; "
                    "expected the elements as a sequence or set", event=op.call,
                )
            return (state,) if out == state else ()
        return ()

    def describe_state(self, state: frozenset[Any]) -> str:
        return show(state)
