"""The reference search: Wing & Gong's algorithm with Lowe's memoisation, in plain Python.

This is the checker's definition of correct. It works for any model (states only need to be hashable),
and the compiled core (:mod:`splitbrain.checker.fast`) is tested against it, step for step
(``tests/test_checker_fast.py``).

The algorithm (Wing & Gong 1993, "Testing and verifying concurrent objects"; Lowe 2017, "Testing for
linearizability"; the shape of Porcupine's checker and Knossos's ``wgl``):

* Lay the completed operations out as a doubly linked list of call and return entries in real-time
  order. The calls before the first return are the candidates: one of them takes effect next. Linearize
  one (step the model), lift its call and return out of the list, and go on; at a dead end, undo the
  last step and try the next candidate.
* Remember the dead configurations (Lowe's memo): two orders that reach the same configuration are the
  same subproblem.

What a configuration is, is what keeps memory bounded (see ``docs/explanation/checker-scale.md``). Wing
& Gong's configuration is (set of linearized operations, state): a bitset over the whole history, so a
memo entry grows with the history's length. But when ``p`` is the first return still in the list, every
operation that returned before ``p`` is linearized and none called after it is; only the operations
open at ``p`` are in doubt, and those sit in distinct *lanes* (:mod:`splitbrain.checker.layout`). So a
configuration is ``(p, lanes of the open operations already linearized, state)`` — bounded by the
history's concurrency — plus what it used of the crashed calls, which are kept out of the list in a
:class:`~splitbrain.checker.pool.Pool` and linearized only as crash sequences just before a completed
operation.

Three further reductions, all sound and complete:

* **Reads first.** A pending call of a read-only function (``model.readonly``) that is legal now can be
  linearized now with no loss: in any completion, moving it to the front changes no state. Such a call is
  the only move tried (a *forced* move).
* **Alike, first due first.** Of two pending operations the model cannot tell apart (same function, key,
  input and output; ``osym`` in the layout), linearizing the one that returns later first is never
  better: swap the two in any completion and every deadline is still met. Only the earlier one is tried.
* **Relaxed, then exact.** The search first runs with the crash pool relaxed (a crashed call's class can
  be reused; see :mod:`splitbrain.checker.pool`), where the memo ignores crash usage: a refutation there
  is a refutation. A witness that stays within the counts is a linearization; one that does not sends
  the search again, exactly, with the usage in the memo key (:func:`phases`).

With an independence key (:mod:`splitbrain.checker.reduced`) the same search runs per key: the
candidates are the key of the first return's, the memo holds dead per-key projections, and a child dead
because of another key's projection makes its parent dead for the same reason (backjumping).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

from splitbrain.checker.layout import CALL, Layout, layout
from splitbrain.checker.pool import MAX_SEQUENCES, Pool
from splitbrain.checker.prefixes import Prefixes, materialize, ops_of
from splitbrain.histories.history import Operation

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_STATES",
    "Budget",
    "Outcome",
    "phases",
    "search",
    "searcher",
]


#: default cap on memoised dead configurations
DEFAULT_MAX_STATES = 4_000_000
#: default cap on the memory one check's search structures may use; the memo is the bulk of it
DEFAULT_MAX_BYTES = 1 << 30

#: the reason a search gives up when one step has too many crash sequences to try
TOO_MANY_SEQUENCES = f"more than {MAX_SEQUENCES:,} ways to combine the crashed operations at one step"


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

    def out_of_memory(self, what: str = "") -> str:
        """The reason given when the memory budget runs out (``what``: of what, when not the search's)."""
        mib = self.max_bytes / 2**20
        size = f"{mib:,.0f}" if mib >= 1 else f"{mib:.2g}"
        return f"memory budget of {size} MiB exhausted" + (f" ({what})" if what else "")

    def state_cap(self, width: int) -> tuple[int, str]:
        """The number of memo entries the pure-Python search may keep, and the reason when it stops.

        A Python memo entry (a tuple of key, entry, lanes, state and crash usage in a set) costs about 250
        bytes and its lane bitset ``8 * width`` more; the states are shared with the transition memo.
        """
        per_entry = 250 + 8 * width
        by_bytes = self.max_bytes // per_entry
        if by_bytes < self.max_states:
            return by_bytes, self.out_of_memory()
        return self.max_states, f"memory budget of {self.max_states:,} search states exhausted"


class Outcome:
    """What one search found: ``valid``; the ``witness`` (operation indices) when valid; else the
    ``deepest`` prefix, its state, the ``blocked`` operation and each operation's ``longest`` prefix."""

    __slots__ = (
        "backtracks", "blocked", "culprit", "deepest", "deepest_state", "longest", "realized", "states",
        "steps", "valid", "witness",
    )

    def __init__(self) -> None:
        self.valid: bool | str = "unknown"
        self.witness: list[int] = []
        self.realized = True  # False: the relaxed search's witness reuses a crashed call
        #: the operation whose return no configuration got past, furthest in the history (relaxed paths too)
        self.culprit: int | None = None
        self.deepest: list[int] = []
        self.deepest_state: Any = None
        self.blocked: int | None = None
        self.longest: dict[int, list[int]] = {}
        self.states = 0
        self.steps = 0
        self.backtracks = 0


def search(
    ops: Sequence[Operation], model: Any, budget: Budget, track_longest: bool,
    key_of: Callable[[Operation], Any] | None = None,
) -> Outcome:
    """Search for a linearization of ``ops`` to the end."""
    run = searcher(ops, model, budget, track_longest, key_of)
    while True:
        try:
            next(run)
        except StopIteration as done:
            outcome: Outcome = done.value
            return outcome


def searcher(
    ops: Sequence[Operation], model: Any, budget: Budget, track_longest: bool,
    key_of: Callable[[Operation], Any] | None = None,
) -> Generator[None, None, Outcome]:
    """Search for a linearization of ``ops`` (no ``fail`` operations among them): relaxed, then exact
    when the relaxed witness reuses a crashed call.

    A generator that yields every few thousand backtracks, so that the partitions of one history can be
    searched in turns: like Porcupine's parallel partition check, the first partition proven
    non-linearizable ends the whole check, instead of waiting for a hard one that happens to come first.
    """
    lay = layout(ops, model, key_of)

    def engine(exact: bool, target: int, budget: Budget, spent: int) -> Generator[None, None, Outcome]:
        return _search(ops, model, lay, budget, track_longest, exact, target, spent)

    return (yield from phases(engine, lay, budget))


#: an engine: ``(exact, target, budget, states spent) -> search``; see :func:`phases`
Engine = Callable[[bool, int, Budget, int], Generator[None, None, Outcome]]

#: memo entries the search for a counterexample's prefix may keep (beyond what the refutation kept)
PREFIX_STATES = 200_000


def phases(engine: Engine, lay: Layout, budget: Budget) -> Generator[None, None, Outcome]:
    """Run the searches one check needs, on either engine (this module's, or the compiled core's).

    1. The relaxed search. A refutation is the verdict; a witness within the crash counts is too.
    2. A relaxed witness that reuses a crashed call: the exact search decides.
    3. A refutation whose deepest real prefix stops short of the ``culprit`` (the return no relaxed
       configuration got past): an exact search for a prefix that reaches it (``target``), on a budget of
       its own, gives the counterexample its prefix — or, when it proves there is none, its own deepest
       prefix and blocked operation. Running out of that budget changes nothing: the verdict stands.
    """
    out = yield from engine(False, 0, budget, 0)
    if out.valid is True and not out.realized:
        exact = yield from engine(True, 0, budget, out.states)
        _add_stats(exact, out)
        return exact
    if out.valid is False and out.culprit is not None and out.culprit != out.blocked:
        ret = _return_entry(lay, out.culprit)
        own = Budget(None, min(PREFIX_STATES + out.states, budget.max_states), budget.max_bytes)
        own.deadline = budget.deadline
        pre = yield from engine(True, ret, own, 0)
        _add_stats(out, pre)
        if pre.valid is True:
            out.deepest, out.blocked, out.deepest_state = pre.witness, out.culprit, pre.deepest_state
            for op in pre.witness:
                if len(out.longest.get(op, ())) < len(pre.witness):
                    out.longest[op] = pre.witness
        elif pre.valid is False:
            out.deepest, out.blocked, out.deepest_state, out.longest = (
                pre.deepest, pre.blocked, pre.deepest_state, pre.longest)
    return out


def _add_stats(out: Outcome, other: Outcome) -> None:
    out.states += other.states
    out.steps += other.steps
    out.backtracks += other.backtracks


def _return_entry(lay: Layout, op: int) -> int:
    for e in range(1, lay.n + 1):
        if lay.opi[e] == op and lay.kind[e] != CALL:
            return e
    raise AssertionError(f"operation {op} has no return entry")


def _lists(lay: Layout) -> tuple[list[int], list[int], list[int], list[int]]:
    """The completed operations' entries linked twice: all of them (head 0), and each key's (head
    ``n + 1 + key``). Crashed calls are in neither: they are the pool."""
    n = lay.n
    nxt = [-1] * (n + 1)
    prv = [-1] * (n + 1)
    knxt = [-1] * (n + 1 + lay.nkeys)
    kprv = [-1] * (n + 1 + lay.nkeys)
    last = 0
    klast = [n + 1 + k for k in range(lay.nkeys)]
    for e in range(1, n + 1):
        if lay.kind[e] == CALL and lay.match[e] == -1:
            continue
        nxt[last], prv[e] = e, last
        last = e
        k = lay.okey[lay.opi[e]]
        knxt[klast[k]], kprv[e] = e, klast[k]
        klast[k] = e
    return nxt, prv, knxt, kprv


def _search(
    ops: Sequence[Operation], model: Any, lay: Layout, budget: Budget, track: bool, exact: bool, target: int,
    spent: int,
) -> Generator[None, None, Outcome]:
    """One search. ``exact``: count crash uses (else relaxed). ``target``: a return entry, or 0; with one,
    the search succeeds as soon as that return is the first pending one (a prefix that reaches it)."""
    out = Outcome()
    n, kind, opi, match, okey, olane, oread, osym = (
        lay.n, lay.kind, lay.opi, lay.match, lay.okey, lay.olane, lay.oread, lay.osym)
    nxt, prv, knxt, kprv = _lists(lay)
    ret_of = [n + 1] * len(ops)  # each completed operation's return entry
    for e in range(1, n + 1):
        if kind[e] != CALL:
            ret_of[opi[e]] = e
    remaining = sum(1 for e in range(1, n + 1) if kind[e] != CALL)

    def lift(c: int) -> None:
        for a, b in ((nxt, prv), (knxt, kprv)):
            for x in (c, match[c]):
                a[b[x]] = a[x]
                if a[x] != -1:
                    b[a[x]] = b[x]

    def unlift(c: int) -> None:  # the reverse order of lift: the links come back exactly (dancing links)
        for a, b in ((knxt, kprv), (nxt, prv)):
            for x in (match[c], c):
                if a[x] != -1:
                    b[a[x]] = x
                a[b[x]] = x

    step = model.step
    transitions: dict[tuple[int, Any], tuple[Any, ...]] = {}
    counters = [0]  # steps

    sym_rep = lay.sym_rep

    def succ(i: int, state: Any) -> tuple[Any, ...]:
        """The successors of operation ``i`` in ``state``: asked of the model once per class of alike
        operations and state (its first operation stands for the class)."""
        counters[0] += 1
        key = (osym[i], state)
        found = transitions.get(key)
        if found is None:
            found = step(state, ops[sym_rep[osym[i]]])
            if not isinstance(found, tuple):
                found = tuple(found)
            transitions[key] = found
        return found

    pool = Pool(lay, exact)
    init = model.init()
    part = [init] * lay.nkeys  # each key's state
    # per key lane, the return entry of its latest linearized operation (-1: none yet)
    ahead = [[-1] * lay.lanes[k] for k in range(lay.nkeys)]

    def projection(k: int, state: Any) -> tuple[Any, ...]:
        """Key ``k``'s part of the configuration: its first pending return, the lanes of its operations
        linearized past it, its state (and in exact mode, its crash usage)."""
        p = knxt[n + 1 + k]
        while p != -1 and kind[p] == CALL:
            p = knxt[p]
        if p == -1:
            p = n + 1
        lanes = 0
        bit = 1
        for r in ahead[k]:
            if r > p:
                lanes |= bit
            bit <<= 1
        return (k, p, lanes, state, pool.usage[k]) if exact else (k, p, lanes, state)

    dead: set[tuple[Any, ...]] = set()
    cap, exhausted = budget.state_cap(lay.width)
    cap -= spent
    deadline = budget.deadline
    prefixes = Prefixes(track)
    deepest: tuple[Any, int, Any] | None = None  # (path node, blocked op, state) at the deepest dead end
    deepest_depth = -1
    culprit = 0  # the latest first pending return at any dead end
    backtracks = 0
    # moves on the path: (key, call entry, crash classes with whether each was past its count, the key's
    # state before, the lane's return entry before)
    moves: list[tuple[int, int, list[tuple[int, bool]], Any, int]] = []

    def undo(move: tuple[int, int, list[tuple[int, bool]], Any, int]) -> None:
        nonlocal remaining
        k, c, crashed, before, lane_was = move
        prefixes.pop()
        part[k] = before
        ahead[k][olane[opi[c]]] = lane_was
        unlift(c)
        remaining += 1
        for cls, past in reversed(crashed):
            prefixes.pop()
            pool.unuse(cls, k, past)

    # a frame per configuration on the path: [key, first pending return, candidates, projection, state,
    # forced candidate (0: none), crash sequences (None until needed), sequence index (-1: none), its end
    # state, its classes, candidate index, current candidate, its successors, successor index]
    frames: list[list[Any]] = []
    entering = True
    failed = -1  # the key a child just failed because of; -1 when none
    checked = -1  # the key whose projection the last push found not dead
    while True:
        if entering:
            entering = False
            if remaining == 0:
                out.valid = True
                out.witness = ops_of(prefixes.leaf)
                out.realized = pool.over == 0
                break
            e = nxt[0]
            while kind[e] == CALL:
                e = nxt[e]
            if e == target:
                out.valid = True
                out.witness = ops_of(prefixes.leaf)
                out.deepest, out.blocked, out.deepest_state = out.witness, opi[e], part[okey[opi[e]]]
                break
            k = okey[opi[e]]
            cands = []
            c = knxt[n + 1 + k]
            while c != e:
                cands.append(c)
                c = knxt[c]
            if len(cands) > 1:  # alike, first due first: per class, the earliest return (they are distinct)
                first: dict[int, int] = {}
                for c in cands:
                    i = opi[c]
                    if ret_of[i] < first.get(osym[i], n + 2):
                        first[osym[i]] = ret_of[i]
                cands = [c for c in cands if ret_of[opi[c]] == first[osym[opi[c]]]]
            state = part[k]
            proj = projection(k, state)
            reason = k if k != checked and proj in dead else -1
            checked = -1
            forced = 0
            if reason < 0:
                for c in cands:
                    if oread[opi[c]] and succ(opi[c], state) == (state,):
                        forced = c
                        break
            fr = [k, e, cands, proj, state, forced, None, -1, state, (), 0, 0, (), 0]
            frames.append(fr)
        else:
            fr = frames[-1]
            k = fr[0]
            reason = failed if failed >= 0 and failed != k else -1  # backjump: no key-k choice revives it
            failed = -1
        if reason < 0:
            while True:
                options, si = fr[12], fr[13]
                if si < len(options):
                    s2 = options[si]
                    fr[13] = si + 1
                    c = fr[11]
                    crashed = []
                    for cls in fr[9]:
                        op, past = pool.use(cls, k, fr[1])
                        prefixes.push(op)
                        crashed.append((cls, past))
                    i = opi[c]
                    move = (k, c, crashed, part[k], ahead[k][olane[i]])
                    lift(c)
                    remaining -= 1
                    ahead[k][olane[i]] = ret_of[i]
                    part[k] = s2
                    prefixes.push(i)
                    if remaining and projection(k, s2) in dead:
                        undo(move)
                        continue
                    moves.append(move)
                    checked = k
                    entering = True
                    break
                if fr[5]:  # a forced read: the only move
                    if fr[11]:
                        break
                    fr[11] = fr[5]
                    fr[12] = succ(opi[fr[5]], fr[4])
                    fr[13] = 0
                    continue
                if fr[10] < len(fr[2]):
                    fr[11] = fr[2][fr[10]]
                    fr[10] += 1
                    fr[12] = succ(opi[fr[11]], fr[8])
                    fr[13] = 0
                    continue
                if fr[6] is None:
                    fr[6] = pool.sequences(k, fr[4], fr[1], succ)
                    if fr[6] is None:
                        budget.reason = TOO_MANY_SEQUENCES
                        break
                if fr[7] + 1 >= len(fr[6]):
                    break
                fr[7] += 1
                fr[8], fr[9] = fr[6][fr[7]]
                fr[10] = 0
            if budget.reason is not None:
                break
            if entering:
                continue
            # every key-k move failed because of key k: this projection is dead
            reason = k
            dead.add(fr[3])
            if len(dead) > cap:
                budget.reason = exhausted
                break
        # this configuration is dead because of key ``reason``
        backtracks += 1
        if (backtracks & 0xFFF) == 0:
            if deadline is not None and time.monotonic() > deadline:
                budget.reason = "timed out"
                break
            yield
        if fr[1] > culprit:
            culprit = fr[1]
        if pool.over == 0:  # a real linearizable prefix (in relaxed mode it may reuse a crashed call)
            if prefixes.depth > deepest_depth:
                deepest_depth = prefixes.depth
                deepest = (prefixes.leaf, opi[fr[1]], fr[4])
            prefixes.dead_end()
        frames.pop()
        if not frames:
            out.valid = False
            break
        undo(moves.pop())
        failed = reason
    if culprit:
        out.culprit = opi[culprit]
    if deepest is not None and not (out.valid is True and target):
        out.deepest = ops_of(deepest[0])
        out.blocked = deepest[1]
        out.deepest_state = deepest[2]
    if out.valid is False and track:
        out.longest = materialize(prefixes.best)
    out.states = len(dead)
    out.steps = counters[0]
    out.backtracks = backtracks
    return out
