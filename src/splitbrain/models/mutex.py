"""``mutex``: a lock with ``acquire`` and ``release``.

The state is whether the lock is held (initially not; ``init=true`` starts it held). ``acquire`` is
legal only while the lock is free and ``release`` only while it is held; nobody's identity is tracked,
as in Knossos's mutex model.

An unknown outcome is read as everywhere else: the operation happened and its output is unknown. Here
the outputs carry no information, so an unknown acquire steps exactly like a completed one — it can only
have happened while the lock was free (then the lock is held), and where it could not have happened the
step returns nothing. That is not a claim that the acquire happened: the checker also tries never
placing an unknown operation, which covers "it did not take effect".
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

from splitbrain.errors import UsageError
from splitbrain.histories.history import Operation
from splitbrain.models.base import Model

__all__ = [
    "Mutex",
]


_HELD = (True,)
_FREE = (False,)


class Mutex(Model):
    """A lock: acquire when free, release when held."""

    name: ClassVar[str] = "mutex"
    summary: ClassVar[str] = "a lock: acquire only when free, release only when held"
    functions: ClassVar[tuple[str, ...]] = ("acquire", "release")

    def init(self) -> Hashable:
        return self.start(False)

    def initial_state(self, value: Any) -> Hashable:
        """``true`` (held) or ``false`` (free)."""
        if not isinstance(value, bool):
            raise UsageError(f"mutex starts held (true) or free (false); got {value!r}")
        return value

    def step(self, state: bool, op: Operation) -> tuple[bool, ...]:
        f = op.f
        if f == "acquire":
            return () if state else _HELD
        if f == "release":
            return _FREE if state else ()
        return ()

    def describe_state(self, state: bool) -> str:
        return "held" if state else "free"
