"""The prefixes a search reaches: the deepest one, and for each operation the longest that holds it.

A counterexample shows the longest linearizable prefix the search found and, for the timeline view
(after Porcupine's visualizer), each operation's longest linearizable prefix that contains it. Both are
noted at dead ends, where the search backtracks. Done naively — copy the path at each new record — a
search of a million operations that backtracks now and then copies paths of hundreds of thousands of
operations, thousands of times: quadratic time and memory. So:

* The path is persistent: a node per operation, ``(op, parent, depth)``, shared by every prefix noted
  through it, so a noted prefix costs one reference.
* A dead end at depth ``d`` concerns every operation on the path. Rather than visit them, it is kept as a
  *mark* on the top position: ``marks[i]`` is the best dead end seen since position ``i`` was pushed.
  When position ``i`` is popped its mark becomes its operation's record (if longer) and is handed down
  to position ``i - 1`` (what happened while ``i`` was on the path also happened while ``i - 1`` was).
  Each dead end and each pop costs O(1). A search that ends invalid pops every position, so every record
  is final then; ties keep the earlier prefix.

The compiled core (``_fastcore.c``) keeps the same marks and records over its own path tree; its
records are turned into lists by the same rule (:data:`LONGEST_CAP`).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "LONGEST_CAP",
    "Node",
    "Prefixes",
    "materialize",
    "ops_of",
]


#: at most this many operation ids in all the longest prefixes a counterexample lists: past it (long
#: histories, where thousands of operations each have their own long prefix), the deepest prefixes are
#: kept first and the other operations get no entry
LONGEST_CAP = 4_000_000

#: a node of the persistent path: (operation, parent node or None, depth)
Node = tuple[int, Any, int]


class Prefixes:
    """The path of a search as persistent nodes, with the deepest prefix and the per-operation records."""

    __slots__ = ("best", "deepest", "depth", "leaf", "marks", "track")

    def __init__(self, track: bool) -> None:
        self.track = track
        self.leaf: Node | None = None
        self.depth = 0
        self.marks: list[Node | None] = []
        self.best: dict[int, Node] = {}

    def push(self, op: int) -> None:
        self.depth += 1
        self.leaf = (op, self.leaf, self.depth)
        if self.track:
            self.marks.append(None)

    def pop(self) -> None:
        assert self.leaf is not None
        op, self.leaf, _ = self.leaf
        self.depth -= 1
        if not self.track:
            return
        mark = self.marks.pop()
        if mark is None:
            return
        prev = self.best.get(op)
        if prev is None or mark[2] > prev[2]:
            self.best[op] = mark
        if self.marks:
            below = self.marks[-1]
            if below is None or mark[2] > below[2]:
                self.marks[-1] = mark

    def dead_end(self) -> None:
        """Note the current path as a linearizable prefix for every operation on it."""
        if self.track and self.depth:
            top = self.marks[-1]
            if top is None or self.depth > top[2]:
                self.marks[-1] = self.leaf


def ops_of(node: Node | None) -> list[int]:
    """The operations of the prefix ending at ``node``, in order."""
    out: list[int] = []
    while node is not None:
        out.append(node[0])
        node = node[1]
    out.reverse()
    return out


def materialize(best: dict[int, Node], cap: int = LONGEST_CAP) -> dict[int, list[int]]:
    """Each operation's record as a list (operations sharing a prefix share one list), deepest prefixes
    first, until ``cap`` operation ids are listed in all."""
    by_node: dict[int, tuple[Node, int]] = {}  # id(node) -> (node, smallest op recorded with it)
    for op, node in best.items():
        seen = by_node.get(id(node))
        if seen is None or op < seen[1]:
            by_node[id(node)] = (node, op)
    order = sorted(by_node.values(), key=lambda item: (-item[0][2], item[1]))
    lists: dict[int, list[int]] = {}
    total = 0
    for node, _ in order:
        if total + node[2] > cap:
            break
        lists[id(node)] = ops_of(node)
        total += node[2]
    return {op: lists[id(node)] for op, node in sorted(best.items()) if id(node) in lists}
