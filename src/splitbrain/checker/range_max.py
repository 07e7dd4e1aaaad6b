"""`RangeMax`: a segment tree with range add and global maximum, for sliding-window bounds.

The rate-limit admission check asks, for every window start, whether some window end holds too many
admissions; adding one admission raises the count of every window end after it. Range add with lazy
propagation and a maximum per node answer each step in O(log n) instead of rescanning all ends, which
turns an O(n^2) check into O(n log n) (it matters for stress histories of many thousands of calls).
Values are exact Python numbers (ints or Fractions): the checks compare them without rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

__all__ = [
    "RangeMax",
    "Value",
]


Value = int | Fraction


class RangeMax:
    """Leaves ``0..n-1`` start at ``values``; :meth:`add` adds to a range; :meth:`max` is the largest leaf."""

    def __init__(self, values: Sequence[Value]) -> None:
        self.n = len(values)
        if self.n == 0:
            raise ValueError("RangeMax needs at least one leaf")
        size = 1
        while size < self.n:
            size *= 2
        self._size = size
        self._top: list[Value] = [0] * (2 * size)
        self._lazy: list[Value] = [0] * (2 * size)
        floor = min(values)
        for i in range(size):
            self._top[size + i] = values[i] if i < self.n else floor - 1  # padding never wins
        for node in range(size - 1, 0, -1):
            self._top[node] = max(self._top[2 * node], self._top[2 * node + 1])

    def add(self, lo: int, hi: int, delta: Value) -> None:
        """Add ``delta`` to leaves ``lo..hi`` (both included)."""
        if lo > hi:
            return
        self._add(1, 0, self._size - 1, lo, hi, delta)

    def _add(self, node: int, left: int, right: int, lo: int, hi: int, delta: Value) -> None:
        if hi < left or right < lo:
            return
        if lo <= left and right <= hi:
            self._top[node] += delta
            self._lazy[node] += delta
            return
        mid = (left + right) // 2
        self._add(2 * node, left, mid, lo, hi, delta)
        self._add(2 * node + 1, mid + 1, right, lo, hi, delta)
        self._top[node] = max(self._top[2 * node], self._top[2 * node + 1]) + self._lazy[node]

    def max(self) -> Value:
        return self._top[1]

    def argmax(self) -> int:
        """A leaf holding the maximum."""
        node = 1
        pending_value: Value = 0
        target = self._top[1]
        while node < self._size:
            pending_value += self._lazy[node]
            node = 2 * node if self._top[2 * node] + pending_value == target else 2 * node + 1
        return node - self._size
