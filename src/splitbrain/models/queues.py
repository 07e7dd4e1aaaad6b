"""Queues: ``fifo-queue`` (elements leave in the order they came) and ``unordered-queue`` (any order).

Both take ``enqueue v`` and ``dequeue`` (whose output is the element removed). A dequeue that returns nil
found the queue empty. Outputs of enqueue are ignored.

An unknown dequeue happened but its output is unknown: from a FIFO queue it removed the head; from an
unordered queue it removed any one element, so that step has one next state per distinct element (the
model is nondeterministic there); from an empty queue it removed nothing.

Both start empty, or with the elements ``init`` lists (head first).

The FIFO state is a tuple, head first. The unordered state is a multiset written as a tuple of
``(value, count)`` pairs sorted by value, so that equal multisets are equal states.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

from splitbrain.errors import UsageError
from splitbrain.histories.history import UNKNOWN, Operation
from splitbrain.histories.op import same_value
from splitbrain.models._text import canonical, show
from splitbrain.models.base import Model

__all__ = [
    "Bag",
    "FifoQueue",
    "UnorderedQueue",
]


Bag = tuple[tuple[Any, int], ...]


class FifoQueue(Model):
    """A first-in first-out queue, initially empty."""

    name: ClassVar[str] = "fifo-queue"
    summary: ClassVar[str] = "a FIFO queue: enqueue v, dequeue returns the head (nil when empty)"
    functions: ClassVar[tuple[str, ...]] = ("enqueue", "dequeue")

    def init(self) -> Hashable:
        return self.start(())

    def initial_state(self, value: Any) -> Hashable:
        """A sequence of elements, head first (nil: empty)."""
        return _elements(self.name, value)

    def step(self, state: tuple[Any, ...], op: Operation) -> tuple[tuple[Any, ...], ...]:
        f = op.f
        if f == "enqueue":
            return ((*state, op.input),)
        if f == "dequeue":
            out = op.output
            if not state:
                return (state,) if out is None or out is UNKNOWN else ()
            if out is UNKNOWN or same_value(out, state[0]):
                return (state[1:],)
            return ()
        return ()

    def describe_state(self, state: tuple[Any, ...]) -> str:
        return show(state)


class UnorderedQueue(Model):
    """A queue from which any element may come out next: a multiset."""

    name: ClassVar[str] = "unordered-queue"
    summary: ClassVar[str] = "a queue with no order: dequeue returns any element (nil when empty)"
    functions: ClassVar[tuple[str, ...]] = ("enqueue", "dequeue")

    def init(self) -> Hashable:
        return self.start(())

    def initial_state(self, value: Any) -> Hashable:
        """A sequence of elements (nil: empty)."""
        bag: Bag = ()
        for v in _elements(self.name, value):
            bag = _add(bag, v)
        return bag

    def step(self, state: Bag, op: Operation) -> tuple[Bag, ...]:
        f = op.f
        if f == "enqueue":
            return (_add(state, op.input),)
        if f == "dequeue":
            out = op.output
            if not state:
                return (state,) if out is None or out is UNKNOWN else ()
            if out is UNKNOWN:
                return tuple(_remove(state, i) for i in range(len(state)))
            for i, (value, _) in enumerate(state):
                if same_value(value, out):
                    return (_remove(state, i),)
            return ()
        return ()

    def describe_state(self, state: Bag) -> str:
        return "#{" + " ".join(show(v) for v, n in state for _ in range(n)) + "}"


def _add(state: Bag, v: Any) -> Bag:
    """``state`` with one more copy of ``v``."""
    for i, (value, count) in enumerate(state):
        if same_value(value, v):
            return (*state[:i], (value, count + 1), *state[i + 1 :])
    return canonical((*state, (v, 1)))


def _elements(name: str, value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if not isinstance(value, tuple):
        raise UsageError(f"{name} starts from a sequence of elements, e.g. [1 2]; got {show(value)}")
    return value


def _remove(state: Bag, i: int) -> Bag:
    """``state`` with one copy of its ``i``-th element removed."""
    value, count = state[i]
    if count > 1:
        return (*state[:i], (value, count - 1), *state[i + 1 :])
    return state[:i] + state[i + 1 :]
