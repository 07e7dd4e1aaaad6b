"""The pool of crashed calls: what a search may still use, and the crash sequences between two moves.

A crashed call (outcome unknown) may take effect once, at any point after its call, or never; it has no
return, so no deadline. Wing & Gong's search lists it with the pending calls, where it stays to the end
of the history: every configuration then differs in which of a few hundred crashed calls it used, and a
memo keyed on those sets grows with the history. Here (see :mod:`splitbrain.checker.layout`) crashed
calls are classes of interchangeable calls, and the search linearizes them only *just in time* (Lowe
2017): as a *crash sequence* — crashed calls taking effect one after another — immediately before the
completed operation it makes possible. That loses nothing: crashed calls placed last in a linearization
can be left out, and any others can be moved up to the next completed operation. A sequence that comes
back to a state it passed through is never needed (cut the loop out), and of two sequences that reach
the same state the one that uses a subset of the other's calls does at least as well, so a search step
considers, per reachable state, only the sequences that are minimal in what they use (an antichain).
They depend on the state and on how many calls of each class precede the point, not on the path — and
in practice only on whether a class has none, one, or more (a minimal sequence rarely uses a class twice)
— so they are computed once per state and *signature*: the point's place among the first and second
calls of the classes (or, for a search that asked about a third use, among all the crashed calls).

*Exact* mode counts uses: a class can be used as many times as it has calls before the current point.
*Relaxed* mode counts only within one crash sequence, not along the path: a class used earlier on the
path can be used again. A relaxation (every real linearization is a relaxed one), so a history the
relaxed search refutes is not linearizable, while its memo need not tell apart how many crashed calls a
configuration used. The
search (:mod:`splitbrain.checker.search`) runs relaxed first and prefers sequences that stay within the
counts; a witness that does not is re-checked in exact mode.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from splitbrain.checker.layout import Layout

__all__ = [
    "MAX_SEQUENCES",
    "Pool",
    "Usage",
    "bump",
    "covers",
]


#: crash sequences one search step may consider before the search gives up (verdict unknown)
MAX_SEQUENCES = 4096

#: how many calls of each class are used, as sorted ``(class, count)`` pairs without zeros
Usage = tuple[tuple[int, int], ...]


class Pool:
    """The crash classes of one search, and how many calls of each the current path has used."""

    __slots__ = (
        "cache", "calls", "exact", "key_calls", "key_classes", "key_firsts", "ops", "over", "usage", "used",
    )

    def __init__(self, lay: Layout, exact: bool) -> None:
        self.calls = lay.class_calls
        self.ops = lay.class_ops
        self.key_classes = lay.key_classes
        #: per key, the entries of its crashed calls in order: how many precede a point is its *epoch*
        self.key_calls = [sorted(e for c in classes for e in self.calls[c]) for classes in lay.key_classes]
        #: per key, the entries of its classes' first and second calls: how many precede, its *signature*
        self.key_firsts = [sorted(e for c in classes for e in self.calls[c][:2]) for classes in lay.key_classes]
        self.exact = exact
        self.used = [0] * len(self.calls)
        #: per key, the usage of its classes (what exact mode's memo keys on)
        self.usage: list[Usage] = [()] * len(self.key_classes)
        #: uses on the path past a class's count (relaxed mode): the path is then no real linearization
        self.over = 0
        #: (key, state, 0, signature) or (key, state, 1, epoch) -> every crash sequence from the state,
        #: minimal in its usage (None: too many)
        self.cache: dict[tuple[int, Any, int, int], list[tuple[Any, tuple[int, ...], Usage]] | None] = {}

    def available(self, c: int, e: int) -> int:
        """The calls of class ``c`` before entry ``e``."""
        return bisect.bisect_left(self.calls[c], e)

    def use(self, c: int, key: int, e: int) -> tuple[int, bool]:
        """Use one more call of class ``c`` at entry ``e``: the operation that stands for it (the earliest
        not used yet: any would do, they are interchangeable) and whether the use is past the count."""
        j = self.used[c]
        self.used[c] = j + 1
        past = j >= self.available(c, e)
        self.over += past
        if self.exact:
            self.usage[key] = bump(self.usage[key], c, 1)
        return self.ops[c][min(j, len(self.ops[c]) - 1)], past

    def unuse(self, c: int, key: int, past: bool) -> None:
        self.used[c] -= 1
        self.over -= past
        if self.exact:
            self.usage[key] = bump(self.usage[key], c, -1)

    def sequences(
        self, key: int, state: Any, e: int, succ: Callable[[int, Any], tuple[Any, ...]]
    ) -> list[tuple[Any, tuple[int, ...]]] | None:
        """The crash sequences of ``key``'s classes from ``state`` at entry ``e`` that a step tries:
        ``(end state, classes in order)``, the empty sequence left out.

        Exact mode: every sequence minimal in its usage whose uses fit the counts left. Relaxed mode: one
        per end state — the first that fits, else the first — those that fit first. ``None`` when there
        are more than :data:`MAX_SEQUENCES` (the caller gives up).
        """
        calls = self.key_calls[key]
        if not calls or calls[0] > e:
            return []  # no crashed call of the key before e (the compiled core skips the same way)
        found = self._all(key, state, e, succ)
        if found is None:
            return None
        fitting: list[tuple[Any, tuple[int, ...]]] = []
        others: dict[Any, tuple[Any, tuple[int, ...]]] = {}
        chosen: set[Any] = set()
        available = {c: self.available(c, e) for c in self.key_classes[key]}
        for end, seq, usage in found:
            fits = all(self.used[c] + n <= available[c] for c, n in usage)
            if self.exact:
                if fits:
                    fitting.append((end, seq))
            elif fits and end not in chosen:
                chosen.add(end)
                fitting.append((end, seq))
            elif end not in others:
                others[end] = (end, seq)
        return fitting + [pick for end, pick in others.items() if end not in chosen]

    def _all(
        self, key: int, state: Any, e: int, succ: Callable[[int, Any], tuple[Any, ...]]
    ) -> list[tuple[Any, tuple[int, ...], Usage]] | None:
        """Every crash sequence from ``state`` minimal in its usage, each class used at most as often as
        it has calls before ``e``; breadth first (fewest calls first, classes in order). Kept per state
        and signature of ``e`` when computing them asked only whether classes have one or two calls,
        else per state and epoch of ``e`` (see the module's docstring)."""
        general = (key, state, 0, bisect.bisect_left(self.key_firsts[key], e))
        if general in self.cache:
            return self.cache[general]
        precise = (key, state, 1, bisect.bisect_left(self.key_calls[key], e))
        if precise in self.cache:
            return self.cache[precise]
        classes = [(c, self.available(c, e)) for c in self.key_classes[key]]
        classes = [(c, a) for c, a in classes if a]
        found: list[tuple[Any, tuple[int, ...], Usage]] = [(state, (), ())]
        third = False  # asked whether a class has a third call
        i = 0
        while i < len(found):
            at, seq, usage = found[i]
            i += 1
            counts = dict(usage)
            for c, a in classes:
                used = counts.get(c, 0)
                third = third or used >= 2
                if used >= a:
                    continue
                for s2 in succ(self.ops[c][0], at):
                    more = bump(usage, c, 1)
                    if any(end == s2 and covers(more, u) for end, _, u in found):
                        continue
                    found.append((s2, (*seq, c), more))
                    if len(found) > MAX_SEQUENCES:
                        self.cache[precise] = None
                        return None
        self.cache[precise if third else general] = found[1:]
        return found[1:]


def bump(usage: Usage, c: int, by: int) -> Usage:
    """``usage`` with class ``c``'s count changed by ``by`` (zeros left out)."""
    counts = dict(usage)
    counts[c] = counts.get(c, 0) + by
    return tuple(sorted((k, v) for k, v in counts.items() if v))


def covers(more: Usage, less: Usage) -> bool:
    """Whether ``more`` uses at least as many calls of every class as ``less``."""
    counts = dict(more)
    return all(counts.get(c, 0) >= v for c, v in less)
