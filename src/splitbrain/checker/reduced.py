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

The search itself is :mod:`splitbrain.checker.search` with keys (each key's projection is kept as that
module keeps a whole configuration: its first pending return, its lanes, its state and its crash usage,
so a dead projection costs what the key's concurrency costs); this module names the reduction and
rebuilds the whole state a counterexample reports.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

from splitbrain.checker import search
from splitbrain.checker.search import Budget, Outcome
from splitbrain.histories.history import Operation

__all__ = [
    "replay",
    "searcher",
]


def searcher(
    ops: Sequence[Operation],
    model: Any,
    budget: Budget,
    track_longest: bool,
    key_of: Callable[[Operation], Any],
) -> Generator[None, None, Outcome]:
    """Search ``ops`` with the reductions above; yields every few thousand backtracks (for budgets)."""
    out = yield from search.searcher(ops, model, budget, track_longest, key_of)
    if out.blocked is not None:
        out.deepest_state = replay(model, [ops[i] for i in out.deepest])
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
