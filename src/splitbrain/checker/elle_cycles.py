"""Finding and naming dependency cycles: which classes exist (exactly, from strongly connected
components) and one shortest cycle of each, spelled out, per component (Elle's cycle search, Kingsbury &
Alvaro 2020, section 4.4).

First the acyclic part of the graph is trimmed away (:func:`~splitbrain.checker.elle_scc.core`: Kahn's
algorithm, so a history with no cycle costs one linear pass, then one component search). On what is left
— the *core* — each class is decided by one strongly connected component search
(:class:`~splitbrain.checker.elle_scc.Finder`), at three levels of extra edges (none, process, process and
real time: the ``-process`` and ``-realtime`` forms):

* **G0** — a component of ww edges with two or more transactions;
* **G1c** — a wr edge inside a component of ww and wr edges;
* **G-single / G-nonadjacent** — an rw edge inside a component of the *product* graph whose states remember
  whether the last edge was an rw: ww and wr edges lead to "no", an rw edge only from "no" to "yes". Its
  cycles are exactly the closed walks with no two adjacent anti-dependencies: Cerone & Gotsman's
  characterisation of snapshot isolation (PODC 2016: ``(ww | wr) ; rw?`` acyclic). A component with one rw
  edge holds a G-single; one with two or more a G-nonadjacent (and perhaps a G-single too);
* **G2-item** — an rw edge inside a component of ww, wr and rw edges.

Each test is exact, so the verdict never depends on how many cycles are spelled out. Spelling them out —
breadth-first searches for a shortest return path, at most ``max_searches`` of them and within the check's
deadline — only gives the reader examples; a class whose example the budget cut short is still reported,
as a cycle that must exist, naming the edge and the component that prove it (where Elle says only
``cycle-exists``).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from splitbrain.checker.anomaly import Anomaly
from splitbrain.checker.deadline import OutOfTime, tick
from splitbrain.checker.elle_explain import MEANING, cycle_anomaly, label
from splitbrain.checker.elle_scc import Finder, Level, core
from splitbrain.checker.txn_graph import PROCESS, RT, RW, WR, WW, Inference

__all__ = ["CycleReport", "classify", "search"]

BASES = ("G0", "G1c", "G-single", "G-nonadjacent", "G2-item")


@dataclass
class CycleReport:
    """``present``: every cycle class shown to exist (a name, with its ``-process``/``-realtime`` form at
    the lowest level it exists); ``found``: the spelled-out cycles and, for classes the budget left
    unspelled, a must-exist finding; ``single_nodes``: transactions on a closed walk with one
    anti-dependency and no adjacent ones (where fractured reads can be); ``core``: transactions on any
    cycle."""

    present: set[str] = field(default_factory=set)
    found: list[Anomaly] = field(default_factory=list)
    single_nodes: set[int] = field(default_factory=set)
    core: int = 0
    searches: int = 0
    truncated: bool = False


def classify(inf: Inference, edges: Iterable[int]) -> str:
    """Elle's name for a closed walk: its base class from the anti-dependencies it holds, and
    ``-realtime`` or ``-process`` if it needs those orders."""
    labels = [label(inf, e) for e in edges]
    suffix = "-realtime" if "rt" in labels else "-process" if "process" in labels else ""
    rw = labels.count("rw")
    if rw == 0:
        base = "G1c" if "wr" in labels else "G0"
    elif rw == 1:
        base = "G-single"
    else:
        adjacent = any(lab == "rw" and labels[i - 1] == "rw" for i, lab in enumerate(labels))
        base = "G2-item" if adjacent else "G-nonadjacent"
    return base + suffix


def search(inf: Inference, *, max_searches: int = 2000, per_class: int = 5) -> CycleReport:
    """Decide every cycle class and spell out examples. Raises
    :class:`~splitbrain.checker.deadline.OutOfTime` if the deadline passes before every class is decided."""
    report = CycleReport()
    levels = [("", 0)]
    if inf.processes:
        levels.append(("-process", PROCESS))
    if inf.times:
        levels.append(("-realtime", PROCESS | RT))
    nodes, out = core(inf, WW | WR | RW | levels[-1][1])
    report.core = len(nodes)
    if not nodes:
        return report
    finder = Finder(inf, nodes, out)
    decided = [finder.level(suffix, extra) for suffix, extra in levels]
    for base in BASES:
        for lv in decided:
            if lv.names.get(base):
                report.present |= lv.names[base]
                break
    report.single_nodes = decided[0].single_nodes
    speller = _Speller(inf, finder, max_searches, per_class)
    try:
        for key in ("G0", "G1c", "G2-item"):
            first = next((lv for lv in decided if lv.names.get(key)), None)
            if first is not None:
                speller.spell(key, first)
        # G-nonadjacent at the lowest level it exists; G-single at every level until one is found, as the
        # plain G-nonadjacent of one place does not show the G-single-realtime of another
        nonadjacent = next((i for i, lv in enumerate(decided) if lv.names.get("G-nonadjacent")), len(decided))
        for i, lv in enumerate(decided):
            if lv.candidates["single"]:
                speller.spell("single", lv, nonadjacent=i == nonadjacent)
                if any(a.name.startswith("G-single") for a in speller.found):
                    break
    except OutOfTime:
        speller.truncated = True
    report.present |= {a.name for a in speller.found}
    _drop_implied_nonadjacent(report.present, {a.name for a in speller.found})
    report.found = speller.found + speller.unspelled(decided, report.present)
    report.searches, report.truncated = max_searches - speller.budget, speller.truncated
    return report


def _drop_implied_nonadjacent(present: set[str], spelled: set[str]) -> None:
    """A component with two rw edges holds a closed walk without adjacent ones, but when a G-single is
    known at that level or below, that walk shows nothing more (G-single is G-nonadjacent): the name stays
    only when a G-nonadjacent was spelled out, or no G-single is known."""
    suffixes = ("", "-process", "-realtime")
    for i, suffix in enumerate(suffixes):
        name = "G-nonadjacent" + suffix
        if name in present and name not in spelled and any("G-single" + s in present for s in suffixes[: i + 1]):
            present.discard(name)


class _Speller:
    """Breadth-first searches that spell out one shortest cycle per component, on a budget."""

    def __init__(self, inf: Inference, finder: Finder, budget: int, per_class: int) -> None:
        self.inf, self.finder, self.budget, self.per_class = inf, finder, budget, per_class
        self.found: list[Anomaly] = []
        self.named: Counter[str] = Counter()
        self.truncated = False

    def spell(self, key: str, lv: Level, *, nonadjacent: bool = True) -> None:
        """One cycle per component of class ``key`` (``single``: a G-single, else — if ``nonadjacent`` —
        a G-nonadjacent), at most ``per_class`` in all."""
        comp = lv.comp[key]
        spelled: Counter[str] = Counter()  # examples per name
        for c, edges in sorted(lv.candidates[key].items(), key=lambda ce: min(ce[1])):
            more_nonadjacent = nonadjacent and spelled["G-nonadjacent" + lv.suffix] < self.per_class
            for cycle in self.one(key, lv, comp, c, edges, more_nonadjacent):
                name = classify(self.inf, cycle)
                if spelled[name] < self.per_class:
                    spelled[name] += 1
                    self.found.append(cycle_anomaly(self.inf, name, cycle))
            if self.truncated or sum(spelled.values()) >= 2 * self.per_class:
                return

    def one(self, key: str, lv: Level, comp: array[int], c: int, edges: list[int],
            nonadjacent: bool) -> list[list[int]]:
        """Cycles through the component's candidate edges: one of its class; for ``single``, a G-single
        when one closes, else, if ``nonadjacent`` and the component has two rw edges or more, a
        G-nonadjacent."""
        g, extra = self.inf.graph, lv.extra
        masks = {"G0": WW | extra, "G1c": WW | WR | extra, "G2-item": WW | WR | RW | extra}
        if key != "single":
            e = edges[0]
            path = self.path(g.dst[e], g.src[e], masks[key], lambda v: comp[v] == c)
            return [] if path is None else [[e, *path]]
        data = WW | WR | extra

        def member(v: int) -> bool:
            return comp[2 * v] == c or comp[2 * v + 1] == c
        found = []
        # an anti-dependency pointing back in time (a stale read) closes without another one far more often
        # than one pointing forwards: try those first
        nodes = self.inf.nodes
        for e in sorted(edges, key=lambda e: nodes[g.dst[e]].call - nodes[g.src[e]].call)[:8]:
            path = self.path(g.dst[e], g.src[e], data, member)
            if path is not None:
                return [[e, *path]]
        if len(edges) > 1 and nonadjacent:
            e = edges[0]
            path = self.nonadjacent_path(g.dst[e], g.src[e], data, member, avoid=e)
            if path is not None:
                found.append([e, *path])
        return found

    def _spend(self) -> bool:
        if self.budget <= 0:
            self.truncated = True
            return False
        self.budget -= 1
        return True

    def path(self, start: int, goal: int, mask: int, member: Callable[[int], bool]) -> list[int] | None:
        """Edge ids of a shortest path ``start`` → ``goal`` along ``mask`` edges, inside the component."""
        if not self._spend():
            return None
        out, dst, bits = self.finder.out, self.finder.dst, self.finder.bits
        parent: dict[int, int] = {start: -1}
        frontier = [start]
        while frontier and goal not in parent:
            nxt = []
            for v in frontier:
                tick()
                for e in out[v]:
                    d = dst[e]
                    if bits[e] & mask and d not in parent and member(d):
                        parent[d] = e
                        nxt.append(d)
            frontier = nxt
        if goal not in parent:
            return None
        path, v = [], goal
        while v != start:
            e = parent[v]
            path.append(e)
            v = self.inf.graph.src[e]
        return path[::-1]

    def nonadjacent_path(self, start: int, goal: int, mask: int, member: Callable[[int], bool],
                         avoid: int) -> list[int] | None:
        """A shortest walk ``start`` → ``goal`` leaving ``start`` just after an rw edge (``avoid``, which it
        does not take again), holding one more rw edge or more and no two rw edges in a row, and not ending
        in one (it closes with the rw edge)."""
        if not self._spend():
            return None
        out, dst, bits = self.finder.out, self.finder.dst, self.finder.bits
        first = start * 4 + 2  # state = node * 4 + (last edge rw) * 2 + (another rw seen)
        parent: dict[int, tuple[int, int]] = {first: (-1, -1)}
        target = goal * 4 + 1
        frontier = [first]
        while frontier and target not in parent:
            nxt = []
            for x in frontier:
                tick()
                v, last_rw, more = x >> 2, x >> 1 & 1, x & 1
                for e in out[v]:
                    if e == avoid:
                        continue
                    d = dst[e]
                    if bits[e] & mask:
                        y = d * 4 + more
                    elif bits[e] & RW and not last_rw:
                        y = d * 4 + 3
                    else:
                        continue
                    if y not in parent and member(d):
                        parent[y] = (x, e)
                        nxt.append(y)
            frontier = nxt
        if target not in parent:
            return None
        path, x = [], target
        while x != first:
            x, e = parent[x]
            path.append(e)
        return path[::-1]

    def unspelled(self, decided: list[Level], present: set[str]) -> list[Anomaly]:
        """A must-exist finding for each class shown to exist that no spelled cycle names."""
        spelled = {a.name for a in self.found}
        out = []
        g, inf = self.inf.graph, self.inf
        for base in BASES:
            lv = next((lv for lv in decided if lv.names.get(base)), None)
            if lv is None:
                continue
            name = base + lv.suffix
            if name in spelled or name not in present:
                continue
            key = "single" if base in ("G-single", "G-nonadjacent") else base
            want = (lambda es: len(es) == 1) if base == "G-single" else (lambda es: len(es) > 1) \
                if base == "G-nonadjacent" else (lambda es: True)
            comp_id, edges = next((c, es) for c, es in sorted(lv.candidates[key].items()) if want(es))
            e = edges[0]
            a, b = g.src[e], g.dst[e]
            comp = lv.comp[key]
            if key == "single":
                size = sum(1 for v in self.finder.core if comp_id in (comp[2 * v], comp[2 * v + 1]))
            else:
                size = sum(1 for v in self.finder.core if comp[v] == comp_id)
            kinds = {"G0": "ww", "G1c": "ww and wr", "single": "ww and wr edges and single rw",
                     "G2-item": "ww, wr and rw"}[key]
            order = {"": "", "-process": " and process", "-realtime": ", process and real-time"}[lv.suffix]
            why = "it" if base != "G-nonadjacent" else f"it and {len(edges) - 1} other rw edge(s)"
            out.append(Anomaly(
                name=name, events=(inf.nodes[a].call, inf.nodes[b].call),
                explanation=(
                    f"a {name} cycle ({MEANING[base]}) must exist: the {label(inf, e)} edge "
                    f"{inf.name(a)} -> {inf.name(b)} lies in a strongly connected component of {kinds}"
                    f"{order} edges ({size} transactions), so a closed walk of that class runs through "
                    f"{why}; no cycle of it was spelled out (the search stopped at its budget of searches, its "
                    f"time, or its limit of {self.per_class} examples per class) ({inf.describe(a)}; "
                    f"{inf.describe(b)})"),
            ))
        return out
