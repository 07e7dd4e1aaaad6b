"""Elle's inference for list-append keys (Kingsbury & Alvaro 2020, section 4.2 "Inferring version orders").

A key of this type is a list; transactions append unique elements to it and read it whole. Because each
read returns the entire list, reads recover the *version order* directly:

* every committed read is a prefix of one order — the longest read — or the reads are an
  ``incompatible-order`` (no single sequence of appends explains both; something read a write that later
  vanished); a read holding an element twice is ``duplicate-elements``;
* **ww**: in that order, each element's appender precedes the next element's appender;
* **wr**: a read's last element was appended by the transaction it read from;
* **rw**: a read missing the next element in the order precedes that element's appender;
* **unread appends**: every *committed* append ends up in the final version, so an element of an ``ok``
  transaction that no read ever shows follows everything any read shows: the appender of the last
  element read precedes it (ww), and every read that saw the whole known order precedes it (rw) — even
  though no read ever shows it. (Appends of ``info`` transactions may never have happened: no such edge.)

Elements nobody committed are G1a (appended by a failed transaction), ``dirty-update`` (a committed element
follows an aborted one in the order) or ``garbage-read`` (appended by no transaction); they are skipped in
the order, so the rest of the key is still used. A read ending inside one transaction's run of appends to
the key is G1b (an intermediate read) and draws no anti-dependency to its own writer; a read showing the
reader's own later append is a ``future-read``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from splitbrain.checker.txn_graph import Inference, KeyData
from splitbrain.checker.txn_ops import describe, show
from splitbrain.errors import InvalidHistory
from splitbrain.histories.history import Operation

__all__ = ["infer"]


def infer(inf: Inference, k: Any, data: KeyData) -> None:
    """Add the ww, wr and rw edges of list key ``k`` and report its non-cycle anomalies."""
    nodes, g = inf.nodes, inf.graph
    writer = dict(zip(data.write_values, data.write_nodes, strict=True))
    if len(writer) < len(data.write_values):
        elem = next(e for e, count in Counter(data.write_values).items() if count > 1)
        node = [n for e, n in zip(data.write_values, data.write_nodes, strict=True) if e == elem][-1]
        _refuse(inf, node, f"{show(elem)} is appended to {k!r} twice; Elle's list-append needs each element "
                "appended to a key at most once")
    intermediate = data.inner
    reads: list[tuple[int, tuple[Any, ...]]] = []
    for node, v in data.reads:
        if v is not None and not isinstance(v, tuple):
            _refuse(inf, node, f"a read of list key {k!r} returned {show(v)}, which is not a list", at_ret=True)
        reads.append((node, v or ()))
    shown = reads + data.seen  # a read after the reader's own appends shows the order too
    longest_node, longest = max(shown, key=lambda r: len(r[1])) if shown else (-1, ())
    for node, r in shown:
        if longest[: len(r)] != r:
            inf.findings.add("incompatible-order", (nodes[longest_node].call, nodes[node].call), _incompatible, inf,
                             k, (longest_node, longest), (node, r))
            return
    if len(set(longest)) != len(longest):
        twice = next(e for i, e in enumerate(longest) if e in longest[:i])
        inf.findings.add("duplicate-elements", (nodes[longest_node].call,), _duplicate, inf, k, longest_node,
                         longest, twice)
        return
    inf.orders[k] = longest
    kid = g.key_id(k)
    at = [writer.get(e) for e in longest]
    _uncommitted(inf, k, data, longest_node, longest, at)
    _future_reads(inf, k, data)
    prev = None
    for w in at:
        if w is not None:
            if prev is not None:
                g.add(prev, w, "append-order", kid)
            prev = w
    size = len(longest)
    last_known: list[int | None] = []
    for w in at:
        last_known.append(w if w is not None else (last_known[-1] if last_known else None))
    next_known: list[int | None] = [None] * (size + 1)
    for p in range(size - 1, -1, -1):
        next_known[p] = at[p] if at[p] is not None else next_known[p + 1]
    observed = set(longest)
    unread = sorted({node for elem, node in writer.items() if elem not in observed and nodes[node].ok})
    if prev is not None:
        for u in unread:
            g.add(prev, u, "append-unread", kid)
    for node, r in reads:
        m = len(r)
        w = last_known[m - 1] if m else None
        if w is not None:
            g.add(w, node, "append-read", kid)
            if r[-1] in intermediate and at[m - 1] == w:
                inf.findings.add("G1b", (nodes[w].call, nodes[node].call), _intermediate, inf, k, w, node, r)
        p = m
        while p < size and next_known[p] == w and w is not None:  # past the rest of w's own appends
            p += 1
        nxt = next_known[p]
        if nxt is not None:
            g.add(node, nxt, "append-next", kid)
        else:
            for u in unread:
                if u != w:
                    g.add(node, u, "append-before-unread", kid)


def _refuse(inf: Inference, node: int, problem: str, *, at_ret: bool = False) -> None:
    op, history = inf.nodes[node], inf.history
    index = op.ret if at_ret and op.ret is not None else op.call
    line = history.line_of(index) if history.lines else None
    raise InvalidHistory(f"txn by process {op.process}: {problem}", source=history.source, line=line)


def _uncommitted(inf: Inference, k: Any, data: KeyData, reader: int, order: tuple[Any, ...],
                 at: list[int | None]) -> None:
    """G1a, dirty-update and garbage-read for elements of the order that no possible commit appended."""
    nodes = inf.nodes
    aborted_at = None
    for p, w in enumerate(at):
        e = order[p]
        if w is None:
            failed = data.failed.get(e)
            if failed is None:
                inf.findings.add("garbage-read", (nodes[reader].call,), _garbage, inf, k, reader, order, e)
                continue
            if aborted_at is None:
                aborted_at = (p, failed)
            inf.findings.add("G1a", (failed.call, nodes[reader].call), _aborted, inf, k, reader, order, e, failed)
        elif aborted_at is not None and nodes[w].ok:
            p0, f = aborted_at
            inf.findings.add("dirty-update", (f.call, nodes[w].call), _dirty, inf, k, order, (order[p0], f), (e, w))
            aborted_at = None


def _future_reads(inf: Inference, k: Any, data: KeyData) -> None:
    """A transaction that read the key before appending to it, yet whose read holds its own append."""
    for node, read, own in data.rmw:
        if isinstance(read, tuple) and not set(own).isdisjoint(read):
            inf.findings.add("future-read", (inf.nodes[node].call,), _future, inf, k, node, read)


# -- explanations, written only for the findings kept ----------------------------------------------------

def _incompatible(inf: Inference, k: Any, one: tuple[int, Any], other: tuple[int, Any]) -> str:
    return (f"{inf.describe(one[0])}\n{inf.describe(other[0])}\nthey read {k!r} as {show(one[1])} and "
            f"{show(other[1])}: neither is a prefix of the other, so no order of appends explains both "
            "(incompatible-order)")


def _duplicate(inf: Inference, k: Any, node: int, read: Any, twice: Any) -> str:
    return (f"{inf.describe(node)}\n{inf.name(node)} read {k!r}={show(read)}, which holds {show(twice)} more "
            "than once, though each element is appended once (duplicate-elements)")


def _intermediate(inf: Inference, k: Any, w: int, node: int, read: Any) -> str:
    return (f"{inf.describe(w)}\n{inf.describe(node)}\n{inf.name(w)} appended {show(read[-1])} to {k!r} and more "
            f"after it in the same transaction; {inf.name(node)} read {k!r}={show(read)}, which ends at that "
            "element: the intermediate version (G1b)")


def _garbage(inf: Inference, k: Any, reader: int, order: Any, e: Any) -> str:
    return (f"{inf.describe(reader)}\n{inf.name(reader)} read {k!r}={show(order)}, but no transaction appended "
            f"{show(e)} to {k!r} (garbage-read)")


def _aborted(inf: Inference, k: Any, reader: int, order: Any, e: Any, f: Operation) -> str:
    return (f"{describe(f, inf.history)}\n{inf.describe(reader)}\nT{f.id} failed (aborted), yet {inf.name(reader)} "
            f"read {k!r}={show(order)}, which contains T{f.id}'s append {show(e)}: an aborted read (G1a)")


def _dirty(inf: Inference, k: Any, order: Any, aborted: tuple[Any, Operation], committed: tuple[Any, int]) -> str:
    (a, f), (e, w) = aborted, committed
    return (f"{describe(f, inf.history)}\n{inf.describe(w)}\nT{f.id} failed (aborted), yet its append {show(a)} "
            f"to {k!r} is followed by {inf.name(w)}'s committed append {show(e)} in {show(order)}: a committed "
            "update built on an aborted one (dirty-update)")


def _future(inf: Inference, k: Any, node: int, read: Any) -> str:
    return (f"{inf.describe(node)}\n{inf.name(node)} read {k!r}={show(read)} before appending to it, yet the read "
            "holds its own later append (future-read)")
