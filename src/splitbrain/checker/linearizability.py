"""Linearizability checking: Wing & Gong's search with Lowe's memoisation, partitioned by the model.

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

Jepsen semantics: ``fail`` operations did not happen and are removed before the search. ``info``
operations (and calls that never completed) may have happened at any point after their call, or not at
all: they get no return entry, so the search may linearize them anywhere later, and succeeds without
them once every completed operation is placed. Nondeterministic models return several next states; each
is a separate branch.

P-compositionality (Herlihy & Wing 1990; Horn & Kroening 2015, "Faster linearizability checking via
P-compositionality"): when the model partitions the operations (``kv`` by key), each part is checked on
its own and the history is linearizable exactly when every part is.

Budgets: a deadline and a cap on memoised states. Exhausting either gives ``unknown`` — never a pass, and
never an out-of-memory crash.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from typing import Any

from splitbrain.checker.result import CheckResult, Counterexample, SearchStats
from splitbrain.errors import InvalidHistory
from splitbrain.histories.history import History, Operation

#: default cap on memoised (linearized set, state) pairs; roughly 200 bytes each plus the bitset
DEFAULT_MAX_STATES = 4_000_000

_CALL = 0
_RETURN = 1


class _Budget:
    """Shared deadline and state cap across the partitions of one check."""

    __slots__ = ("deadline", "max_states", "reason")

    def __init__(self, timeout: float | None, max_states: int | None) -> None:
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.max_states = DEFAULT_MAX_STATES if max_states is None else max_states
        self.reason: str | None = None


class _Outcome:
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


def _search(ops: Sequence[Operation], model: Any, budget: _Budget, track_longest: bool) -> _Outcome:
    """Search for a linearization of ``ops`` to the end."""
    search = _searcher(ops, model, budget, track_longest)
    while True:
        try:
            next(search)
        except StopIteration as done:
            outcome: _Outcome = done.value
            return outcome


def _searcher(
    ops: Sequence[Operation], model: Any, budget: _Budget, track_longest: bool
) -> Generator[None, None, _Outcome]:
    """Search for a linearization of ``ops`` (no ``fail`` operations among them).

    A generator that yields every few thousand backtracks, so that the partitions of one history can be
    searched in turns: like Porcupine's parallel partition check, the first partition proven
    non-linearizable ends the whole check, instead of waiting for a hard one that happens to come first.
    """
    out = _Outcome()
    events: list[tuple[int, int, int]] = []
    for i, op in enumerate(ops):
        events.append((op.call, _CALL, i))
        if op.ret is not None:
            events.append((op.ret, _RETURN, i))
    events.sort()
    n = len(events)
    # entries 1..n; 0 is the head sentinel; -1 ends the list
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
    nxt = list(range(1, n + 2))
    nxt[n] = -1
    prv = list(range(-1, n))
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
    max_states = budget.max_states
    steps = 0
    backtracks = 0
    e = nxt[0]

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
                        budget.reason = f"memory budget of {max_states:,} search states exhausted"
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


def prepare(history: History, model: Any) -> list[Operation]:
    """The operations the search considers: failed ones removed (they did not happen), and unknown-outcome
    calls of read-only functions removed (they cannot change the state, so need not be placed)."""
    functions = tuple(getattr(model, "functions", ()) or ())
    readonly = frozenset(getattr(model, "readonly", ()) or ())
    ops: list[Operation] = []
    for op in history.operations:
        if functions and op.f not in functions:
            line = history.line_of(op.call) if history.lines else None
            raise InvalidHistory(
                f"operation {op.f!r} is not understood by model {getattr(model, 'name', model)!r} "
                f"(it knows: {', '.join(functions)})",
                source=history.source,
                line=line,
            )
        if op.status == "fail":
            continue
        if op.ret is None and op.f in readonly:
            continue
        ops.append(op)
    return ops


def check_linearizability(
    history: History,
    model: Any,
    *,
    timeout: float | None = None,
    max_states: int | None = None,
    partition: bool = True,
) -> CheckResult:
    """Check ``history`` against ``model`` (a Model instance, class or registered name).

    ``timeout`` (seconds) and ``max_states`` (memoised search states) bound the work; running out gives
    ``valid == "unknown"``. ``partition=False`` ignores the model's partitioning (for comparisons).
    """
    from splitbrain.models import get_model  # models is a lower layer; imported lazily for start-up

    model = get_model(model)
    started = time.monotonic()
    budget = _Budget(timeout, max_states)
    ops = prepare(history, model)
    name = getattr(model, "name", type(model).__name__)
    groups: list[list[Operation]] = [ops]
    if partition and hasattr(model, "partition"):
        parts = model.partition(ops)
        if parts is not None:
            groups = [list(g) for g in parts if g]
    totals = [0, 0, 0]
    failures: list[tuple[list[Operation], _Outcome]] = []
    unknown = False
    # Search the partitions in turns (round robin); stop at the first one proven non-linearizable.
    searches = {k: _searcher(group, model, budget, track_longest=False) for k, group in enumerate(groups)}
    witnesses: dict[int, list[Operation]] = {}
    while searches and not failures and not unknown:
        for k in list(searches):
            try:
                next(searches[k])
                continue
            except StopIteration as done:
                outcome: _Outcome = done.value
            del searches[k]
            totals[0] += outcome.states
            totals[1] += outcome.steps
            totals[2] += outcome.backtracks
            if outcome.valid is True:
                witnesses[k] = [groups[k][i] for i in outcome.witness]
            elif outcome.valid is False:
                failures.append((groups[k], outcome))
            else:
                unknown = True
            if failures or unknown:
                break
    witness = [witnesses[k] for k in sorted(witnesses)]
    stats = SearchStats(
        partitions=len(groups), states=totals[0], steps=totals[1], backtracks=totals[2],
        seconds=time.monotonic() - started,
    )
    common = {"model": name, "operations": len(ops), "source": history.source}
    if failures:
        group, outcome = min(failures, key=lambda f: len(f[0]))
        detail = _search(group, model, _Budget(timeout, max_states), track_longest=True)
        if detail.valid is False:
            outcome = detail
        stats = SearchStats(
            partitions=stats.partitions, states=stats.states, steps=stats.steps,
            backtracks=stats.backtracks, seconds=time.monotonic() - started,
        )
        describe = getattr(model, "describe_state", repr)
        cx = Counterexample(
            operations=group,
            prefix=[group[i] for i in outcome.deepest],
            state=describe(outcome.deepest_state),
            blocked=None if outcome.blocked is None else group[outcome.blocked],
            longest={group[i].id: [group[k].id for k in seq] for i, seq in outcome.longest.items()},
            partition=group[0].key if len(groups) > 1 else None,
        )
        return CheckResult(valid=False, counterexample=cx, stats=stats, **common)  # type: ignore[arg-type]
    if unknown:
        return CheckResult(valid="unknown", reason=budget.reason, stats=stats, **common)  # type: ignore[arg-type]
    return CheckResult(valid=True, witness=witness, stats=stats, **common)  # type: ignore[arg-type]
