"""Sentences for dependency edges and cycles, written only for the edges a reported cycle uses.

The graph stores, per edge, its key and the rule that found it (:data:`~splitbrain.checker.txn_graph.
RULE_KIND`); this module re-reads the two transactions' micro-ops and the key's order to say why the edge
holds, in the style of Elle's explanations (Kingsbury & Alvaro 2020, section 5: every cycle comes with the
reason for each of its edges, so a person can check it by hand).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from splitbrain.checker.anomaly import Anomaly
from splitbrain.checker.txn_graph import KINDS, Inference
from splitbrain.checker.txn_ops import parse, show

__all__ = [
    "MEANING",
    "cycle_anomaly",
    "edge_sentence",
    "label",
]

MEANING = {
    "G0": "write cycle",
    "G1c": "circular information flow",
    "G-single": "exactly one anti-dependency",
    "G-nonadjacent": "anti-dependencies, no two adjacent",
    "G2-item": "anti-dependencies, two of them adjacent",
}


def label(inf: Inference, e: int) -> str:
    """The kind of edge ``e``: ``ww``, ``wr``, ``rw``, ``process`` or ``rt``."""
    return KINDS[inf.graph.bits[e].bit_length() - 1]


def _mops(inf: Inference, node: int, k: Any) -> list[tuple[str, Any]]:
    return [(fn, v) for fn, key, v in parse(inf.nodes[node], inf.history) if key == k]


def _first_read(inf: Inference, node: int, k: Any) -> Any:
    """What the transaction saw of others' writes to ``k``: its first read, less its own appends before it
    (a read after them shows them at its end). None when it wrote the key before reading it otherwise."""
    own: list[Any] = []
    for fn, v in _mops(inf, node, k):
        if fn == "append":
            own.append(v)
        elif fn == "r":
            if not own:
                return v
            if isinstance(v, tuple) and list(v[len(v) - len(own):]) == own:
                return v[: len(v) - len(own)]
            return None
        else:
            return None
    return None


def _written(inf: Inference, node: int, k: Any) -> list[Any]:
    return [v for fn, v in _mops(inf, node, k) if fn != "r"]


def _window(order: Sequence[Any], lo: int, hi: int) -> str:
    """Elements ``lo .. hi`` of a list (clamped), with ellipses for what is left out."""
    lo, hi = max(lo, 0), min(hi, len(order) - 1)
    if hi < lo:
        return "[]"
    body = " ".join(show(x) for x in order[lo: hi + 1])
    return "[" + ("… " if lo > 0 else "") + body + (" …" if hi < len(order) - 1 else "") + "]"


def _read_text(read: Any) -> str:
    if isinstance(read, tuple) and len(read) > 8:
        return _window(read, len(read) - 4, len(read) - 1)
    return show(read)


def edge_sentence(inf: Inference, e: int) -> str:
    """Why edge ``e`` holds, ending with its kind in parentheses."""
    try:
        return _sentence(inf, e)
    except (ValueError, KeyError, IndexError, StopIteration):  # pragma: no cover - a safety net
        g = inf.graph  # an explanation must never cost the verdict: say at least what the edge is
        key = g.keys[g.key[e]] if g.key[e] >= 0 else None
        return (f"{inf.name(g.src[e])} -> {inf.name(g.dst[e])} on {key!r}, by the rule "
                f"{g.rule_of(e)} ({label(inf, e)})")


def _sentence(inf: Inference, e: int) -> str:
    g = inf.graph
    a, b, rule = g.src[e], g.dst[e], g.rule_of(e)
    an, bn = inf.name(a), inf.name(b)
    if rule == "process":
        return f"{an} then {bn}, in that order on process {inf.nodes[b].process} (process)"
    if rule == "realtime":
        return (f"{an} completed (event {inf.nodes[a].ret}) before {bn} was invoked (event {inf.nodes[b].call}) "
                "(rt)")
    k = g.keys[g.key[e]]
    if rule.startswith("append"):
        return _append_sentence(inf, rule, a, b, k)
    order = inf.versions[k]
    if rule == "register-read":
        return f"{an} wrote {k!r}={show(_first_read(inf, b, k))}; {bn} read it (wr)"
    v2 = _written(inf, b, k)[-1]
    if rule == "register-order":
        v1 = _written(inf, a, k)[-1]
        return (f"{an} wrote {k!r}={show(v1)}; {bn} wrote {k!r}={show(v2)}, a later version: "
                f"{order.why.get((v1, v2), '')} (ww)")
    v1 = _first_read(inf, a, k)
    reason = "every version follows the initial nil" if v1 is None else order.why.get((v1, v2), "")
    return (f"{an} read {k!r}={show(v1)}; {bn} wrote {k!r}={show(v2)}, a later version ({reason}) "
            f"(rw: {an} read a version before {bn}'s write)")


def _append_sentence(inf: Inference, rule: str, a: int, b: int, k: Any) -> str:
    an, bn = inf.name(a), inf.name(b)
    order = inf.orders[k]
    where = {x: i for i, x in enumerate(order)}
    mine, theirs = _written(inf, a, k), _written(inf, b, k)
    if rule == "append-order":
        first_b = min(where[x] for x in theirs if x in where)
        last_a = max(where[x] for x in mine if x in where and where[x] < first_b)
        after = "right after it" if first_b == last_a + 1 else "after it"
        return (f"{an} appended {show(order[last_a])} to {k!r}; {bn} appended {show(order[first_b])} {after} "
                f"(ww, from the read {_window(order, last_a - 1, first_b + 1)})")
    if rule == "append-unread":
        unread = next(x for x in theirs if x not in where)
        last_a = max(where[x] for x in mine if x in where)
        return (f"{bn} committed the append of {show(unread)} to {k!r}, which no read shows: every committed "
                f"append ends up in the final version, after all that any read shows, so after {an}'s "
                f"{show(order[last_a])} ({_window(order, len(order) - 2, len(order) - 1)}) (ww)")
    read = _first_read(inf, b if rule == "append-read" else a, k) or ()
    if rule == "append-read":
        last = max(i for i, x in enumerate(read) if x in mine)
        tail = "whose last element" if last == len(read) - 1 else "whose last committed element"
        return f"{bn} read {k!r}={_read_text(read)}, {tail} {show(read[last])} {an} appended (wr)"
    if rule == "append-next":
        nxt = min(where[x] for x in theirs if x in where and where[x] >= len(read))
        return (f"{an} read {k!r}={_read_text(read)}; {bn} appended {show(order[nxt])}, a later element "
                f"(rw: {an} read a version before {bn}'s write)")
    unread = next((x for x in theirs if x not in where), theirs[-1] if theirs else None)
    return (f"{an} read {k!r}={_read_text(read)}, all that any read shows; {bn}'s committed append "
            f"{show(unread)} is in no read, so it came later (rw: every committed append ends up in the "
            "final version)")


def cycle_anomaly(inf: Inference, name: str, edges: Sequence[int]) -> Anomaly:
    """The anomaly for a closed walk of edge ids (each edge's target is the next one's source)."""
    g = inf.graph
    walk = [g.src[e] for e in edges]
    seen: dict[int, None] = dict.fromkeys(walk)
    labels = [label(inf, e) for e in edges]
    order = " < ".join(inf.name(n) for n in [*walk, walk[0]])
    base = name.removesuffix("-process").removesuffix("-realtime")
    via = (", using the real-time order" if name.endswith("-realtime")
           else ", using the process order" if name.endswith("-process") else "")
    repeated = " (a closed walk: a transaction appears twice)" if len(seen) < len(walk) else ""
    steps = [inf.describe(n) for n in seen]
    steps += [edge_sentence(inf, e) for e in edges]
    steps.append(f"so {order}: a cycle{repeated} ({name}: {MEANING[base]}{via})")
    return Anomaly(
        name=name, explanation="\n".join(steps), events=tuple(inf.nodes[n].call for n in seen),
        graph={
            "title": name, "description": order,
            "nodes": [{"id": inf.name(n), "label": inf.name(n), "detail": inf.describe(n)} for n in seen],
            "edges": [{"from": inf.name(g.src[e]), "to": inf.name(g.dst[e]), "label": lab}
                      for e, lab in zip(edges, labels, strict=True)],
        },
    )
