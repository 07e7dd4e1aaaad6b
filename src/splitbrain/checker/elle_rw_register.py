"""Elle's inference for read-write register keys (Kingsbury & Alvaro 2020, section 4.2 and Elle's
``rw-register`` options).

Written values are unique per key, so a read names its writer directly (**wr**). The *version order* is only
partly known, and is built from what must hold:

* the initial ``nil`` precedes every version;
* **writes follow reads** (``wfr_keys``, on by default): a transaction that read v1 and then wrote v2 to
  the key installed v2 after v1;
* **sequential keys** (``sequential_keys``, an assumption, off by default): each key is sequentially
  consistent, so the versions one process sees or writes, transaction after transaction, never go back;
* **linearizable keys** (``linearizable_keys``, an assumption, off by default): each key is linearizable,
  so a transaction that completed before another began saw or left a version no later than the one the
  other sees first.

Only a transaction's last write of a key installs a version; reading an earlier one is G1b. From the
order: **ww** from the writer of each version to the writers of the versions known to follow it directly,
and **rw** from each reader of a version to those writers (a reader of ``nil`` to the writers of the first
versions known). A version order with a cycle is ``cyclic-versions``: the key's ww and rw edges are then
left out. Reads of values no one wrote are ``garbage-read``; of values only a failed transaction wrote,
G1a; of the reader's own later write, ``future-read``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from splitbrain.checker.deadline import tick
from splitbrain.checker.txn_graph import Inference, KeyData
from splitbrain.checker.txn_ops import describe, show
from splitbrain.errors import InvalidHistory

__all__ = ["VersionOrder", "infer"]


@dataclass
class VersionOrder:
    """What is known of one key's version order: for each version (``None`` is the initial one) the
    versions known to follow it directly, and why each is known."""

    writer: dict[Any, int] = field(default_factory=dict)  # installed version -> node
    succ: dict[Any, dict[Any, None]] = field(default_factory=lambda: defaultdict(dict))
    why: dict[tuple[Any, Any], str] = field(default_factory=dict)
    roots: list[Any] = field(default_factory=list)  # versions known to follow only nil

    def add(self, v1: Any, v2: Any, reason: str) -> None:
        if v1 == v2 or (v2 is not None and v2 not in self.writer) or (v1 is not None and v1 not in self.writer):
            return
        self.succ[v1][v2] = None
        self.why.setdefault((v1, v2), reason)

    def precedes(self, v1: Any, v2: Any) -> bool:
        """Whether the known order puts ``v1`` strictly before ``v2``."""
        if v1 == v2:
            return False
        if v1 is None:
            return v2 in self.writer
        seen, todo = {v1}, [v1]
        while todo:
            for nxt in self.succ.get(todo.pop(), ()):
                if nxt == v2:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    def cycle(self) -> list[Any] | None:
        """A cycle of the order (``[v1, v2, ..., v1]``), or None: Kahn's algorithm, then a walk in what
        it could not remove."""
        indegree: dict[Any, int] = defaultdict(int)
        for s in self.succ.values():
            for v in s:
                indegree[v] += 1
        todo = [v for v in self.succ if indegree[v] == 0]
        removed = 0
        while todo:
            v = todo.pop()
            removed += 1
            for nxt in self.succ.get(v, ()):
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    todo.append(nxt)
        left = [v for v in self.succ if indegree[v] > 0] + [v for v in indegree if indegree[v] > 0]
        if not left:
            return None
        walk, at = [left[0]], {left[0]: 0}
        while True:
            nxt = next(v for v in self.succ.get(walk[-1], ()) if indegree[v] > 0)
            if nxt in at:
                return [*walk[at[nxt]:], nxt]
            at[nxt] = len(walk)
            walk.append(nxt)


def infer(inf: Inference, k: Any, data: KeyData) -> None:
    """Add the ww, wr and rw edges of register key ``k`` and report its non-cycle anomalies."""
    g, nodes, options = inf.graph, inf.nodes, inf.options
    order = VersionOrder()
    intermediate: dict[Any, int] = {}
    for v, node in zip(data.write_values, data.write_nodes, strict=True):
        if v in order.writer or v in intermediate:
            op = nodes[node]
            line = inf.history.line_of(op.call) if inf.history.lines else None
            raise InvalidHistory(f"txn by process {op.process}: {show(v)} is written to {k!r} twice; Elle's "
                                 "rw-register needs each value written to a key at most once",
                                 source=inf.history.source, line=line)
        (intermediate if v in data.inner else order.writer)[v] = node
    if options.wfr_keys:
        for node, read, own in data.rmw:
            order.add(read, own[-1], f"{inf.name(node)} read {show(read)} and then wrote {show(own[-1])} "
                      "(writes follow reads)")
    if options.sequential_keys:
        _sequential(inf, order, data)
    if options.linearizable_keys:
        _linearizable(inf, order, data)
    inf.versions[k] = order
    kid = g.key_id(k)
    for node, v in data.reads:
        if v is None:
            continue
        w = order.writer.get(v)
        if w is None:
            _bad_read(inf, k, node, v, data, intermediate)
            continue
        g.add(w, node, "register-read", kid)
    _future_reads(inf, k, data, order)
    loop = order.cycle()
    if loop is not None:
        steps = "; ".join(order.why.get(pair, "") for pair in pairwise(loop))
        events = tuple(sorted({nodes[order.writer[v]].call for v in loop if v in order.writer}))
        inf.findings.add("cyclic-versions", events, lambda: (
            f"the versions of {k!r} would have to come in a cycle "
            f"{' < '.join(show(v) for v in loop)}: {steps} (cyclic-versions); its ww and rw edges are left out"))
        return
    has_pred = {v for v1, s in order.succ.items() if v1 is not None for v in s}
    order.roots = [v for v in order.writer if v not in has_pred]
    for v1, s in order.succ.items():
        if v1 is not None:
            for v2 in s:
                g.add(order.writer[v1], order.writer[v2], "register-order", kid)
    for node, v in data.reads:
        tick()
        nexts = order.roots if v is None else order.succ.get(v, ())
        for v2 in nexts:
            g.add(node, order.writer[v2], "register-next", kid)


def _bad_read(inf: Inference, k: Any, node: int, v: Any, data: KeyData, intermediate: dict[Any, int]) -> None:
    nodes = inf.nodes
    w = intermediate.get(v)
    if w is not None:
        if w != node:
            inf.graph.add(w, node, "register-read", inf.graph.key_id(k))
            inf.findings.add("G1b", (nodes[w].call, nodes[node].call), lambda: (
                f"{inf.describe(w)}\n{inf.describe(node)}\n{inf.name(w)} wrote {show(v)} to {k!r} and later "
                f"another value in the same transaction; {inf.name(node)} read {k!r}={show(v)}, the "
                "intermediate version (G1b)"))
        return
    failed = data.failed.get(v)
    if failed is not None:
        inf.findings.add("G1a", (failed.call, nodes[node].call), lambda: (
            f"{describe(failed, inf.history)}\n{inf.describe(node)}\nT{failed.id} failed (aborted), yet "
            f"{inf.name(node)} read {k!r}={show(v)}, T{failed.id}'s write: an aborted read (G1a)"))
        return
    inf.findings.add("garbage-read", (nodes[node].call,), lambda: (
        f"{inf.describe(node)}\n{inf.name(node)} read {k!r}={show(v)}, but no transaction wrote {show(v)} to "
        f"{k!r} (garbage-read)"))


def _future_reads(inf: Inference, k: Any, data: KeyData, order: VersionOrder) -> None:
    for node, read, own in data.rmw:
        if read is not None and read in own:
            inf.findings.add("future-read", (inf.nodes[node].call,), _future, inf, k, node, read)


def _future(inf: Inference, k: Any, node: int, read: Any) -> str:
    return (f"{inf.describe(node)}\n{inf.name(node)} read {k!r}={show(read)} before writing it, yet that is its "
            "own later write (future-read)")


def _sequential(inf: Inference, order: VersionOrder, data: KeyData) -> None:
    """Per process, the versions of the key it saw or left, transaction after transaction, go forward."""
    last: dict[Any, tuple[int, Any]] = {}
    for node, entered, left in data.touches:  # nodes in invoke order: each process's own order
        process = inf.nodes[node].process
        prev = last.get(process)
        if prev is not None:
            order.add(prev[1], entered, f"process {process} saw {show(prev[1])} in {inf.name(prev[0])}, then "
                      f"{show(entered)} in {inf.name(node)} (sequential-keys)")
        last[process] = (node, left)


def _linearizable(inf: Inference, order: VersionOrder, data: KeyData) -> None:
    """A transaction that completed before another was invoked left a version no later than the one the
    other entered with (per key, in real time: history order, transitively reduced)."""
    touch = {node: (entered, left) for node, entered, left in data.touches}
    events = sorted([(inf.nodes[n].call, 0, n) for n in touch] + [(inf.nodes[n].ret, 1, n) for n in touch
                                                                   if inf.nodes[n].ret is not None])
    frontier: set[int] = set()
    preds: dict[int, frozenset[int]] = {}
    for _index, completes, node in events:
        if completes:
            frontier -= preds.pop(node, frozenset())
            frontier.add(node)
            continue
        preds[node] = frozenset(frontier)
        for p in sorted(frontier):
            order.add(touch[p][1], touch[node][0], f"{inf.name(p)} left {show(touch[p][1])} and completed before "
                      f"{inf.name(node)}, which saw {show(touch[node][0])}, began (linearizable-keys)")
