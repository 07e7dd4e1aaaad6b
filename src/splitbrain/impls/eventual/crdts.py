"""State-based CRDTs: G-counter, PN-counter and OR-set, plus two classic ways to get them wrong.

A state-based CRDT (Shapiro, Preguiça, Baquero and Zawirski 2011, "Conflict-free Replicated Data Types",
and the companion "A comprehensive study of Convergent and Commutative Replicated Data Types") is a
join-semilattice: ``merge`` is commutative, associative and idempotent, and every update moves the state
up. Replicas that exchange states in any order, any number of times, with duplicates, end up equal once
they have seen the same updates — which is all anti-entropy (:mod:`splitbrain.impls.eventual.anti_entropy`)
guarantees. Every value here is immutable and canonical (sorted tuples), so equal states compare equal
and travel safely in messages.

* :class:`GCounter` — one count per node; a node increments only its own entry; merge takes the
  entry-wise maximum; the value is the sum.
* :class:`PNCounter` — two G-counters, increments and decrements; the value is their difference.
* :class:`ORSet` — observed-remove set with add-wins semantics: every add makes a unique tag; a remove
  tombstones the tags of the element that *its replica has observed*, so an add concurrent with a
  remove survives it. Merge is the union of tags and of tombstones.

The bugs, each a real mistake:

* :class:`SumMergePNCounter` — merges by adding the counts instead of taking the maximum. It is not
  idempotent: every anti-entropy round counts the same increments again.
* :class:`ElementTombstoneSet` — a remove tombstones the *element*, not the tags it observed (a 2P-set
  passed off as an OR-set), so it also deletes adds it never saw: concurrent ones, and every later one.
  Its merge is still a perfectly good semilattice — the merge laws do not catch it; only the semantics do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

Tag = tuple[str, int]  # (node, n): the n-th add that node made
Counts = tuple[tuple[str, int], ...]


def _pointwise(a: Counts, b: Counts, combine: Any) -> Counts:
    out = dict(a)
    for node, n in b:
        out[node] = combine(out[node], n) if node in out else n
    return tuple(sorted(out.items()))


class GCounter(msgspec.Struct, frozen=True):
    """A grow-only counter: ``counts`` holds each node's total, sorted by node."""

    counts: Counts = ()

    def increment(self, node: str, n: int = 1) -> GCounter:
        if n < 0:
            raise ValueError(f"a G-counter only grows; cannot add {n}")
        counts = dict(self.counts)
        counts[node] = counts.get(node, 0) + n
        return GCounter(tuple(sorted(counts.items())))

    @property
    def value(self) -> int:
        return sum(n for _, n in self.counts)

    def merge(self, other: GCounter) -> GCounter:
        if other.counts == self.counts:  # merging is idempotent: gossip mostly brings what a replica has
            return self
        # _pointwise(self.counts, other.counts, max), without a call of max per entry
        out = dict(self.counts)
        get = out.get
        for node, n in other.counts:
            mine = get(node)
            if mine is None or n > mine:
                out[node] = n
        return GCounter(tuple(sorted(out.items())))


class PNCounter(msgspec.Struct, frozen=True):
    """A counter that goes both ways: increments in ``up``, decrements in ``down``."""

    up: GCounter = GCounter()
    down: GCounter = GCounter()

    def add(self, node: str, delta: int) -> PNCounter:
        if delta >= 0:
            return type(self)(self.up.increment(node, delta), self.down)
        return type(self)(self.up, self.down.increment(node, -delta))

    @property
    def value(self) -> int:
        return self.up.value - self.down.value

    def merge(self, other: PNCounter) -> PNCounter:
        if other == self:  # gossip mostly brings what a replica has (two merges fewer, the same result)
            return self
        up, down = self.up.merge(other.up), self.down.merge(other.down)
        return self if up is self.up and down is self.down else type(self)(up, down)


class SumMergePNCounter(PNCounter, frozen=True):
    """Bug: merge adds the two states' counts, so a state received twice is counted twice."""

    def merge(self, other: PNCounter) -> PNCounter:
        add = int.__add__
        return SumMergePNCounter(
            GCounter(_pointwise(self.up.counts, other.up.counts, add)),
            GCounter(_pointwise(self.down.counts, other.down.counts, add)),
        )


def _union(a: Iterable[Any], b: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(sorted({*a, *b}))


class ORSet(msgspec.Struct, frozen=True):
    """An add-wins observed-remove set: ``tags`` are (element, tag) pairs added, ``removed`` the tags a
    remove has tombstoned; an element is in the set while one of its tags is not tombstoned."""

    tags: tuple[tuple[Any, Tag], ...] = ()
    removed: tuple[Tag, ...] = ()

    def add(self, element: Any, tag: Tag) -> ORSet:
        return ORSet(_union(self.tags, ((element, tag),)), self.removed)

    def remove(self, element: Any) -> ORSet:
        """Tombstone the tags of ``element`` this replica has observed (and only those)."""
        seen = [t for e, t in self.tags if e == element]
        return ORSet(self.tags, _union(self.removed, seen))

    @property
    def value(self) -> tuple[Any, ...]:
        gone = set(self.removed)
        return tuple(sorted({e for e, t in self.tags if t not in gone}))

    def merge(self, other: ORSet) -> ORSet:
        if other.tags == self.tags and other.removed == self.removed:  # idempotent: nothing new
            return self
        return ORSet(_union(self.tags, other.tags), _union(self.removed, other.removed))


class ElementTombstoneSet(msgspec.Struct, frozen=True):
    """Bug: an OR-set whose remove tombstones the element itself, deleting tags it has not observed."""

    tags: tuple[tuple[Any, Tag], ...] = ()
    removed: tuple[Any, ...] = ()  # elements, not tags

    def add(self, element: Any, tag: Tag) -> ElementTombstoneSet:
        return ElementTombstoneSet(_union(self.tags, ((element, tag),)), self.removed)

    def remove(self, element: Any) -> ElementTombstoneSet:
        return ElementTombstoneSet(self.tags, _union(self.removed, (element,)))

    @property
    def value(self) -> tuple[Any, ...]:
        gone = set(self.removed)
        return tuple(sorted({e for e, _ in self.tags if e not in gone}))

    def merge(self, other: ElementTombstoneSet) -> ElementTombstoneSet:
        return ElementTombstoneSet(_union(self.tags, other.tags), _union(self.removed, other.removed))
