"""A refutation before the search: a completed operation that no reachable state of the model allows.

Every linearization applies some of the history's operations, one after another, from the model's
initial state, so each state it passes through lies in the set of states reachable from the initial one
by the history's operations applied in *any* order, any number of times. That set ignores real time
entirely, and for the models most histories use it is tiny: a register whose writes and compare-and-sets
use five values reaches six states, whatever the length of the history and however many clients ran
concurrently. If some operation that completed (``ok``, so it must be placed) has no legal step from any
of those states, no order can explain it and the history is not linearizable — decided in a few thousand
model steps, where the search would have had to refute every interleaving of the operations pending
around it (with fifty clients, more states than any budget allows: the verdict used to be *unknown*).

The classic case is Elle's *garbage read* (Kingsbury & Alvaro, "Elle: Inferring Isolation Anomalies
from Experimental Observations", VLDB 2020): a read of a value that nothing wrote — a corrupted value, a
value read from another key, an uninitialised one. Here it is not special-cased: the model's own
``step`` decides, so it works for any model with a small reachable set (a counter does not have one:
its sums grow without bound, and the closure gives up, leaving the decision to the search).

The closure is bounded (:data:`MAX_STATES` states, :data:`MAX_STEPS` model steps): beyond that it says
nothing. Operations are deduplicated by what a model's ``step`` may read — function, key, input and
output, as the search's classes of alike operations are (:mod:`.layout`) — so a long history costs one
pass over its operations plus a closure over a few dozen distinct ones.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from splitbrain.histories.history import Operation

__all__ = ["MAX_STATES", "MAX_STEPS", "STATES_SHOWN", "Unreachable", "unreachable_result"]

#: most states the closure collects before it gives up (saying nothing)
MAX_STATES = 256
#: most model steps the closure and the final test may take before it gives up (saying nothing)
MAX_STEPS = 200_000
#: reachable states an explanation names
STATES_SHOWN = 8


@dataclass(frozen=True)
class Unreachable:
    """Operation ``index`` (in the group) completed with a result no reachable state allows; ``states``
    are all the states the model can reach from its initial one by the group's operations."""

    index: int
    states: list[Hashable]

    def explain(self, describe: Callable[[Any], str]) -> str:
        """Why the operation cannot be placed, naming the states (``describe`` renders one)."""
        try:
            states = sorted(self.states, key=lambda state: (state is not None, state))
        except TypeError:  # states of kinds that do not compare: as the closure found them
            states = self.states
        count = len(states)
        shown = ", ".join(describe(state) for state in states[:STATES_SHOWN])
        more = f", and {count - STATES_SHOWN} more" if count > STATES_SHOWN else ""
        return (f"no order of the operations gives this result: by any of them, in any order, the model "
                f"reaches {count} state{'s' if count != 1 else ''} from its initial one ({shown}{more}), "
                "and none allows it")


def _signature(op: Operation, symmetric: bool) -> Hashable:
    """What a model's ``step`` reads of an operation: its function, key, input and output (the model
    contract, :mod:`splitbrain.models.base`), or the whole operation for a model that says it reads more
    (``symmetric = False``)."""
    if not symmetric:
        return ("op", op.id)
    sig = (op.f, op.key, op.input, op.output)
    try:
        hash(sig)
    except TypeError:
        return ("op", op.id)  # a value that does not hash: no deduplication, still correct
    return sig


def unreachable_result(ops: Sequence[Operation], model: Any) -> Unreachable | None:
    """The first completed operation of ``ops`` that no state reachable by ``ops`` allows, or ``None``
    when every completed one is allowed somewhere (the search decides), the closure grew too big, or the
    model raised (the closure pairs states and operations that no real order pairs, and a user's ``step``
    need not expect them; a malformed operation is then reported by the search, as before)."""
    try:
        return _unreachable(ops, model)
    except Exception:  # anything the model raises here means "no verdict from this test"
        return None


def _unreachable(ops: Sequence[Operation], model: Any) -> Unreachable | None:
    symmetric = bool(getattr(model, "symmetric", True))
    distinct: dict[Hashable, int] = {}
    for index, op in enumerate(ops):
        distinct.setdefault(_signature(op, symmetric), index)
    samples = [ops[i] for i in distinct.values()]  # in the order of their first occurrence
    step = model.step
    start = model.init()
    states: dict[Hashable, None] = {start: None}
    frontier = [start]
    budget = MAX_STEPS
    while frontier:
        state = frontier.pop()
        budget -= len(samples)
        if budget < 0:
            return None
        for op in samples:
            for after in step(state, op):
                if after not in states:
                    states[after] = None
                    if len(states) > MAX_STATES:
                        return None
                    frontier.append(after)
    reached = list(states)
    for first, op in zip(distinct.values(), samples, strict=True):
        if op.ret is None:
            continue  # an operation of unknown outcome need not be placed at all
        budget -= len(reached)
        if budget < 0:
            return None
        if not any(True for state in reached for _ in step(state, op)):
            return Unreachable(first, reached)
    return None
