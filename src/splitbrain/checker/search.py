"""The reference search: Wing & Gong's algorithm with Lowe's memoisation, in plain Python.

This is the checker's definition of correct. It works for any model (states only need to be hashable),
and the fast paths in :mod:`splitbrain.checker.fast` are tested against it (``tests/test_checker_fast.py``).

The algorithm (Wing & Gong 1993, "Testing and verifying concurrent objects"; Lowe 2017, "Testing for
linearizability"; the same shape as Porcupine's checker):

* Lay the history out as a doubly linked list of call and return entries in real-time order.
* Walk the list. At a call entry, try to linearize that operation now: step the model; if the step is
  legal and the pair (set of linearized operations, new state) has not been seen before, record it, lift
  the call and its return out of the list, and restart from the head. At a return entry, the operation
  it belongs to should already have been linearized — it was not, so backtrack: undo the last
  linearization and try the next candidate after it.
* The memo of (linearized set, state) pairs is what makes the search practical: two orders that reach
  the same state with the same operations done are the same subproblem (Lowe's improvement).

``info`` operations (and calls that never completed) get no return entry, so the search may linearize
them anywhere later, and succeeds without them once every completed operation is placed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

from splitbrain.histories.history import Operation

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_STATES",
    "Budget",
    "Outcome",
    "entries",
    "linked_list",
    "search",
    "searcher",
]


#: default cap on memoised (linearized set, state) pairs
DEFAULT_MAX_STATES = 4_000_000
#: default cap on the memory one check's search structures may use; the memo is the bulk of it
DEFAULT_MAX_BYTES = 1 << 30

_CALL = 0
_RETURN = 1


class Budget:
    """Shared deadline, state cap and memory cap across the partitions of one check.

    Running out of any of them ends the check with ``unknown`` and ``reason`` set, never with a pass
    and never with an out-of-memory crash: the memory cap is checked against an estimate of the memo's
    size as it grows (exact byte counts in the compiled core, a per-entry estimate here).
    """

    __slots__ = ("deadline", "max_bytes", "max_states", "reason")

    def __init__(self, timeout: float | None, max_states: int | None, max_bytes: int | None = None) -> None:
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.max_states = DEFAULT_MAX_STATES if max_states is None else max_states
        self.max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
        self.reason: str | None = None

    def state_cap(self, n_ops: int) -> tuple[int, str]:
        """The number of memo entries the pure-Python search may keep, and the reason when it stops.

        A Python memo entry costs about 200 bytes (a tuple, its set slot, the bitset int) plus the bitset
        itself, one bit per operation; the state objects are shared with the transition memo.
        """
        per_entry = 200 + n_ops // 8
        by_bytes = self.max_bytes // per_entry
        if by_bytes < self.max_states:
            return by_bytes, f"memory budget of {self.max_bytes / 2**20:,.0f} MiB exhausted"
        return self.max_states, f"memory budget of {self.max_states:,} search states exhausted"


class Outcome:
    __slots__ = (
        "backtracks", "blocked", "deepest", "deepest_state", "longest", "states", "steps", "valid",
        "witness",
    )

    def __init__(self) -> None:
        self.valid: bool | str = "unknown"
        self.witness: list[int] = []
        self.deepest: list[int] = []
        self.deepest_state: Any = None
        self.blocked: int | None = None
        self.longest: dict[int, list[int]] = {}
        self.states = 0
        self.steps = 0
        self.backtracks = 0


def search(ops: Sequence[Operation], model: Any, budget: Budget, track_longest: bool) -> Outcome:
    """Search for a linearization of ``ops`` to the end."""
    search = searcher(ops, model, budget, track_longest)
    while True:
        try:
            next(search)
        except StopIteration as done:
            outcome: Outcome = done.value
            return outcome


def searcher(
    ops: Sequence[Operation], model: Any, budget: Budget, track_longest: bool
) -> Generator[None, None, Outcome]:
    """Search for a linearization of ``ops`` (no ``fail`` operations among them).

    A generator that yields every few thousand backtracks, so that the partitions of one history can be
    searched in turns: like Porcupine's parallel partition check, the first partition proven
    non-linearizable ends the whole check, instead of waiting for a hard one that happens to come first.
    """
    out = Outcome()
    # entries 1..n; 0 is the head sentinel; -1 ends the list
    n, kind, opi, match = entries(ops)
    nxt, _, lift, unlift = linked_list(n, match)
    remaining = sum(1 for k in kind[1:] if k == _RETURN)

    step = model.step
    # Memo of model steps: the search revisits the same (operation, state) pair many times, and a dict
    # lookup is several times cheaper than a call into a Python model.
    transitions: dict[tuple[int, Any], tuple[Any, ...]] = {}
    state = model.init()
    linearized = 0
    cache: set[tuple[int, Any]] = {(0, state)}
    # stack frames: (call entry, state before, successor states, index of the next successor to try)
    stack: list[tuple[int, Any, Sequence[Any], int]] = []
    deadline = budget.deadline
    max_states, exhausted = budget.state_cap(len(ops))
    steps = 0
    backtracks = 0
    e = nxt[0]

    while True:
        if remaining == 0:
            out.valid = True
            out.witness = [opi[f[0]] for f in stack]
            break
        if kind[e] == _CALL:
            i = opi[e]
            tkey = (i, state)
            succ = transitions.get(tkey)
            if succ is None:
                succ = step(state, ops[i])
                if not isinstance(succ, tuple):
                    succ = tuple(succ)
                transitions[tkey] = succ
            steps += 1
            if succ:
                lin2 = linearized | (1 << i)
                placed = False
                for j, s2 in enumerate(succ):
                    key = (lin2, s2)
                    if key not in cache:
                        cache.add(key)
                        stack.append((e, state, succ, j + 1))
                        lift(e)
                        if match[e] != -1:
                            remaining -= 1
                        linearized = lin2
                        state = s2
                        e = nxt[0]
                        placed = True
                        break
                if placed:
                    if len(cache) > max_states:
                        budget.reason = exhausted
                        break
                    continue
            e = nxt[e]
            continue
        # a return entry whose operation is not linearized: this branch is dead, backtrack
        backtracks += 1
        if (backtracks & 0xFFF) == 0:
            if deadline is not None and time.monotonic() > deadline:
                budget.reason = "timed out"
                break
            yield
        depth = len(stack)
        if depth > len(out.deepest) or (depth == 0 and out.blocked is None):
            out.deepest = [opi[f[0]] for f in stack]
            out.deepest_state = state
            out.blocked = opi[e]
        if track_longest and depth:
            snapshot: list[int] | None = None
            for f in stack:
                k = opi[f[0]]
                prev = out.longest.get(k)
                if prev is None or len(prev) < depth:
                    if snapshot is None:
                        snapshot = [opi[g[0]] for g in stack]
                    out.longest[k] = snapshot
        resumed = False
        while stack:
            ce, before, options, j = stack.pop()
            i = opi[ce]
            linearized &= ~(1 << i)
            unlift(ce)
            if match[ce] != -1:
                remaining += 1
            lin2 = linearized | (1 << i)
            for jj in range(j, len(options)):
                key = (lin2, options[jj])
                if key not in cache:
                    cache.add(key)
                    stack.append((ce, before, options, jj + 1))
                    lift(ce)
                    if match[ce] != -1:
                        remaining -= 1
                    linearized = lin2
                    state = options[jj]
                    e = nxt[0]
                    resumed = True
                    break
            if resumed:
                break
            state = before
            e = nxt[ce]
            resumed = True
            break
        if not resumed:
            out.valid = False
            break
    out.states = len(cache)
    out.steps = steps
    out.backtracks = backtracks
    return out


def entries(ops: Sequence[Operation]) -> tuple[int, list[int], list[int], list[int]]:
    """The call and return entries of ``ops`` in real-time order, numbered 1..n (0 is the list's head).

    Returns ``(n, kind, opi, match)``: each entry's kind (``_CALL``/``_RETURN``), the index of its
    operation, and for a call the entry of its return (-1 when the outcome is unknown). Shared by the
    reference search, the reduced search and the compiled core's driver.
    """
    events: list[tuple[int, int, int]] = []
    for i, op in enumerate(ops):
        events.append((op.call, _CALL, i))
        if op.ret is not None:
            events.append((op.ret, _RETURN, i))
    events.sort()
    n = len(events)
    kind = [0] * (n + 1)
    opi = [0] * (n + 1)
    match = [-1] * (n + 1)
    call_entry = [0] * len(ops)
    for e, (_, k, i) in enumerate(events, start=1):
        kind[e] = k
        opi[e] = i
        if k == _CALL:
            call_entry[i] = e
        else:
            match[call_entry[i]] = e
    return n, kind, opi, match


def linked_list(
    n: int, match: list[int]
) -> tuple[list[int], list[int], Callable[[int], None], Callable[[int], None]]:
    """The doubly linked list over entries 1..n (``nxt``/``prv``; 0 is the head, -1 the end) and its two
    moves: ``lift(e)`` takes call entry ``e`` and its return out, ``unlift(e)`` puts them back (in the
    reverse order, so the links are restored exactly — Knuth's dancing links)."""
    nxt = list(range(1, n + 2))
    nxt[n] = -1
    prv = list(range(-1, n))

    def lift(e: int) -> None:
        nxt[prv[e]] = nxt[e]
        if nxt[e] != -1:
            prv[nxt[e]] = prv[e]
        r = match[e]
        if r != -1:
            nxt[prv[r]] = nxt[r]
            if nxt[r] != -1:
                prv[nxt[r]] = prv[r]

    def unlift(e: int) -> None:
        r = match[e]
        if r != -1:
            if nxt[r] != -1:
                prv[nxt[r]] = r
            nxt[prv[r]] = r
        if nxt[e] != -1:
            prv[nxt[e]] = e
        nxt[prv[e]] = e

    return nxt, prv, lift, unlift
