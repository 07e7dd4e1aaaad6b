"""The `Model` interface: a pure sequential specification.

Following Porcupine's `Model` record (Init, Step, Partition, Describe*), a model here is an object with

* ``init() -> state`` — the initial state, which must be hashable (the checker memoises on it);
* ``step(state, op) -> iterable of states`` — the states the object can be in after ``op`` took effect in
  ``state``. Empty means ``op`` is illegal there; several states make the model nondeterministic.
  ``op`` is a :class:`~splitbrain.histories.Operation`: ``op.f``, ``op.key``, ``op.input`` (the invoke's
  value) and ``op.output`` (the completion's value, or :data:`~splitbrain.histories.UNKNOWN` when the
  outcome is unknown, in which case every outcome must be allowed);
* ``partition(operations) -> list of lists`` (optional) — independent sub-histories whose separate
  linearizability implies the whole's (P-compositionality, Horn & Kroening 2015);
* ``describe_state(state)`` and ``describe_op(op)`` for reports;
* ``keyed`` (optional, default false) — true when ``step`` reads ``op.key`` itself; otherwise a keyed
  history is checked one key at a time against a fresh model each.

We pass the whole operation to ``step`` rather than Porcupine's ``(state, input, output)`` because our
operations carry a separate ``key`` and function name; a model reads what it needs from one record.

A user model is any object with these methods; subclassing :class:`Model` gives the defaults.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from splitbrain.histories.history import UNKNOWN, Operation

__all__ = [
    "Model",
    "ModelProtocol",
    "unknown",
]


@runtime_checkable
class ModelProtocol(Protocol):
    name: str

    def init(self) -> Hashable: ...

    def step(self, state: Any, op: Operation) -> Iterable[Any]: ...


class Model:
    """Base class for models: override ``init`` and ``step``; the rest has sensible defaults."""

    name: ClassVar[str] = "model"
    summary: ClassVar[str] = ""
    #: the functions the model understands, for validation and ``splitbrain models``
    functions: ClassVar[tuple[str, ...]] = ()
    #: functions that never change the state: the checker drops their unknown-outcome calls
    readonly: ClassVar[tuple[str, ...]] = ()
    #: whether ``step`` reads ``op.key`` itself (``kv``). When false, a history whose operations carry
    #: keys is checked one key at a time, a fresh model per key (Jepsen's ``independent``)
    keyed: ClassVar[bool] = False

    def init(self) -> Hashable:
        raise NotImplementedError

    def step(self, state: Any, op: Operation) -> Iterable[Any]:
        raise NotImplementedError

    def partition(self, operations: Sequence[Operation]) -> list[list[Operation]] | None:
        """Split into independent groups, or ``None`` when the model does not decompose."""
        return None

    def describe_state(self, state: Any) -> str:
        return "nil" if state is None else repr(state)

    def describe_op(self, op: Operation) -> str:
        return op.describe()

    def __repr__(self) -> str:
        return f"<model {self.name}>"


def unknown(output: Any) -> bool:
    """True when an operation's outcome is unknown, so every output must be accepted."""
    return output is UNKNOWN
