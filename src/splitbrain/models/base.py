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
  history is checked one key at a time against a fresh model each;
* ``initial_state(value)`` (optional) — the state a value describes, written as the history writes values
  (``{:x 0 :y 0}`` for ``multi-register``, ``0`` for ``cas-register``): what ``Model(init=value)``,
  :meth:`Model.with_init`, ``splitbrain check --init`` and ``check(..., init=...)`` start from. Knossos's
  models take one (``(cas-register 0)``, ``(multi-register {:x 0 :y 0})``), and a history recorded
  against a store that was not empty is checked wrongly without it.

``step`` may read ``op.f``, ``op.key``, ``op.input`` and ``op.output`` (and the state) and nothing else:
the checker treats operations that agree on those as interchangeable — it steps the model once for all
of them, and of crashed calls alike counts how many are used rather than which. A model whose ``step``
reads more (``op.process``, say) sets ``symmetric = False``.

We pass the whole operation to ``step`` rather than Porcupine's ``(state, input, output)`` because our
operations carry a separate ``key`` and function name; a model reads what it needs from one record.

A user model is any object with these methods; subclassing :class:`Model` gives the defaults.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from splitbrain.errors import UsageError
from splitbrain.histories.history import UNKNOWN, Operation
from splitbrain.histories.op import freeze

__all__ = [
    "DEFAULT",
    "Model",
    "ModelProtocol",
    "unknown",
    "with_init",
]


class _Default:
    """No initial value given: the model starts from its own."""

    def __repr__(self) -> str:
        return "DEFAULT"


#: the ``init`` of a model given none (its own initial state)
DEFAULT: Any = _Default()


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
    #: whether operations that agree on function, key, input and output are interchangeable (``step``
    #: reads nothing else of an operation); false makes the checker treat each one apart
    symmetric: ClassVar[bool] = True

    def __init__(self, *, init: Any = DEFAULT) -> None:
        if init is not DEFAULT:
            self._initial = (self.initial_state(freeze(init)),)

    def init(self) -> Hashable:
        raise NotImplementedError

    def start(self, default: Hashable) -> Hashable:
        """The initial state: the one given as ``init``, else ``default`` (the model's own)."""
        given = getattr(self, "_initial", None)
        return default if given is None else given[0]

    def initial_state(self, value: Any) -> Hashable:
        """The state ``value`` describes (a value as a history holds it: tuples, maps, keywords). Models
        that can start elsewhere than their own initial state override this; it raises otherwise."""
        raise UsageError(f"model {self.name!r} takes no initial value (it always starts as "
                         f"{self.describe_state(self.init())})")

    def with_init(self, value: Any) -> Model:
        """A copy of this model that starts from ``value`` (see :meth:`initial_state`)."""
        clone = copy.copy(self)
        clone._initial = (self.initial_state(freeze(value)),)
        return clone

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
        given = getattr(self, "_initial", None)
        return f"<model {self.name}>" if given is None else f"<model {self.name} init={self.describe_state(given[0])}>"


def with_init(model: Any, value: Any) -> Any:
    """``model`` starting from ``value``; :class:`UsageError` when the model takes no initial value."""
    method = getattr(model, "with_init", None)
    if not callable(method):
        raise UsageError(
            f"model {getattr(model, 'name', model)!r} takes no initial value: give it a with_init(value) method, "
            "or subclass splitbrain.Model and override initial_state(value)"
        )
    return method(value)


def unknown(output: Any) -> bool:
    """True when an operation's outcome is unknown, so every output must be accepted."""
    return output is UNKNOWN
