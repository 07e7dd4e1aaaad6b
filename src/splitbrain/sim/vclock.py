"""`VectorClock`: an immutable vector clock (Fidge 1988; Mattern 1989), after Lamport's happens-before.

The simulator keeps one per node and one per client slot. It ticks the clock on every send, receive and
client event, and stamps every message and every history event with it, so that a causality checker can
rebuild happens-before from the history alone. Absent entries count as zero.

A clock keeps its entries in the order of their names, so that :meth:`VectorClock.to_dict` (run for every
recorded event) is a copy rather than a sort: an operation that adds a name sorts them again (a clock
learns each name once).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal

__all__ = [
    "Order",
    "VectorClock",
]


Order = Literal["before", "after", "equal", "concurrent"]

_new = object.__new__


def _by_name(counts: dict[str, int]) -> dict[str, int]:
    """``counts`` with its names in order (what a clock keeps)."""
    out = {}
    for name in sorted(counts):  # sorting the names, not (name, count) pairs: the fastest way measured
        out[name] = counts[name]
    return out


class VectorClock:
    """A map from process name to event count; every operation returns a new clock."""

    __slots__ = ("_counts",)

    def __init__(self, counts: Mapping[str, int] | None = None) -> None:
        kept: dict[str, int] = {}
        for name, count in (counts or {}).items():
            if not isinstance(count, int) or count < 0:
                raise ValueError(f"vector clock entry {name!r} must be a non-negative int, got {count!r}")
            if count:
                kept[name] = count
        self._counts = _by_name(kept)

    @classmethod
    def _of(cls, counts: dict[str, int]) -> VectorClock:
        """The clock of ``counts``, whose names are in order (a clock's own counts, or a copy of them)."""
        clock = cls.__new__(cls)
        clock._counts = counts
        return clock

    @classmethod
    def _sorted(cls, counts: dict[str, int]) -> VectorClock:
        """The clock of ``counts`` (positive ints), its names put in order: what the simulator makes when a
        clock learns a name."""
        clock = cls.__new__(cls)
        clock._counts = _by_name(counts)
        return clock

    def tick(self, name: str) -> VectorClock:
        """The clock after one more local event of ``name``."""
        counts = self._counts.copy()
        if name in counts:
            counts[name] += 1
        else:
            counts[name] = 1
            counts = _by_name(counts)
        clock = _new(VectorClock)
        clock._counts = counts
        return clock

    def receive(self, other: VectorClock, name: str) -> VectorClock:
        """``self.merge(other).tick(name)`` in one copy: ``name``'s clock after receiving a message
        stamped ``other`` (the simulator does this on every delivery)."""
        counts = self._counts.copy()
        get = counts.get
        for key, count in other._counts.items():
            if count > get(key, 0):
                counts[key] = count
        counts[name] = get(name, 0) + 1
        if len(counts) != len(self._counts):  # a name new to this clock
            counts = _by_name(counts)
        clock = _new(VectorClock)
        clock._counts = counts
        return clock

    def merge(self, other: VectorClock) -> VectorClock:
        """The entry-wise maximum: what a receiver knows after seeing ``other``."""
        counts = dict(self._counts)
        for name, count in other._counts.items():
            if count > counts.get(name, 0):
                counts[name] = count
        return VectorClock._of(counts if len(counts) == len(self._counts) else _by_name(counts))

    def compare(self, other: VectorClock) -> Order:
        """``"before"`` when self happened before other, ``"after"``, ``"equal"`` or ``"concurrent"``."""
        less = greater = False
        for name in self._counts.keys() | other._counts.keys():
            mine, theirs = self._counts.get(name, 0), other._counts.get(name, 0)
            if mine < theirs:
                less = True
            elif mine > theirs:
                greater = True
            if less and greater:
                return "concurrent"
        if less:
            return "before"
        return "after" if greater else "equal"

    def happened_before(self, other: VectorClock) -> bool:
        return self.compare(other) == "before"

    def __getitem__(self, name: str) -> int:
        return self._counts.get(name, 0)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._counts))

    def __len__(self) -> int:
        return len(self._counts)

    def to_dict(self) -> dict[str, int]:
        """The non-zero entries, sorted by name (the form stamped on `Op.vclock`)."""
        return self._counts.copy()  # kept in order

    @classmethod
    def from_dict(cls, counts: Mapping[str, int]) -> VectorClock:
        return cls(counts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VectorClock) and self._counts == other._counts

    def __hash__(self) -> int:
        return hash(frozenset(self._counts.items()))

    def __le__(self, other: VectorClock) -> bool:
        return self.compare(other) in ("before", "equal")

    def __lt__(self, other: VectorClock) -> bool:
        return self.compare(other) == "before"

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}: {count}" for name, count in self.to_dict().items())
        return f"VectorClock({{{inner}}})"

