"""Causal consistency from vector clocks: causal delivery, stale reads, session guarantees, convergence.

Happens-before is Lamport's (1978) relation, read off the vector clocks stamped on events (Fidge and
Mattern): event a happened before event b iff ``vc(a) <= vc(b)`` entry-wise and a is not b. An
*operation* a happened before operation b iff a's completion clock is ``<=`` b's invoke clock (a was
acknowledged, and the ack reached b's session, before b began).

The history may contain (each op with ``key``/``value`` and, for clock checks, ``vclock``):

* ``write`` / ``w`` — writes ``value`` to ``key``. Written values are assumed unique per key.
* ``read`` / ``r`` — its ``ok`` value is the version read, ``nil`` for the initial one, or a list/set of
  concurrent versions (siblings) when the store keeps them.
* ``final-read`` — a read of ``key`` at one node (``node``) after the run, when replicas should agree.
* ``send`` / ``deliver`` (or ``receive``) — a broadcast layer: ``value`` is the message id, ``node`` (or
  the process) the node that sent or delivered it.

Every check is a small function returning :class:`Anomaly` records; :func:`check_causal` runs them all.
Session guarantees follow Terry et al. (1994); names used in reports:

* ``read-your-writes`` — a read must reflect every earlier write of its own session on that key;
* ``monotonic-reads`` — a read must reflect every version an earlier read of the session returned;
* ``monotonic-writes`` — a session's later write must supersede its earlier one: a replica that ends with
  the earlier version after the later was acknowledged applied them out of order;
* ``writes-follow-reads`` — a write must supersede every version its session read before it; likewise
  observed in final reads;
* ``causal-read`` — a read misses a write that happened before it (by the clocks);
* ``stale-final-read`` — a final read holds a version older than an acknowledged write;
* ``lost-update`` — with siblings, an acknowledged write neither in any final read nor superseded;
* ``non-convergence`` — final reads of a key at different nodes differ;
* ``causal-delivery`` — a node delivered m2 though the send of m1 happened before the send of m2 and m1
  was not delivered there first;
* ``clock-cycle``, ``clock-regression``, ``receive-before-send`` — clocks contradicting the message flow.

"Reflects b" means: returns b, or a version known to be newer (ordered after b by the clocks, by the
writer's session, or because its writer read b first). A single-valued read may return a version
concurrent with b (a conflict resolution such as last-writer-wins); a multi-valued read must cover b.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from itertools import pairwise
from typing import Any

import networkx as nx  # type: ignore[import-untyped]

from splitbrain.checker.anomaly import Anomaly, AnomalyResult
from splitbrain.checker.deadline import OutOfTime, tick, within
from splitbrain.checker.result import Verdict
from splitbrain.errors import InvalidHistory
from splitbrain.histories.history import History, Operation

__all__ = [
    "DELIVER",
    "FINAL",
    "MAX_PER_NAME",
    "READ",
    "SEND",
    "WRITE",
    "Clock",
    "before",
    "check_causal",
    "check_clocks",
    "check_convergence",
    "check_delivery",
    "check_lost_updates",
    "check_reads",
    "check_unwritten",
    "happens_before_graph",
    "values",
]


WRITE = frozenset({"write", "w"})
READ = frozenset({"read", "r"})
FINAL = frozenset({"final-read"})
SEND = frozenset({"send"})
DELIVER = frozenset({"deliver", "receive"})
_KNOWN = WRITE | READ | FINAL | SEND | DELIVER
MAX_PER_NAME = 20  # anomalies reported per name (the verdict never depends on it)

Clock = dict[str, int]


def _leq(a: Clock, b: Clock) -> bool:
    return all(v <= b.get(k, 0) for k, v in a.items())


def _start(op: Operation) -> Clock | None:
    return op.invoke.vclock


def _end(op: Operation) -> Clock | None:
    if op.completion is not None and op.completion.vclock is not None:
        return op.completion.vclock
    return op.invoke.vclock


def before(a: Operation, b: Operation) -> bool:
    """Operation ``a`` happened before ``b``: a's completion clock <= b's invoke clock."""
    tick()  # every pairwise loop of the checks passes here: the time budget is looked at
    ea, sb = _end(a), _start(b)
    return a is not b and ea is not None and sb is not None and _leq(ea, sb)


def _events(op: Operation) -> tuple[int, ...]:
    return (op.call,) if op.ret is None else (op.call, op.ret)


def _show(v: Any) -> str:
    return "nil" if v is None else repr(v)


def _who(op: Operation) -> str:
    node = f" at {op.invoke.node}" if op.invoke.node else ""
    return f"p{op.process} {op.f}{node} (event {op.call})"


class _Versions:
    """Writers of each (key, value), and the orders between versions that the history proves."""

    def __init__(self, ops: list[Operation]) -> None:
        self.writer: dict[tuple[Any, Any], Operation] = {}
        self.read_before: dict[int, set[tuple[Any, Any]]] = {}  # write id -> versions its session read
        seen: dict[Any, set[tuple[Any, Any]]] = defaultdict(set)
        self.versions: dict[Any, list[Any]] = defaultdict(list)  # key -> its written values, in order
        self._newer: dict[tuple[Any, Any], set[Any]] = {}  # (key, a) -> every version proven newer than a
        # keys whose versions cannot be told apart: a value written twice, or another mutation (cas…)
        self.ambiguous: set[Any] = {op.key for op in ops if op.f not in _KNOWN}
        for op in ops:
            if op.f in WRITE and op.status in ("ok", "info"):
                if (op.key, op.input) in self.writer:
                    self.ambiguous.add(op.key)
                if (op.key, op.input) not in self.writer:
                    self.versions[op.key].append(op.input)
                self.writer.setdefault((op.key, op.input), op)
                self.read_before[op.id] = set(seen[op.process])
            elif op.f in READ and op.ok:
                seen[op.process].update((op.key, v) for v in values(op)[0] if v is not None)

    def older(self, key: Any, a: Any, b: Any) -> str | None:
        """Why version ``a`` of ``key`` is known to be older than ``b`` (None if it is not): directly
        (``initial``, ``session``, ``read``, ``causal``) or through a chain of such steps (``chain``: a
        before x before ... before b — the version order is transitive, and a read that skipped the
        middle of a chain is as stale as one that skipped its first link)."""
        tick()
        if a == b or b is None:
            return None
        if a is None:
            return "initial"
        why = self._direct(key, a, b)
        if why is not None:
            return why
        return "chain" if b in self._newer_than(key, a) else None

    def _direct(self, key: Any, a: Any, b: Any) -> str | None:
        wa, wb = self.writer.get((key, a)), self.writer.get((key, b))
        if wa is None or wb is None:
            return None
        if wa.process == wb.process and wa.call < wb.call:
            return "session"
        if (key, a) in self.read_before.get(wb.id, ()):
            return "read"
        return "causal" if before(wa, wb) else None

    def _newer_than(self, key: Any, a: Any) -> set[Any]:
        """Every version of ``key`` reachable from ``a`` by direct steps (a breadth-first search, kept)."""
        found = self._newer.get((key, a))
        if found is None:
            found = set()
            frontier = [a]
            while frontier:
                x = frontier.pop()
                for v in self.versions.get(key, ()):
                    if v != a and v not in found and self._direct(key, x, v) is not None:
                        found.add(v)
                        frontier.append(v)
            self._newer[(key, a)] = found
        return found

    def misses(self, key: Any, got: tuple[Any, ...], multi: bool, b: Any) -> bool:
        """A read that returned ``got`` does not reflect version ``b``."""
        if multi:
            return not any(s == b or self.older(key, b, s) for s in got)
        return all(s != b and self.older(key, s, b) is not None for s in got)


def values(op: Operation) -> tuple[tuple[Any, ...], bool]:
    """The versions a read returned and whether it returned siblings (a list or set)."""
    out = op.output
    if isinstance(out, tuple | frozenset | list):
        return tuple(out), True
    return (out,), False


def _stale(name: str, r: Operation, got: tuple[Any, ...], w: Operation, why: str) -> Anomaly:
    text = (
        f"{_who(w)} wrote {w.key!r}={_show(w.input)}\n"
        f"{why}\n"
        f"{_who(r)} read {r.key!r}={' '.join(_show(v) for v in got)} — a version older than "
        f"{_show(w.input)}, so the read does not reflect that write"
    )
    return Anomaly(name=name, explanation=text, events=tuple(sorted({*_events(w), *_events(r)})))


def check_reads(ops: list[Operation], versions: _Versions) -> Iterator[Anomaly]:
    """Session guarantees (RYW, MR), causal reads, and final reads (MW, WFR, stale), one per read."""
    writes: dict[Any, list[Operation]] = defaultdict(list)
    for op in ops:
        if op.f in WRITE and op.ok:
            writes[op.key].append(op)
    own_write: dict[tuple[Any, Any], Operation] = {}
    last_read: dict[tuple[Any, Any], Operation] = {}
    for r in ops:
        if r.f in WRITE and r.ok:
            own_write[(r.process, r.key)] = r
        if not r.ok or r.f not in READ | FINAL or r.key in versions.ambiguous:
            continue
        k = r.key
        got, multi = values(r)
        found = _read_anomaly(r, got, multi, versions, writes[k], own_write, last_read)
        if found is not None:
            yield found
        if r.f in READ:
            last_read[(r.process, k)] = r


def _read_anomaly(
    r: Operation, got: tuple[Any, ...], multi: bool, versions: _Versions, writes: list[Operation],
    own_write: dict[tuple[Any, Any], Operation], last_read: dict[tuple[Any, Any], Operation],
) -> Anomaly | None:
    k = r.key
    if r.f in READ:
        w = own_write.get((r.process, k))
        if w is not None and versions.misses(k, got, multi, w.input):
            return _stale("read-your-writes", r, got, w, "the same session later read the key:")
        prev = last_read.get((r.process, k))
        if prev is not None:
            for b in values(prev)[0]:
                if b is not None and (k, b) in versions.writer and versions.misses(k, got, multi, b):
                    w = versions.writer[(k, b)]
                    return _stale("monotonic-reads", r, got, w, f"{_who(prev)} (same session) read {_show(b)}")
        for w in writes:
            if w.process != r.process and before(w, r) and versions.misses(k, got, multi, w.input):
                return _stale("causal-read", r, got, w, "its acknowledgement happened before the read (clocks)")
        return None
    for w in writes:  # a final read: every acknowledged write, or a newer version, must be there
        if versions.misses(k, got, multi, w.input) and not multi:
            why = {
                "session": ("monotonic-writes", "the same session wrote it later than the version read"),
                "read": ("writes-follow-reads", "its session had read the version now read before writing"),
            }
            reasons = {versions.older(k, s, w.input) for s in got}
            name, text = next(
                (why[x] for x in ("session", "read") if x in reasons),
                ("stale-final-read", "it was acknowledged before the final read"),
            )
            return _stale(name, r, got, w, text)
    return None


def check_unwritten(ops: list[Operation], versions: _Versions) -> Iterator[Anomaly]:
    """Reads of a value that no write (acknowledged or indeterminate) ever wrote."""
    for r in ops:
        if r.ok and r.f in READ | FINAL and r.key not in versions.ambiguous:
            for v in values(r)[0]:
                if v is not None and (r.key, v) not in versions.writer:
                    yield Anomaly(
                        name="unwritten-read", events=_events(r),
                        explanation=f"{_who(r)} read {r.key!r}={_show(v)}, which no write wrote",
                    )


def check_lost_updates(ops: list[Operation], versions: _Versions) -> Iterator[Anomaly]:
    """With siblings: an acknowledged write missing from every final read and superseded by none."""
    finals: dict[Any, list[Operation]] = defaultdict(list)
    multi_keys = set()
    for op in ops:
        if op.ok and op.f in FINAL:
            finals[op.key].append(op)
        if op.ok and op.f in READ | FINAL and values(op)[1]:
            multi_keys.add(op.key)
    for w in ops:
        k = w.key
        if not (w.ok and w.f in WRITE and k in multi_keys and finals.get(k)) or k in versions.ambiguous:
            continue
        if any(w.input in values(f)[0] for f in finals[k]):
            continue
        if any(versions.older(k, w.input, v) for (key, v) in versions.writer if key == k):
            continue
        shown = "; ".join(f"{_who(f)} read {' '.join(_show(v) for v in values(f)[0])}" for f in finals[k])
        yield Anomaly(
            name="lost-update",
            explanation=f"{_who(w)} wrote {k!r}={_show(w.input)} and was acknowledged\n"
            f"no later write superseded it, yet no final read holds it: {shown}",
            events=tuple(sorted({*_events(w), *(e for f in finals[k] for e in _events(f))})),
        )


def check_convergence(ops: list[Operation]) -> Iterator[Anomaly]:
    """Final reads of one key that differ between nodes."""
    finals: dict[Any, list[Operation]] = defaultdict(list)
    for op in ops:
        if op.ok and op.f in FINAL:
            finals[op.key].append(op)
    for k, reads in finals.items():
        if len({frozenset(values(r)[0]) for r in reads}) > 1:
            lines = [f"{_who(r)} read {' '.join(_show(v) for v in values(r)[0])}" for r in reads]
            yield Anomaly(
                name="non-convergence", events=tuple(r.call for r in reads),
                explanation=f"the replicas of {k!r} disagree after the run:\n" + "\n".join(lines),
            )


def _node(op: Operation) -> Any:
    return op.invoke.node if op.invoke.node is not None else op.process


def check_delivery(ops: list[Operation]) -> Iterator[Anomaly]:
    """Causal delivery: send(m1) -> send(m2) means every node delivering m2 delivered m1 first."""
    sends = {op.input: op for op in ops if op.f in SEND and op.status != "fail"}
    order: dict[Any, dict[Any, Operation]] = defaultdict(dict)  # node -> message -> deliver
    for op in ops:
        if op.f in DELIVER and op.status == "ok":
            order[_node(op)].setdefault(op.input, op)
    preds = {m: [m1 for m1, s1 in sends.items() if before(s1, s)] for m, s in sends.items()}
    for node, delivered in order.items():
        for m2, d2 in delivered.items():
            for m1 in preds.get(m2, ()):
                d1 = delivered.get(m1)
                if d1 is None or d1.call > d2.call:
                    late = "never" if d1 is None else f"only later, at event {d1.call}"
                    yield Anomaly(
                        name="causal-delivery",
                        explanation=f"{_who(sends[m1])} sent {m1!r}; that send happened before\n"
                        f"{_who(sends[m2])} sent {m2!r}\n"
                        f"{node} delivered {m2!r} at event {d2.call} but {m1!r} {late}",
                        events=tuple(sorted(
                            {sends[m1].call, sends[m2].call, d2.call, *(() if d1 is None else (d1.call,))}
                        )),
                    )


def happens_before_graph(history: History) -> nx.DiGraph:
    """The events' order as the history records it: process order and send -> deliver edges.

    Nodes are the indices of events that carry a clock; edges are labelled ``process`` or ``message``.
    With proper clocks its transitive closure agrees with the clocks' happens-before; an edge ``clock``
    is added, reversed, where the clocks order the ends the other way (or call two events equal), so a
    cycle in the graph is a contradiction between the clocks and the flow.
    """
    g: nx.DiGraph = nx.DiGraph()
    stamped = [op for op in history.ops if op.vclock is not None and not op.is_nemesis]
    last: dict[Any, int] = {}
    for op in stamped:
        g.add_node(op.index, vclock=op.vclock, text=f"p{op.process} {op.type} {op.f} {_show(op.value)}")
        if op.process in last:
            g.add_edge(last[op.process], op.index, label="process")
        last[op.process] = op.index
    ops = history.operations
    sends = {o.input: o for o in ops if o.f in SEND and o.invoke.vclock is not None}
    for o in ops:
        if o.f in DELIVER and o.input in sends and o.invoke.vclock is not None:
            d = o.ret if o.ret is not None and o.completion and o.completion.vclock else o.call
            g.add_edge(sends[o.input].call, d, label="message")
    owner = {e: o.id for o in ops for e in _events(o)}  # an invoke and its completion may share a clock
    by_clock: dict[frozenset[tuple[str, int]], dict[int, int]] = defaultdict(dict)
    for op in stamped:
        by_clock[frozenset(op.vclock.items())].setdefault(owner.get(op.index, -op.index), op.index)  # type: ignore[union-attr]
    for same in by_clock.values():
        firsts = list(same.values())
        for a, b in pairwise(firsts):
            g.add_edge(a, b, label="clock")
            g.add_edge(b, a, label="clock")
    for a, b, label in list(g.edges(data="label")):
        va, vb = g.nodes[a]["vclock"], g.nodes[b]["vclock"]
        if label != "clock" and _leq(vb, va) and not (owner.get(a) == owner.get(b) and va == vb):
            g.add_edge(b, a, label="clock")
    return g


def check_clocks(graph: nx.DiGraph) -> Iterator[Anomaly]:
    """Clocks that contradict the flow: cycles, a process's clock not increasing, receive <= send."""
    def text(i: int) -> str:
        return f"event {i}: {graph.nodes[i]['text']} {graph.nodes[i]['vclock']}"

    for scc in nx.strongly_connected_components(graph):
        if len(scc) > 1:
            cycle = nx.find_cycle(graph.subgraph(scc))
            steps = [f"{text(a)}\n  -> ({graph.edges[a, b]['label']})" for a, b in cycle]
            labels = {graph.edges[e]["label"] for e in cycle}
            name = "clock-cycle"
            if len(cycle) == 2 and labels == {"clock", "process"}:
                name = "clock-regression"  # a process's own event does not have a larger clock
            elif len(cycle) == 2 and labels == {"clock", "message"}:
                name = "receive-before-send"
            yield Anomaly(
                name=name, events=tuple(sorted(scc)),
                explanation="each event is ordered before the next, back to the first:\n"
                + "\n".join(steps) + f"\n{text(cycle[0][0])}",
                graph=_graph("clock cycle", graph, cycle),
            )
    for a, b, label in graph.edges(data="label"):
        va, vb = graph.nodes[a]["vclock"], graph.nodes[b]["vclock"]
        if label == "clock" or _leq(va, vb) or _leq(vb, va):
            continue  # consistent, or already part of a cycle above
        name = "clock-regression" if label == "process" else "receive-before-send"
        yield Anomaly(
            name=name, events=(a, b),
            explanation=f"{text(a)}\ncomes before (by {label})\n{text(b)}\nbut the clocks call them concurrent",
        )


