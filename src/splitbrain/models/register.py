"""Single registers: ``register`` (read, write) and ``cas-register`` (read, write, compare-and-set).

The state is the register's value, ``None`` (nil) before the first write: a read that returns nil found
the register absent. ``init=`` starts it at a value instead (Knossos's ``(cas-register 0)``). ``cas``
takes ``(old, new)`` and sets ``new`` only when the value is ``old``.

These reproduce the etcd model of Porcupine's tests (the Jepsen etcd histories): a read must return the
current value; a write always succeeds; a cas whose outcome is unknown takes effect if the compare
matched and otherwise leaves the value alone — it is never illegal. A Jepsen ``fail`` cas did not happen;
the checker removes it before the model sees it.

Every model here reads UNKNOWN as "the operation happened, its output is not known": the checker
separately allows an unknown operation not to happen at all, by never placing it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

from splitbrain.errors import InvalidHistory
from splitbrain.histories.history import UNKNOWN, Operation
from splitbrain.histories.op import same_value
from splitbrain.models._text import show
from splitbrain.models.base import Model

__all__ = [
    "CasRegister",
    "Register",
]


class Register(Model):
    """A read/write register starting at nil."""

    name: ClassVar[str] = "register"
    summary: ClassVar[str] = "a read/write register, initially nil (or init)"
    functions: ClassVar[tuple[str, ...]] = ("read", "write")
    #: functions that never change the state (the checker may drop their unknown-outcome calls)
    readonly: ClassVar[tuple[str, ...]] = ("read",)

    def init(self) -> Hashable:
        return self.start(None)

    def initial_state(self, value: Any) -> Hashable:
        """Any value: the register holds it (nil: absent)."""
        return value

    def step(self, state: Any, op: Operation) -> tuple[Any, ...]:
        f = op.f
        if f == "read":
            out = op.output
            return (state,) if out is UNKNOWN or same_value(out, state) else ()
        if f == "write":
            return (op.input,)
        return ()

    def describe_state(self, state: Any) -> str:
        return show(state)


class CasRegister(Register):
    """A register with compare-and-set, as etcd keys are used in Jepsen's register test."""

    name: ClassVar[str] = "cas-register"
    summary: ClassVar[str] = "a register with read, write and cas [old new], initially nil (or init)"
    functions: ClassVar[tuple[str, ...]] = ("read", "write", "cas")

    def step(self, state: Any, op: Operation) -> tuple[Any, ...]:
        if op.f != "cas":
            return super().step(state, op)
        old, new = _pair(op)
        out = op.output
        if out is UNKNOWN:
            # it happened: it set the value if the compare matched, and changed nothing otherwise
            return (new,) if same_value(state, old) else (state,)
        if out is False:
            # some clients complete a cas whose compare failed as ok with result false: it ran, and
            # was legal only where the value was not ``old``
            return () if same_value(state, old) else (state,)
        return (new,) if same_value(state, old) else ()


def _pair(op: Operation) -> tuple[Any, Any]:
    """The ``(old, new)`` input of a cas, or an error that says what was expected."""
    value = op.input
    if isinstance(value, tuple) and len(value) == 2:
        return value[0], value[1]
    raise InvalidHistory(
        f"cas by process {op.process} (event {op.call}) has input {show(value)}; expected a pair [old new]",
        event=op.call,
    )
