"""The strongly connected component searches that decide which dependency-cycle classes a graph holds
(used by :mod:`~splitbrain.checker.elle_cycles`, whose docstring gives the tests).

:func:`core` keeps the transactions on some cycle: Kahn's algorithm trims what no cycle reaches in one
linear pass, then Tarjan's algorithm, walking the graph's own arrays, keeps the nontrivial components.
:class:`Finder` runs the per-class searches on that core at one level of extra edges (:class:`Level`).
"""

from __future__ import annotations

from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from splitbrain.checker.deadline import tick
from splitbrain.checker.txn_graph import RW, WR, WW, Inference

__all__ = ["Finder", "Level", "core", "tarjan"]


def core(inf: Inference, mask: int) -> tuple[list[int], dict[int, list[int]]]:
    """The transactions on some cycle of ``mask`` edges, each with its outgoing edges inside its strongly
    connected component. Kahn's algorithm first trims what no cycle reaches, in one cheap linear pass
    (all of a history without cycles); a component search over what is left, on the graph's own arrays,
    then finds the components. Nothing per transaction is allocated beyond a few flat arrays, so a
    million-transaction history with cycles scattered through it stays within memory."""
    g = inf.graph
    n, dst, bits = g.n, g.dst, g.bits
    start, edges = g.out_edges()
    indegree = array("l", bytes(8 * n))
    for d in dst:
        indegree[d] += 1
    todo = [v for v in range(n) if not indegree[v]]
    alive = bytearray(b"\x01") * n
    while todo:
        u = todo.pop()
        alive[u] = 0
        tick()
        for i in range(start[u], start[u + 1]):
            d = dst[edges[i]]
            indegree[d] -= 1
            if not indegree[d]:
                todo.append(d)
    del indegree, todo
    comp = _tarjan_arrays(inf, alive, mask)
    sizes = array("l", bytes(8 * n))
    for v in range(n):
        if alive[v]:
            sizes[comp[v]] += 1
    members = [v for v in range(n) if alive[v] and sizes[comp[v]] > 1]
    return members, {v: [e for e in edges[start[v]: start[v + 1]] if bits[e] & mask and comp[dst[e]] == comp[v]]
                     for v in members}


def _tarjan_arrays(inf: Inference, alive: bytearray, mask: int) -> array[int]:
    """Tarjan's components of the ``alive`` nodes along ``mask`` edges, walking the graph's arrays (the
    work stack holds node and edge positions, not iterators)."""
    g = inf.graph
    n, dst, bits = g.n, g.dst, g.bits
    start, edges = g.out_edges()
    index = array("l", [-1]) * n
    low = array("l", [0]) * n
    comp = array("l", [-1]) * n
    on = bytearray(n)
    stack: list[int] = []
    counter = components = 0
    for s in range(n):
        if not alive[s] or index[s] >= 0:
            continue
        index[s] = low[s] = counter
        counter += 1
        stack.append(s)
        on[s] = 1
        work_v, work_i = [s], [start[s]]
        while work_v:
            v, i, end = work_v[-1], work_i[-1], start[work_v[-1] + 1]
            while i < end:
                e = edges[i]
                i += 1
                w = dst[e]
                if not bits[e] & mask or not alive[w]:
                    continue
                if index[w] < 0:
                    work_i[-1] = i
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on[w] = 1
                    work_v.append(w)
                    work_i.append(start[w])
                    break
                if on[w] and index[w] < low[v]:
                    low[v] = index[w]
            else:
                work_v.pop()
                work_i.pop()
                tick()
                if work_v:
                    u = work_v[-1]
                    if low[v] < low[u]:
                        low[u] = low[v]
                if low[v] == index[v]:
                    while True:
                        w = stack.pop()
                        on[w] = 0
                        comp[w] = components
                        if w == v:
                            break
                    components += 1
    return comp


def tarjan(size: int, starts: Iterable[int], succ: Callable[[int], list[int]]) -> array[int]:
    """Tarjan's strongly connected components, iteratively: each vertex's component number (-1: unseen)."""
    index = array("l", [-1]) * size
    low = array("l", [0]) * size
    comp = array("l", [-1]) * size
    on = bytearray(size)
    stack: list[int] = []
    counter = components = 0
    for s in starts:
        if index[s] >= 0:
            continue
        index[s] = low[s] = counter
        counter += 1
        stack.append(s)
        on[s] = 1
        work = [(s, iter(succ(s)))]
        while work:
            v, it = work[-1]
            for w in it:
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on[w] = 1
                    work.append((w, iter(succ(w))))
                    break
                if on[w] and index[w] < low[v]:
                    low[v] = index[w]
            else:
                work.pop()
                tick()
                if work:
                    u = work[-1][0]
                    if low[v] < low[u]:
                        low[u] = low[v]
                if low[v] == index[v]:
                    while True:
                        w = stack.pop()
                        on[w] = 0
                        comp[w] = components
                        if w == v:
                            break
                    components += 1
    return comp


