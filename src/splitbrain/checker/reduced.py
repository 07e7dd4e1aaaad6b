"""One search over a whole history of independent objects: partial-order reduction and backjumping.

Used when the checker is told not to partition (``partition=False``) but the model declares
``independence_key(op)``: operations whose keys differ act on separate objects (an operation's legality
and effect depend only on its key's part of the state, and each part starts as ``model.init()``). The
search still runs once over the whole history and returns one linearization of every operation as its
witness; three facts about independent objects make it small.

**Persistent sets** (Godefroid 1996, "Partial-Order Methods for the Verification of Concurrent
Systems"). Let ``x`` be the pending operation whose return comes first, and ``K`` its key. If the
history can be completed from here, it can be completed by a sequence that starts with an operation of
key ``K``: take any completion and move its first key-``K`` operation ``z`` to the front. ``z`` is at or
before ``x`` in it, so ``z`` was called before ``x`` returned, hence before every pending return, and no
operation it overtakes returned before it was called (real time is kept); it commutes with the other
keys' operations it overtakes (the model stays legal). So only key ``K``'s candidates are tried.

**Locality** (Herlihy & Wing 1990). A configuration (linearized set ``S``, state ``s``) can be
completed exactly when, for every key ``K``, key ``K``'s remaining operations can be linearized from its
part of ``s`` (the projection ``(S_K, s_K)``). So a dead configuration is dead because of some key.

**Conflict-directed backjumping** (Prosser 1993), which here always names exactly one key. A
configuration whose key-``K`` candidates all fail (illegal, or each child dead because of ``K``) has a
dead key-``K`` projection. A child that is dead because of another key ``J`` is dead because of a
projection it shares with its parent (trying a key-``K`` operation changes only key ``K``'s part), so
the parent is dead for the same reason and its remaining candidates are skipped. By induction every
failure has a single key as its reason, and the memo stores dead *projections* ``(K, S_K, s_K)``, not
whole configurations: what is learned about one key is reused under every combination of the other
keys' choices. Without this the search retries key ``A`` under every such combination — exponential in
the number of keys (why Porcupine runs out of memory on the unpartitioned c50 histories).

Compared with partitioning (Horn & Kroening 2015) the answer is the same, but the search is not split:
it walks the history's real-time order across all keys and returns one linearization of everything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

from splitbrain.checker.search import Budget, Outcome, entries, linked_list
from splitbrain.histories.history import Operation

__all__ = [
    "replay",
    "searcher",
]


_CALL = 0
_RETURN = 1


def searcher(
    ops: Sequence[Operation],
    model: Any,
    budget: Budget,
    track_longest: bool,
    key_of: Callable[[Operation], Any],
) -> Generator[None, None, Outcome]:
    """Search ``ops`` with the reductions above; yields every few thousand backtracks (for budgets)."""
    out = Outcome()
    n, kind, opi, match = entries(ops)
    nxt, _, lift, unlift = linked_list(n, match)
    remaining = sum(1 for k in kind[1:] if k == _RETURN)
    # keys numbered in first-seen order; each operation gets a bit within its key's own bitset
    classes: dict[Any, int] = {}
    sizes: list[int] = []
    key_index = [0] * len(ops)
    local_bit = [0] * len(ops)
    for i, op in enumerate(ops):
        k = classes.setdefault(key_of(op), len(classes))
        if k == len(sizes):
            sizes.append(0)
        key_index[i] = k
        local_bit[i] = 1 << sizes[k]
        sizes[k] += 1
    ekey = [0] + [key_index[opi[e]] for e in range(1, n + 1)]

    step = model.step
    transitions: dict[tuple[int, Any], tuple[Any, ...]] = {}
    dead: set[tuple[int, int, Any]] = set()  # dead projections (key, its linearized set, its state)
    max_states, exhausted = budget.state_cap(len(ops))
    deadline = budget.deadline
    steps = 0
    backtracks = 0

    init = model.init()
    part: list[Any] = [init] * len(sizes)  # each key's part of the state
    klin = [0] * len(sizes)  # each key's linearized operations (local bits)
    path: list[int] = []  # call entries linearized, in order
    # a frame per configuration on the path: [key, candidates, next candidate, successors of the current
    # candidate, next successor, the key's state, the key's linearized set, the first pending return]
    frames: list[list[Any]] = []
    entering = True
    failed = -1  # the key a child just failed because of; -1 when none
    while True:
        if entering:
            entering = False
            if remaining == 0:
                out.valid = True
                out.witness = [opi[c] for c in path]
                break
            e = nxt[0]
            while kind[e] == _CALL:
                e = nxt[e]
            k = ekey[e]
            cands = []
            c = nxt[0]
            while c != e:
                if ekey[c] == k:
                    cands.append(c)
                c = nxt[c]
            fr = [k, cands, 0, (), 0, part[k], klin[k], e]
            frames.append(fr)
            reason = k if (k, klin[k], part[k]) in dead else -1
        else:
            fr = frames[-1]
            k = fr[0]
            reason = -1
            if failed >= 0 and failed != k:
                reason = failed  # backjump: no other choice for key k can revive key ``failed``
            failed = -1
        if reason < 0:
            succ = fr[3]
            si = fr[4]
            while True:
                if si < len(succ):
                    s2 = succ[si]
                    si += 1
                    c = fr[1][fr[2] - 1]
                    i = opi[c]
                    lin2 = fr[6] | local_bit[i]
                    if (k, lin2, s2) in dead:
                        continue
                    fr[4] = si
                    lift(c)
                    if match[c] != -1:
                        remaining -= 1
                    path.append(c)
                    part[k] = s2
                    klin[k] = lin2
                    entering = True
                    break
                ci = fr[2]
                if ci == len(fr[1]):
                    break
                fr[2] = ci + 1
                i = opi[fr[1][ci]]
                st = fr[5]
                tkey = (i, st)
                succ = transitions.get(tkey)
                if succ is None:
                    succ = step(st, ops[i])
                    if not isinstance(succ, tuple):
                        succ = tuple(succ)
                    transitions[tkey] = succ
                steps += 1
                fr[3] = succ
                si = 0
            if entering:
                continue
            # every key-k candidate failed because of key k: this projection is dead
            reason = k
            dead.add((k, fr[6], fr[5]))
            if len(dead) > max_states:
                budget.reason = exhausted
                break
        # this configuration is dead because of key ``reason``
        backtracks += 1
        if (backtracks & 0xFFF) == 0:
            if deadline is not None and time.monotonic() > deadline:
                budget.reason = "timed out"
                break
            yield
        depth = len(path)
        if depth > len(out.deepest) or (depth == 0 and out.blocked is None):
            out.deepest = [opi[c] for c in path]
            out.blocked = opi[fr[7]]
        if track_longest and depth:
            snapshot: list[int] | None = None
            for c in path:
                j = opi[c]
                prev = out.longest.get(j)
                if prev is None or len(prev) < depth:
                    if snapshot is None:
                        snapshot = [opi[g] for g in path]
                    out.longest[j] = snapshot
        frames.pop()
        if not frames:
            out.valid = False
            break
        c = path.pop()
        unlift(c)
        if match[c] != -1:
            remaining += 1
        parent = frames[-1]
        part[parent[0]] = parent[5]
        klin[parent[0]] = parent[6]
        failed = reason
    if out.blocked is not None:
        out.deepest_state = replay(model, [ops[i] for i in out.deepest])
    out.states = len(dead)
    out.steps = steps
    out.backtracks = backtracks
    return out


def replay(model: Any, prefix: Sequence[Operation]) -> Any:
    """The whole state after ``prefix`` (a legal sequence), following each operation's first successor.

    The search keeps one state per key; a report wants the whole one. For a deterministic model this is
    exact; for a nondeterministic one it is one of the states the prefix can reach.
    """
    state = model.init()
    for op in prefix:
        succ = tuple(model.step(state, op))
        if not succ:
            break
        state = succ[0]
    return state