def _graph(title: str, graph: nx.DiGraph, cycle: Iterable[tuple[int, int]]) -> dict[str, Any]:
    edges = list(cycle)
    nodes = [a for a, _ in edges]
    return {
        "title": title,
        "nodes": [{"id": str(n), "label": graph.nodes[n]["text"], "detail": str(graph.nodes[n]["vclock"])}
                  for n in nodes],
        "edges": [{"from": str(a), "to": str(b), "label": graph.edges[a, b]["label"]} for a, b in edges],
    }


def check_causal(
    history: History, *, timeout: float | None = None, mutations: Iterable[str] = ("cas",),
    ignore: Iterable[str] = (),
) -> AnomalyResult:
    """Run every causality check on ``history``; invalid when any anomaly is found, ``"unknown"`` when the
    ``timeout`` (seconds) runs out first.

    Operations are the functions the module docstring lists, plus ``mutations``: other functions that
    change a key (``cas``), whose keys' reads then cannot be matched to a write (so are not checked), and
    ``ignore``: functions to leave out, said explicitly (a client's ``broadcast`` whose effects the
    history records as ``send``/``deliver``). Any other function is an error naming its line: a function
    the checker silently ignored could hide exactly the write a read missed.
    """
    started = time.perf_counter()
    skip = frozenset(ignore)
    allowed = _KNOWN | frozenset(mutations) | skip
    for op in history.operations:
        if op.f not in allowed:
            line = history.line_of(op.call) if history.lines else None
            raise InvalidHistory(
                f"operation {op.f!r} by process {op.process} is not one the causal checker reads (it reads "
                f"{', '.join(sorted(_KNOWN))}, and treats {', '.join(sorted(mutations)) or 'none'} as other "
                "mutations)", source=history.source, line=line,
            )
    ops = [op for op in history.operations if op.status != "fail" and op.f not in skip]
    try:
        with within(timeout):
            versions = _Versions(ops)
            graph = happens_before_graph(history)
            found: list[Anomaly] = [
                *check_clocks(graph), *check_delivery(ops), *check_unwritten(ops, versions),
                *check_reads(ops, versions), *check_lost_updates(ops, versions), *check_convergence(ops),
            ]
    except OutOfTime:
        return AnomalyResult(
            valid="unknown", checker="causal", operations=len(history.operations), consistency="causal",
            reason=f"the time budget of {timeout:g} s ran out", seconds=time.perf_counter() - started,
            source=history.source,
        )
    counts: dict[str, int] = defaultdict(int)
    kept = []
    for a in found:
        counts[a.name] += 1
        if counts[a.name] <= MAX_PER_NAME:
            kept.append(a)
    skipped = sorted(
        {op.key for op in ops if op.f in READ | FINAL and op.ok and op.key in versions.ambiguous}, key=repr
    )
    valid: Verdict = not found
    reason = None
    if skipped:
        reason = (
            f"reads of {', '.join(repr(k) for k in skipped)} not checked: a value was written twice or "
            "the key has other mutations (e.g. cas), so a read cannot name its write; use unique values"
        )
        valid = False if found else "unknown"
    return AnomalyResult(
        valid=valid, checker="causal", reason=reason, operations=len(ops), anomalies=tuple(kept),
        consistency="causal", seconds=time.perf_counter() - started, source=history.source,
        stats=dict(counts),
    )