@dataclass
class Level:
    """The components at one level and, per class, the names shown to exist and one candidate edge per
    component (the edge a cycle of that class goes through)."""

    suffix: str
    extra: int
    comp: dict[str, array[int]] = field(default_factory=dict)
    names: dict[str, set[str]] = field(default_factory=dict)
    candidates: dict[str, dict[int, list[int]]] = field(default_factory=dict)  # class -> comp -> edges
    single_nodes: set[int] = field(default_factory=set)


class Finder:
    """The strongly connected component searches over the core."""

    def __init__(self, inf: Inference, core: list[int], out: dict[int, list[int]]) -> None:
        self.inf, self.core, self.out = inf, core, out
        self.dst, self.bits, self.n = inf.graph.dst, inf.graph.bits, inf.graph.n

    def succ(self, mask: int) -> Callable[[int], list[int]]:
        out, dst, bits = self.out, self.dst, self.bits
        return lambda v: [dst[e] for e in out[v] if bits[e] & mask]

    def product_succ(self, mask: int) -> Callable[[int], list[int]]:
        """State ``2v`` is v reached by a ww/wr (or order) edge, ``2v + 1`` by an rw edge; rw only from 2v."""
        out, dst, bits = self.out, self.dst, self.bits

        def succ(x: int) -> list[int]:
            v, after_rw = x >> 1, x & 1
            return [2 * dst[e] + (0 if bits[e] & mask else 1) for e in out[v]
                    if bits[e] & mask or (not after_rw and bits[e] & RW)]
        return succ

    def inside(self, comp: array[int], kind: int, product: bool = False) -> dict[int, list[int]]:
        """The edges of ``kind`` whose two ends share a component: component -> edges."""
        found: dict[int, list[int]] = defaultdict(list)
        dst, bits = self.dst, self.bits
        for v in self.core:
            for e in self.out[v]:
                if bits[e] & kind:
                    a, b = (2 * v, 2 * dst[e] + 1) if product else (v, dst[e])
                    if comp[a] >= 0 and comp[a] == comp[b]:
                        found[comp[a]].append(e)
        return found

    def level(self, suffix: str, extra: int) -> Level:
        lv = Level(suffix, extra)
        core = self.core
        ww, data, every = WW | extra, WW | WR | extra, WW | WR | RW | extra
        comp = lv.comp["G0"] = tarjan(self.n, core, self.succ(ww))
        sizes = Counter(comp[v] for v in core)
        lv.candidates["G0"] = {c: es[:1] for c, es in self.inside(comp, ww).items() if sizes[c] > 1}
        comp = lv.comp["G1c"] = tarjan(self.n, core, self.succ(data))
        lv.candidates["G1c"] = self.inside(comp, WR)
        comp = lv.comp["single"] = tarjan(2 * self.n, (2 * v + s for v in core for s in (0, 1)),
                                          self.product_succ(data))
        lv.candidates["single"] = self.inside(comp, RW, product=True)
        pcomp = comp
        comp = lv.comp["G2-item"] = tarjan(self.n, core, self.succ(every))
        dst = self.dst
        lv.candidates["G2-item"] = {  # rw edges on a cycle, but on no closed walk without adjacent rw edges
            c: kept for c, es in self.inside(comp, RW).items()
            if (kept := [e for e in es if pcomp[2 * self.inf.graph.src[e]] != pcomp[2 * dst[e] + 1]])}
        singles = lv.candidates["single"]
        lv.names = {
            "G0": {"G0" + suffix} if lv.candidates["G0"] else set(),
            "G1c": {"G1c" + suffix} if lv.candidates["G1c"] else set(),
            "G-single": {"G-single" + suffix} if any(len(es) == 1 for es in singles.values()) else set(),
            "G-nonadjacent": {"G-nonadjacent" + suffix} if any(len(es) > 1 for es in singles.values()) else set(),
            "G2-item": {"G2-item" + suffix} if lv.candidates["G2-item"] else set(),
        }
        if not extra:
            pcomp = lv.comp["single"]
            lv.single_nodes = {v for v in core if pcomp[2 * v] in singles or pcomp[2 * v + 1] in singles}
        return lv
