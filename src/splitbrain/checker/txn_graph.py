"""Dependency inference for transaction histories, after Elle (Kingsbury & Alvaro 2020).

From a history of ``txn`` operations whose value is a list of micro-ops ``(fn, key, value)``:

* **list-append** keys (``fn`` ``append``; reads return the whole list): every read is a prefix of the
  key's version order, so the longest read gives the order of appends directly;
* **read-write register** keys (``fn`` ``w``/``write`` and ``r``/``read``), written values unique per
  key: a read names its writer directly; the version order is only partly known — nil precedes every
  version, and a transaction that read v1 then wrote v2 puts v1 before v2.

Edges between transactions (Adya 1999): ``ww`` (write of a version, then of the next), ``wr`` (write,
then a read of it), ``rw`` (a read, then the write of a later version: an anti-dependency), ``rt``
(completed before the other was invoked) and ``process`` (same process, in order). Non-cycle anomalies
found on the way: G1a (aborted read), G1b (intermediate read), lost update, an ``incompatible-order``
(two reads of one list that are not prefixes of each other) and a ``garbage-read`` (a value nobody
wrote). ``info`` transactions are nodes (their writes may be visible) but never the completed side of
an ``rt`` edge; ``fail`` transactions are not nodes, only the source of G1a.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import networkx as nx  # type: ignore[import-untyped]

from splitbrain.checker.anomaly import Anomaly
from splitbrain.checker.deadline import OutOfTime
from splitbrain.errors import InvalidHistory
from splitbrain.histories.history import History, Operation

__all__ = [
    "KINDS",
    "Txn",
    "TxnGraph",
    "build",
    "show",
]


_FN = {"r": "r", "read": "r", "w": "w", "write": "w", "append": "append"}
KINDS = ("ww", "wr", "rw", "process", "rt")  # preference order when an edge has several


@dataclass
class Txn:
    """One transaction: its operation, normalised micro-ops and what it read before writing."""

    op: Operation
    mops: list[tuple[str, Any, Any]]
    reads: dict[Any, Any] = field(default_factory=dict)  # key -> first read before own write (external)
    #: key -> the values this transaction wrote (or appended) to it, in order; built once, so that
    #: asking costs no scan of the micro-ops (a transaction of 50,000 of them made that quadratic)
    written: dict[Any, list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for fn, k, v in self.mops:
            if fn != "r":
                self.written.setdefault(k, []).append(v)

    @property
    def name(self) -> str:
        return f"T{self.op.id}"

    def describe(self) -> str:
        body = " ".join(f"[{fn} {k!r} {show(v)}]" for fn, k, v in self.mops)
        status = "" if self.op.ok else f" ({self.op.status})"
        return f"{self.name} = p{self.op.process} txn {body}{status}, event {self.op.call}"

    def writes(self, key: Any) -> list[Any]:
        return self.written.get(key, [])




def show(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, tuple):
        return "[" + " ".join(show(x) for x in v) + "]"
    return repr(v)


def _parse(op: Operation, history: History) -> list[tuple[str, Any, Any]]:
    """The micro-ops of a ``txn`` (its completion's, which carry what reads returned, when it is ok),
    each checked: a malformed one is an error naming the line, never silently skipped — a history
    checked without the micro-ops it could not read would be judged on less than it says."""

    def bad(problem: str) -> InvalidHistory:
        at = op.ret if op.ok and op.ret is not None else op.call
        line = history.line_of(at) if history.lines else None
        return InvalidHistory(f"txn by process {op.process}: {problem}", source=history.source, line=line)

    mops = op.output if op.ok and op.output is not None else op.input
    if not isinstance(mops, tuple):
        raise bad(f"the value must be a list of micro-ops [f key value], got {show(mops)}")
    out = []
    for mop in mops:
        if not (isinstance(mop, tuple) and len(mop) == 3):
            raise bad(f"{show(mop)} is not a micro-op [f key value]")
        fn = mop[0]  # a string (an EDN keyword is one too)
        if not isinstance(fn, str) or fn not in _FN:
            raise bad(f"micro-op {show(mop)} has function {show(fn)}; expected one of r, w, append (or read, "
                      "write)")
        kind, key, value = _FN[fn], mop[1], mop[2]
        if key is None:
            raise bad(f"micro-op {show(mop)} has no key")
        if kind != "r" and value is None:
            raise bad(f"micro-op {show(mop)} writes nil; written values must be distinct non-nil values")
        if kind == "r" and op.ok and value is not None and not _readable(value):
            raise bad(f"micro-op {show(mop)} read {show(value)}, which is not a value or a list of values")
        out.append((kind, key, value))
    return out


def _readable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


@dataclass
class TxnGraph:
    """The inferred graph (``graph``: nodes are operation ids, edge attribute ``deps`` maps a kind to
    the sentence that justifies it), the transactions by id, and the non-cycle anomalies."""

    graph: nx.DiGraph
    txns: dict[int, Txn]
    anomalies: list[Anomaly]

    def add(self, a: Txn, b: Txn, kind: str, why: str) -> None:
        if a is b:
            return
        if not self.graph.has_edge(a.op.id, b.op.id):
            self.graph.add_edge(a.op.id, b.op.id, deps={})
        self.graph.edges[a.op.id, b.op.id]["deps"].setdefault(kind, why)


def build(history: History, deadline: float | None = None) -> TxnGraph:
    """Infer every dependency edge of ``history``'s ``txn`` operations; :class:`OutOfTime` past
    ``deadline`` (a ``time.monotonic()`` value)."""
    txns: dict[int, Txn] = {}
    failed: dict[tuple[Any, Any], Txn] = {}
    for op in history.operations:
        if op.f != "txn":
            line = history.line_of(op.call) if history.lines else None
            raise InvalidHistory(
                f"operation {op.f!r} by process {op.process} is not a transaction: the txn checker reads "
                "only 'txn' operations whose value is a list of micro-ops [f key value]",
                source=history.source, line=line,
            )
        t = Txn(op, _parse(op, history))
        if op.status == "fail":
            for fn, k, v in t.mops:
                if fn != "r":
                    failed[(k, v)] = t
            continue
        written: set[Any] = set()
        for fn, k, v in t.mops:
            if fn == "r" and op.ok and k not in written and k not in t.reads:
                t.reads[k] = v
            elif fn != "r":
                written.add(k)
        txns[op.id] = t
    tg = TxnGraph(nx.DiGraph(), txns, [])
    tg.graph.add_nodes_from(txns)
    list_keys = {k for t in txns.values() for fn, k, _ in t.mops if fn == "append"}
    list_keys |= {k for (k, _v), t in failed.items() if any(fn == "append" for fn, _, _ in t.mops)}
    list_keys |= {k for t in txns.values() for fn, k, v in t.mops if fn == "r" and isinstance(v, tuple)}
    writer: dict[tuple[Any, Any], Txn] = {}
    for t in txns.values():
        for fn, k, v in t.mops:
            if fn != "r":
                writer.setdefault((k, v), t)
    # per key, the reads of committed transactions and the transactions that read or write it
    key_reads: dict[Any, list[tuple[Txn, Any]]] = defaultdict(list)
    key_txns: dict[Any, dict[int, Txn]] = defaultdict(dict)
    for t in txns.values():
        for fn, k, v in t.mops:
            key_txns[k][t.op.id] = t
            if fn == "r" and t.op.ok:
                key_reads[k].append((t, v))
    for k in sorted(key_txns, key=repr):
        if deadline is not None and time.monotonic() > deadline:
            raise OutOfTime
        involved = list(key_txns[k].values())
        if k in list_keys:
            _list_key(tg, k, writer, failed, key_reads[k], involved)
        else:
            _register_key(tg, k, writer, failed, involved)
    _lost_updates(tg)
    _order_edges(tg, history)
    return tg


def _bad_read(tg: TxnGraph, t: Txn, k: Any, v: Any, w: Txn | None, failed: dict[tuple[Any, Any], Txn],
              read: Any) -> bool:
    """Report G1a / garbage for a read of version element ``v``; True when it was one."""
    if w is not None:
        return False
    f = failed.get((k, v))
    if f is not None:
        tg.anomalies.append(Anomaly(
            name="G1a", events=(f.op.call, t.op.call),
            explanation=f"{f.describe()}\n{t.describe()}\n{f.name} failed (aborted), yet {t.name} read "
            f"{k!r}={show(read)}, which contains {f.name}'s write {show(v)}: an aborted read (G1a)",
        ))
    else:
        tg.anomalies.append(Anomaly(
            name="garbage-read", events=(t.op.call,),
            explanation=f"{t.describe()}\n{t.name} read {k!r}={show(read)}, but no transaction wrote "
            f"{show(v)} to {k!r}",
        ))
    return True


def _intermediate(tg: TxnGraph, t: Txn, w: Txn, k: Any, v: Any, read: Any) -> None:
    ws = w.writes(k)
    if v in ws and ws.index(v) < len(ws) - 1:
        tg.anomalies.append(Anomaly(
            name="G1b", events=(w.op.call, t.op.call),
            explanation=f"{w.describe()}\n{t.describe()}\n{w.name} wrote {show(v)} to {k!r} and later "
            f"{show(ws[-1])} in the same transaction; {t.name} read {k!r}={show(read)}, the intermediate "
            "version (G1b)",
        ))


def _list_key(tg: TxnGraph, k: Any, writer: dict[tuple[Any, Any], Txn],
              failed: dict[tuple[Any, Any], Txn], reads: list[tuple[Txn, Any]], involved: list[Txn]) -> None:
    lists = [(t, tuple(v) if isinstance(v, tuple) else ()) for t, v in reads]
    if not lists:
        return
    longest_t, order = max(lists, key=lambda tv: len(tv[1]))
    for t, seen in lists:
        if order[: len(seen)] != seen:
            tg.anomalies.append(Anomaly(
                name="incompatible-order", events=(longest_t.op.call, t.op.call),
                explanation=f"{longest_t.describe()}\n{t.describe()}\nthey read {k!r} as {show(order)} and "
                f"{show(seen)}: neither is a prefix of the other, so no order of appends explains both",
            ))
            return
    bad = {v for v in order if _bad_read(tg, longest_t, k, v, writer.get((k, v)), failed, order)}
    if bad:
        return
    for i in range(len(order) - 1):
        a, b = writer[(k, order[i])], writer[(k, order[i + 1])]
        tg.add(a, b, "ww", f"{a.name} appended {show(order[i])} to {k!r}; {b.name} appended "
               f"{show(order[i + 1])} right after it (ww, from the read {show(order)})")
    for t in involved:
        if k not in t.reads:
            continue
        seen = t.reads[k] if isinstance(t.reads[k], tuple) else ()
        if seen:
            w = writer[(k, seen[-1])]
            tg.add(w, t, "wr", f"{t.name} read {k!r}={show(seen)}, whose last element {show(seen[-1])} "
                   f"{w.name} appended (wr)")
            _intermediate(tg, t, w, k, seen[-1], seen)
        if len(seen) < len(order):
            w = writer[(k, order[len(seen)])]
            tg.add(t, w, "rw", f"{t.name} read {k!r}={show(seen)}; {w.name} appended "
                   f"{show(order[len(seen)])}, the next element (rw: {t.name} read a version before "
                   f"{w.name}'s write)")


def _register_key(tg: TxnGraph, k: Any, writer: dict[tuple[Any, Any], Txn],
                  failed: dict[tuple[Any, Any], Txn], involved: list[Txn]) -> None:
    written = list(dict.fromkeys(v for t in involved for v in t.writes(k)))
    after: dict[Any, set[Any]] = defaultdict(set)  # version -> versions known to follow it
    for t in involved:
        if k in t.reads and t.writes(k):
            after[t.reads[k]].add(t.writes(k)[-1])
    for v1, nexts in after.items():
        if v1 is not None and (k, v1) in writer:
            for v2 in nexts:
                a, b = writer[(k, v1)], writer[(k, v2)]
                tg.add(a, b, "ww", f"{a.name} wrote {k!r}={show(v1)}; {b.name} read it and wrote "
                       f"{k!r}={show(v2)} (ww)")
    for t in involved:
        if k not in t.reads:
            continue
        v = t.reads[k]
        if v is not None:
            w = writer.get((k, v))
            if _bad_read(tg, t, k, v, w, failed, v):
                continue
            assert w is not None
            tg.add(w, t, "wr", f"{w.name} wrote {k!r}={show(v)}; {t.name} read {k!r}={show(v)} (wr)")
            _intermediate(tg, t, w, k, v, v)
        later: list[Any] = written if v is None else sorted(after.get(v, ()), key=repr)
        for v2 in later:
            w2 = writer[(k, v2)]
            why = "every write follows the initial nil" if v is None else f"{w2.name} read {show(v)} first"
            tg.add(t, w2, "rw", f"{t.name} read {k!r}={show(v)}; {w2.name} wrote {k!r}={show(v2)}, a later "
                   f"version ({why}) (rw: {t.name} read a version before {w2.name}'s write)")


def _lost_updates(tg: TxnGraph) -> None:
    """Two committed transactions read the same version of a key and both wrote it."""
    groups: dict[tuple[Any, Any], list[Txn]] = defaultdict(list)
    for t in tg.txns.values():
        if t.op.ok:
            for k, v in t.reads.items():
                if t.writes(k):
                    groups[(k, v)].append(t)
    for (k, v), ts in groups.items():
        if len(ts) > 1:
            tg.anomalies.append(Anomaly(
                name="lost-update", events=tuple(t.op.call for t in ts),
                explanation="\n".join(t.describe() for t in ts) + f"\n{', '.join(t.name for t in ts)} all "
                f"read {k!r}={show(v)} (the same version) and all wrote {k!r}: whichever committed first, "
                "the others overwrote its update without seeing it (lost update)",
            ))


def _order_edges(tg: TxnGraph, history: History) -> None:
    """Real-time edges, transitively reduced as Elle does (a frontier of completed transactions), and
    process edges between consecutive transactions of one process."""
    by_call = {t.op.call: t for t in tg.txns.values()}
    by_ret = {t.op.ret: t for t in tg.txns.values() if t.op.ok}
    frontier: set[int] = set()
    preds: dict[int, set[int]] = {}
    for op in history.ops:
        if op.index in by_call:
            t = by_call[op.index]
            preds[t.op.id] = set(frontier)
            for p in sorted(frontier):
                a = tg.txns[p]
                tg.add(a, t, "rt", f"{a.name} completed (event {a.op.ret}) before {t.name} was invoked "
                       f"(event {t.op.call}) (rt)")
        elif op.index in by_ret:
            t = by_ret[op.index]
            frontier -= preds.get(t.op.id, set())
            frontier.add(t.op.id)
    last: dict[Any, Txn] = {}
    for t in sorted(tg.txns.values(), key=lambda t: t.op.call):
        prev = last.get(t.op.process)
        if prev is not None:
            tg.add(prev, t, "process", f"{prev.name} then {t.name}, in that order on process "
                   f"{t.op.process} (process)")
        last[t.op.process] = t
