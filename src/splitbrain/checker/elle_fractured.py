"""Fractured reads: what monotonic atomic view forbids (Bailis et al., "Highly Available Transactions",
VLDB 2014; "Scalable Atomic Visibility with RAMP Transactions", SIGMOD 2014, which names the anomaly).

Under MAV, once a transaction T observes an effect of a transaction W, it observes all of W's effects. A
*fractured read* is T reading key x from W (a wr edge) and key y at a version before W's write of y. It
implies a G-single closed walk (W -wr-> T -rw-> ... -ww-> W, the ww steps along y's version order), so only
transactions on such walks — :attr:`CycleReport.single_nodes` — need looking at. Elle has no name for this
anomaly (its lattice gives monotonic atomic view nothing beyond read committed); splitbrain uses the RAMP
paper's.
"""

from __future__ import annotations

from typing import Any

from splitbrain.checker.deadline import tick
from splitbrain.checker.txn_graph import WR, Inference
from splitbrain.checker.txn_ops import parse, show

__all__ = ["fractured_reads"]


def _reads(inf: Inference, node: int) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """A transaction's first read of each key before writing it, and its first read of each key at all."""
    external: dict[Any, Any] = {}
    first: dict[Any, Any] = {}
    touched: set[Any] = set()
    for fn, k, v in parse(inf.nodes[node], inf.history):
        if fn == "r" and k not in touched:
            external[k] = v
        if fn == "r":
            first.setdefault(k, v)
        touched.add(k)
    return external, first


def _writes(inf: Inference, node: int) -> dict[Any, list[Any]]:
    writes: dict[Any, list[Any]] = {}
    for fn, k, v in parse(inf.nodes[node], inf.history):
        if fn != "r":
            writes.setdefault(k, []).append(v)
    return writes


def _missed(inf: Inference, writer: int, y: Any, written: list[Any], read: Any) -> Any:
    """The part of ``writer``'s write of ``y`` that a read of ``y`` returning ``read`` did not see, if
    the known order shows it missed one; else None."""
    order = inf.orders.get(y)
    if order is not None:
        seen = set(read or ())
        where = {x: i for i, x in enumerate(order)}
        for x in written:
            if x not in seen and (x in where or inf.nodes[writer].ok):
                return x
        return None
    versions = inf.versions.get(y)
    if versions is not None and versions.precedes(read, written[-1]):
        return written[-1]
    return None


def fractured_reads(inf: Inference, candidates: set[int]) -> None:
    """Report each fractured read among ``candidates`` (transactions on G-single closed walks)."""
    g = inf.graph
    start, edges = g.out_edges()
    for w in sorted(candidates):
        writes = None
        for e in edges[start[w]: start[w + 1]]:
            t = g.dst[e]
            if not g.bits[e] & WR or t not in candidates:
                continue
            tick()
            writes = writes if writes is not None else _writes(inf, w)
            reads, first = _reads(inf, t)
            x = g.keys[g.key[e]]
            for y, written in writes.items():
                if y == x or y not in reads:
                    continue
                missed = _missed(inf, w, y, written, reads[y])
                if missed is None:
                    continue
                inf.findings.add("fractured-read", (inf.nodes[w].call, inf.nodes[t].call), _explain, inf, (w, t),
                                 (x, first.get(x)), (y, reads[y]), missed)
                break


def _explain(inf: Inference, pair: tuple[int, int], seen: tuple[Any, Any], read: tuple[Any, Any], missed: Any) -> str:
    (w, t), (x, vx), (y, vy) = pair, seen, read
    return (f"{inf.describe(w)}\n{inf.describe(t)}\n{inf.name(t)} read {x!r}={show(vx)}, so it observed "
            f"{inf.name(w)}'s write to {x!r}; yet it read {y!r}={show(vy)}, without {inf.name(w)}'s {show(missed)}, "
            f"a later version: it saw part of {inf.name(w)}'s effects and not the rest (fractured-read)")
