"""Transactional consistency, Elle-style (Kingsbury & Alvaro 2020): dependency cycles, named after Adya.

:mod:`splitbrain.checker.txn_graph` infers ww, wr, rw, rt and process edges; here the cycles are found
and named (Adya 1999):

* **G0** — a cycle of ww edges only (write cycle);
* **G1c** — a cycle of ww and wr edges (circular information flow);
* **G-single** — a cycle with exactly one rw edge (read skew; a lost update is one);
* **G2** — a cycle with two or more rw edges (write skew and friends);
* ``…-realtime`` / ``…-process`` — a cycle that needs an rt (or process) edge: fine for serializable,
  forbidden for strict serializable.

G1a, G1b, lost update and the malformed-read findings come from the inference. Which are forbidden:

====================  ==================================================================
read-committed        G0, G1a, G1b, G1c
snapshot-isolation    the above, G-single and lost update
serializable          the above and G2 (every cycle of ww, wr and rw edges)
strict-serializable   the above and every cycle that also uses rt or process edges
====================  ==================================================================

The search is bounded: strongly connected components are found first (any edge inside one is on a
cycle, so a forbidden component is decided there), then one short cycle per component and class is
spelled out with breadth-first searches, at most ``max_searches`` of them. When the bound stops the
search before a forbidden class is settled, the verdict is ``"unknown"``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

import networkx as nx  # type: ignore[import-untyped]

from splitbrain.checker.anomaly import Anomaly, AnomalyResult
from splitbrain.checker.deadline import OutOfTime
from splitbrain.checker.result import Verdict
from splitbrain.checker.txn_graph import KINDS, TxnGraph, build
from splitbrain.errors import UsageError
from splitbrain.histories.history import History

__all__ = [
    "ALWAYS",
    "CONSISTENCY_MODELS",
    "FORBIDDEN",
    "check_transactions",
]


ALWAYS = frozenset({"G0", "G1a", "G1b", "G1c", "incompatible-order", "garbage-read"})
_SI = ALWAYS | {"G-single", "lost-update"}
_SER = _SI | {"G2"}
_REALTIME = frozenset(f"{b}-{s}" for b in ("G0", "G1c", "G-single", "G2") for s in ("realtime", "process"))
FORBIDDEN: dict[str, frozenset[str]] = {
    "read-committed": ALWAYS,
    "snapshot-isolation": _SI,
    "serializable": _SER,
    "strict-serializable": _SER | _REALTIME,
}
CONSISTENCY_MODELS = tuple(FORBIDDEN)

_WW, _WR, _RW = frozenset({"ww"}), frozenset({"ww", "wr"}), frozenset({"ww", "wr", "rw"})
_ALL = frozenset(KINDS)


class _Search:
    """Cycle search over one inferred graph, bounded by a number of breadth-first searches."""

    def __init__(self, tg: TxnGraph, max_searches: int, deadline: float | None = None) -> None:
        self.tg, self.g = tg, tg.graph
        self.budget = max_searches
        self.deadline = deadline
        self.out_of_time = False
        self.truncated: set[str] = set()
        self.found: list[Anomaly] = []

    def view(self, kinds: frozenset[str], nodes: Iterable[int] | None = None) -> Any:
        g = self.g if nodes is None else self.g.subgraph(nodes)
        return nx.subgraph_view(g, filter_edge=lambda a, b: bool(g.edges[a, b]["deps"].keys() & kinds))

    def components(self, kinds: frozenset[str]) -> list[set[int]]:
        return sorted((c for c in nx.strongly_connected_components(self.view(kinds)) if len(c) > 1), key=min)

    def close(self, view: Any, a: int, b: int) -> list[int] | None:
        """A shortest cycle through edge a -> b in ``view``: [a, b, ..., a], or None."""
        self.budget -= 1
        try:
            return [a, *nx.shortest_path(view, b, a)]
        except nx.NetworkXNoPath:
            return None

    def edges_with(self, view: Any, only: frozenset[str], without: frozenset[str]) -> list[tuple[int, int]]:
        return sorted(
            (a, b) for a, b in view.edges
            if self.g.edges[a, b]["deps"].keys() & only and not self.g.edges[a, b]["deps"].keys() & without
        )

    def run(self) -> None:
        for scc in self.components(_WW):
            self.report(nx.find_cycle(self.view(_WW, scc)), _WW)
        for kinds, through, name in ((_WR, frozenset({"wr"}), "G1c"), (_RW, frozenset({"rw"}), "G-single")):
            for scc in self.components(kinds):
                view = self.view(kinds, scc)
                strict = self.view(kinds - through | {"wr"} if name == "G-single" else kinds, scc)
                self.first_cycle(view, strict, through, kinds - through, name, scc)
        for scc in self.components(_ALL):
            view = self.view(_ALL, scc)
            self.first_cycle(view, view, frozenset({"rt", "process"}), _RW, "realtime", scc)

    def first_cycle(self, view: Any, path_view: Any, through: frozenset[str], without: frozenset[str],
                    name: str, scc: set[int]) -> None:
        """Spell out one cycle through a ``through`` edge of ``view`` closing along ``path_view``
        (for G-single: the return path avoids rw); falls back to any cycle (G2) when none closes."""
        candidates = self.edges_with(view, through, without)
        for a, b in candidates:
            if self.deadline is not None and time.monotonic() > self.deadline:
                self.out_of_time = True
                self.budget = 0
            if self.budget <= 0:
                self.truncated.add(name)
                break
            cycle = self.close(path_view, a, b)
            if cycle is not None:
                self.report(list(pairwise(cycle)), None)
                return
        else:
            if name == "G-single" and candidates and self.budget > 0:
                a, b = candidates[0]
                cycle = self.close(view, a, b)
                if cycle is not None:
                    self.report(list(pairwise(cycle)), None)

    def report(self, cycle: list[tuple[int, int]], kinds: frozenset[str] | None) -> None:
        labels = [self.label(a, b, kinds) for a, b in cycle]
        rw = labels.count("rw")
        base = "G2" if rw > 1 else "G-single" if rw == 1 else "G1c" if "wr" in labels else "G0"
        suffix = "-realtime" if "rt" in labels else "-process" if "process" in labels else ""
        name = base + suffix
        txns = [self.tg.txns[a] for a, _ in cycle]
        order = " < ".join(t.name for t in [*txns, txns[0]])
        meaning = {"G0": "write cycle", "G1c": "circular information flow",
                   "G-single": "exactly one anti-dependency", "G2": "two or more anti-dependencies"}[base]
        steps = [t.describe() for t in txns]
        steps += [f"{self.g.edges[a, b]['deps'][lab]}" for (a, b), lab in zip(cycle, labels, strict=True)]
        steps.append(f"so {order}: a cycle ({name}: {meaning}"
                     + (", using the real-time or process order" if suffix else "") + ")")
        self.found.append(Anomaly(
            name=name, explanation="\n".join(steps), events=tuple(t.op.call for t in txns),
            graph={
                "title": name, "description": order,
                "nodes": [{"id": t.name, "label": t.name, "detail": t.describe()} for t in txns],
                "edges": [{"from": self.tg.txns[a].name, "to": self.tg.txns[b].name,
                           "label": f"{lab}"} for (a, b), lab in zip(cycle, labels, strict=True)],
            },
        ))

    def label(self, a: int, b: int, kinds: frozenset[str] | None) -> str:
        deps = self.g.edges[a, b]["deps"]
        return next(k for k in KINDS if k in deps and (kinds is None or k in kinds))


def check_transactions(
    history: History, consistency: str = "serializable", *, max_searches: int = 2000,
    timeout: float | None = None,
) -> AnomalyResult:
    """Check ``history``'s ``txn`` operations against ``consistency`` (see :data:`CONSISTENCY_MODELS`).

    Valid when no anomaly the model forbids is found; ``"unknown"`` when the search bound or the
    ``timeout`` (seconds) stopped it before it could rule one out. Raises ``UsageError`` for an unknown
    consistency model and :class:`~splitbrain.errors.InvalidHistory` for a malformed transaction.
    """
    if consistency not in FORBIDDEN:
        raise UsageError(
            f"unknown consistency model {consistency!r} (expected one of {', '.join(CONSISTENCY_MODELS)})"
        )
    started = time.perf_counter()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        tg = build(history, deadline)
    except OutOfTime:
        return AnomalyResult(
            valid="unknown", checker="txn", operations=len(history.operations), consistency=consistency,
            reason=f"the time budget of {timeout:g} s ran out while inferring dependencies",
            seconds=time.perf_counter() - started, source=history.source,
        )
    search = _Search(tg, max_searches, deadline)
    search.run()
    forbidden = FORBIDDEN[consistency]
    found = _dedupe([*tg.anomalies, *search.found])
    bad = tuple(a for a in found if a.name in forbidden)
    allowed = tuple(a for a in found if a.name not in forbidden)
    valid: Verdict = not bad
    reason = None
    if not bad and _undecided(search, consistency):
        valid = "unknown"
        reason = (f"the time budget of {timeout:g} s ran out during the cycle search" if search.out_of_time
                  else f"the cycle search bound ({max_searches} searches) was reached")
    return AnomalyResult(
        valid=valid,
        checker="txn", operations=len(tg.txns), anomalies=bad, allowed=allowed, consistency=consistency,
        reason=reason, seconds=time.perf_counter() - started, source=history.source,
        stats={"transactions": len(tg.txns), "edges": tg.graph.number_of_edges()},
    )


def _undecided(search: _Search, consistency: str) -> bool:
    """Could the bound have hidden a forbidden cycle? Components are complete, names may not be."""
    decisive = {"read-committed": _WR, "serializable": _RW, "strict-serializable": _ALL}.get(consistency)
    if decisive is not None:
        return bool(search.components(decisive))  # a cycle exists, but none was spelled out in time
    return "G-single" in search.truncated


def _dedupe(found: list[Anomaly]) -> list[Anomaly]:
    seen: set[tuple[str, frozenset[int]]] = set()
    out = []
    for a in found:
        key = (a.name, frozenset(a.events))
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out
