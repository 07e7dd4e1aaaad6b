"""The dependency graph of a transaction history, inferred as Elle does (Kingsbury & Alvaro, VLDB 2020).

:func:`build` reads every ``txn`` operation once, collecting per key what was read and written, then hands
each key to the inference for its data type — :mod:`~splitbrain.checker.elle_list_append` for keys that are
appended to, :mod:`~splitbrain.checker.elle_rw_register` for keys that are written — and adds the orders
the history itself records:

* ``process`` edges between consecutive transactions of one process (only where the history names
  processes: ops read without a ``:process`` each get a process of their own, so none link them);
* ``rt`` (real-time) edges, only where every transaction event carries a ``:time`` (a history assembled
  by hand claims no real-time order): T1 → T2 when T1 completed before T2 was invoked, in history
  order, transitively reduced with Elle's frontier of completed transactions.

Edges between transactions follow Adya (1999): ``ww`` (T2 installed the version after T1's), ``wr`` (T2
read T1's version) and ``rw`` (T1 read a version that T2's write replaced: an anti-dependency). Nodes are the
transactions that committed or may have (``ok`` and ``info``); a ``fail``\\ed transaction is only the source
of G1a. The graph is held compactly (a few parallel arrays, about 14 bytes an edge) so that a history of a
million transactions fits in memory; each edge keeps its key and the rule that found it, and its
explanation is written only when a reported cycle uses it (:mod:`~splitbrain.checker.elle_explain`).

Non-cycle anomalies found while reading (``internal``, ``future-read``, ``lost-update``, and those of the
key inferences) go to :class:`Findings`.
"""

from __future__ import annotations

from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from splitbrain.checker.anomaly import Anomaly
from splitbrain.checker.deadline import tick
from splitbrain.checker.txn_ops import Mop, describe, name, parse, show
from splitbrain.errors import InvalidHistory
from splitbrain.histories.history import History, Operation

__all__ = [
    "KINDS",
    "PROCESS",
    "RT",
    "RULE_KIND",
    "RW",
    "WR",
    "WW",
    "DepGraph",
    "Findings",
    "Inference",
    "KeyData",
    "Options",
    "build",
]

KINDS = ("ww", "wr", "rw", "process", "rt")
WW, WR, RW, PROCESS, RT = (1 << i for i in range(5))  # one bit per kind, for masks

#: the rule that found an edge -> its kind. Rules name the inference, so an explanation can say why.
RULE_KIND: dict[str, int] = {
    "append-order": WW,  # a read shows b's element right after a's
    "append-unread": WW,  # b's committed append is in no read, so it follows everything read
    "append-read": WR,  # b read a list whose last element a appended
    "append-next": RW,  # a read a list; b appended the next element
    "append-before-unread": RW,  # a read a list; b's committed append, in no read, comes later
    "register-order": WW,  # the version order (see elle_rw_register) puts b's version after a's
    "register-read": WR,  # b read a's version
    "register-next": RW,  # a read a version; b wrote the next one
    "process": PROCESS,
    "realtime": RT,
}
RULES = tuple(RULE_KIND)
_RULE_CODE = {rule: i for i, rule in enumerate(RULES)}
_RULE_BIT = bytes(RULE_KIND[rule] for rule in RULES)


class DepGraph:
    """Edges between nodes ``0 .. n-1`` in parallel arrays: source, target, kind bit, rule, key id.

    Several edges may join one pair (of different kinds, or for different keys). :meth:`out_edges` gives,
    for each node, the ids of its outgoing edges (built once, on first use, after every edge is added).
    """

    __slots__ = ("_key_ids", "_out", "bits", "dst", "key", "keys", "n", "rule", "src")

    def __init__(self, n: int) -> None:
        self.n = n
        self.src, self.dst, self.key = array("i"), array("i"), array("i")
        self.bits, self.rule = array("B"), array("B")
        self.keys: list[Any] = []
        self._key_ids: dict[Any, int] = {}
        self._out: tuple[array[int], array[int]] | None = None

    def __len__(self) -> int:
        return len(self.src)

    def key_id(self, key: Any) -> int:
        kid = self._key_ids.get(key)
        if kid is None:
            kid = self._key_ids[key] = len(self.keys)
            self.keys.append(key)
        return kid

    def add(self, a: int, b: int, rule: str, key_id: int = -1) -> None:
        """An edge ``a -> b`` found by ``rule`` (a self-edge is no dependency, and is dropped)."""
        if a == b:
            return
        code = _RULE_CODE[rule]
        self.src.append(a)
        self.dst.append(b)
        self.bits.append(_RULE_BIT[code])
        self.rule.append(code)
        self.key.append(key_id)

    def rule_of(self, e: int) -> str:
        return RULES[self.rule[e]]

    def out_edges(self) -> tuple[array[int], array[int]]:
        """``(start, edges)``: node ``u``'s outgoing edge ids are ``edges[start[u]:start[u + 1]]``."""
        if self._out is None:
            start = array("l", bytes(8 * (self.n + 1)))
            for s in self.src:
                start[s + 1] += 1
            for i in range(self.n):
                start[i + 1] += start[i]
            fill = array("l", start)
            edges = array("i", bytes(4 * len(self.src)))
            for e, s in enumerate(self.src):
                edges[fill[s]] = e
                fill[s] += 1
            self._out = (start, edges)
        return self._out


class Findings:
    """Non-cycle anomalies, at most ``cap`` kept of each name (all of them counted): a history with a
    million intermediate reads needs a count and a few explained examples, not a million explanations."""

    def __init__(self, cap: int = 100) -> None:
        self.cap = cap
        self.found: list[Anomaly] = []
        self.counts: Counter[str] = Counter()

    def add(self, anomaly: str, events: tuple[int, ...], explain: Callable[..., str], *args: Any) -> None:
        """Count one; keep it, explained by ``explain(*args)`` (called only then), if under the cap."""
        self.counts[anomaly] += 1
        if self.counts[anomaly] <= self.cap:
            self.found.append(Anomaly(name=anomaly, explanation=explain(*args), events=events))


@dataclass(frozen=True, kw_only=True)
class Options:
    """Assumptions about rw-register keys, each Elle's option of the same name (see elle_rw_register)."""

    wfr_keys: bool = True
    sequential_keys: bool = False
    linearizable_keys: bool = False


@dataclass
class KeyData:
    """What the reading pass collected for one key. Reads and writes are kept as parallel lists (a
    million transactions' worth of pairs would cost four times as much as tuples)."""

    read_nodes: list[int] = field(default_factory=list)  # external reads of ok txns: who...
    read_values: list[Any] = field(default_factory=list)  # ...and what they returned
    seen: list[tuple[int, Any]] = field(default_factory=list)  # (node, value) of a txn's later reads
    write_nodes: list[int] = field(default_factory=list)  # writes (appends) of ok and info txns: who...
    write_values: list[Any] = field(default_factory=list)  # ...and what
    inner: set[Any] = field(default_factory=set)  # values that are not their transaction's last write
    failed: dict[Any, Operation] = field(default_factory=dict)  # value -> the failed txn that wrote it
    rmw: list[tuple[int, Any, tuple[Any, ...]]] = field(default_factory=list)  # (node, read, own writes)
    appended: bool = False  # some txn appends to this key (a list key), else written (a register)
    assigned: bool = False
    #: (node, first version seen, last version left) of ok txns, for the sequential/linearizable options
    touches: list[tuple[int, Any, Any]] = field(default_factory=list)

    @property
    def reads(self) -> Iterator[tuple[int, Any]]:
        return zip(self.read_nodes, self.read_values, strict=True)

    def add_read(self, node: int, value: Any) -> None:
        self.read_nodes.append(node)
        self.read_values.append(value)


@dataclass
class Inference:
    """Everything inferred from one history: the graph over its transactions (``nodes[i]`` is node
    ``i``'s operation), the non-cycle findings, and per key what explanations need: a list key's order
    (its longest read) and a register key's version order."""

    history: History
    nodes: list[Operation]
    graph: DepGraph
    findings: Findings
    options: Options
    orders: dict[Any, tuple[Any, ...]] = field(default_factory=dict)
    versions: dict[Any, Any] = field(default_factory=dict)  # key -> elle_rw_register.VersionOrder
    notes: list[str] = field(default_factory=list)
    processes: bool = False
    times: bool = False

    def describe(self, node: int) -> str:
        return describe(self.nodes[node], self.history)

    def name(self, node: int) -> str:
        return name(self.nodes[node])


def build(history: History, options: Options | None = None, *, cap: int = 100) -> Inference:
    """Infer the dependency graph of ``history``'s ``txn`` operations. Raises
    :class:`~splitbrain.errors.InvalidHistory` for an operation that is not a well-formed transaction,
    and :class:`~splitbrain.checker.deadline.OutOfTime` when the check's deadline passes."""
    from splitbrain.checker import elle_list_append, elle_rw_register

    nodes: list[Operation] = []
    inf = Inference(history, nodes, DepGraph(0), Findings(cap), options or Options())
    keys: dict[Any, KeyData] = defaultdict(KeyData)
    for op in history.operations:
        tick()
        if op.f != "txn":
            line = history.line_of(op.call) if history.lines else None
            raise InvalidHistory(
                f"operation {op.f!r} by process {op.process} is not a transaction: the txn checker reads "
                "only 'txn' operations whose value is a list of micro-ops [f key value]",
                source=history.source, line=line,
            )
        mops = parse(op, history)
        if op.status == "fail":
            for fn, k, v in mops:
                if fn != "r":
                    keys[k].failed.setdefault(v, op)
                    _mark(keys[k], fn, k, op, history)
            continue
        _read_txn(inf, len(nodes), op, mops, keys)
        nodes.append(op)
    inf.graph = DepGraph(len(nodes))
    for k in list(keys):
        tick()
        data = keys.pop(k)  # freed as soon as its key is done
        if data.appended or (not data.assigned and any(isinstance(v, tuple) for v in data.read_values)):
            elle_list_append.infer(inf, k, data)  # appended to, or never written and read as a list
        else:
            elle_rw_register.infer(inf, k, data)
        _lost_updates(inf, k, data)
    _process_edges(inf)
    _realtime_edges(inf)
    return inf


def _mark(data: KeyData, fn: str, k: Any, op: Operation, history: History) -> None:
    if fn == "append":
        data.appended = True
    else:
        data.assigned = True
    if data.appended and data.assigned:
        line = history.line_of(op.call) if history.lines else None
        raise InvalidHistory(f"key {k!r} is both appended to and written (w): a key must be a list or a "
                             "register", source=history.source, line=line)


def _read_txn(inf: Inference, node: int, op: Operation, mops: list[Mop], keys: dict[Any, KeyData]) -> None:
    """Collect one committed (or maybe-committed) transaction, checking its reads against its own earlier
    micro-ops (``internal``) as it goes: after writing a key a transaction reads what it wrote; a key
    it already read reads the same again, plus its own appends."""
    known: dict[Any, Any] = {}  # key -> what the transaction must read next (fully known)
    suffix: dict[Any, tuple[Any, ...]] = {}  # list key -> own appends, nothing read before them
    first: dict[Any, Any] = {}  # key -> first version seen (external read), for the options
    wrote: dict[Any, list[Any]] = {}
    for fn, k, v in mops:
        data = keys[k]
        if fn == "r":
            if not op.ok:
                continue
            if k in known or k in suffix:
                if _internal(inf, node, op, k, v, known, suffix) and k in suffix and suffix[k]:
                    data.add_read(node, v[: len(v) - len(suffix[k])])  # what it saw before its appends
                if isinstance(v, tuple):
                    data.seen.append((node, v))
            else:
                data.add_read(node, v)
                first.setdefault(k, v)
            known[k] = v
            suffix.pop(k, None)
            continue
        _mark(data, fn, k, op, inf.history)
        wrote.setdefault(k, []).append(v)
        if fn == "w":
            known[k] = v
            suffix.pop(k, None)
        elif k in known:
            prev = known[k]
            known[k] = (*(prev if isinstance(prev, tuple) else ()), v)
        else:
            suffix[k] = (*suffix.get(k, ()), v)
    for k, vs in wrote.items():
        data = keys[k]
        last = len(vs) - 1
        data.write_nodes.extend([node] * len(vs))
        data.write_values.extend(vs)
        if last:
            data.inner.update(vs[:last])
        if k in first:
            data.rmw.append((node, first[k], tuple(vs)))
    if op.ok and (inf.options.sequential_keys or inf.options.linearizable_keys):
        for k in first.keys() | wrote.keys():
            if not keys[k].appended:
                entered = first[k] if k in first else wrote[k][-1]
                keys[k].touches.append((node, entered, known.get(k)))


def _internal(inf: Inference, node: int, op: Operation, k: Any, v: Any, known: dict[Any, Any],
              suffix: dict[Any, tuple[Any, ...]]) -> bool:
    """Whether a read the transaction's own micro-ops already settled agrees with them."""
    if k in known:
        expected = known[k]
        ok = v == expected or (isinstance(v, tuple | None) and isinstance(expected, tuple | None)
                               and (v or ()) == (expected or ()))
    else:
        tail = suffix[k]
        ok = isinstance(v, tuple) and v[len(v) - len(tail):] == tail
    if not ok:
        wanted = (f"{show(known[k])}, what it read or wrote there before" if k in known
                  else f"a list ending in its own appends {show(suffix[k])}")
        inf.findings.add("internal", (op.call,), lambda: (
            f"{describe(op, inf.history)}\n{name(op)} read {k!r}={show(v)}, but it should read {wanted}: "
            "a transaction's reads must agree with its own earlier reads and writes (internal)"))
    return ok


def _lost_updates(inf: Inference, k: Any, data: KeyData) -> None:
    """Two committed transactions read the same version of a key and both wrote it (Elle's lost update;
    Adya's G-cursor in its read-modify-write form)."""
    if len(data.rmw) > 1:
        groups: dict[Any, list[int]] = defaultdict(list)
        for node, read, _own in data.rmw:
            if inf.nodes[node].ok:
                groups[() if data.appended and read is None else read].append(node)
        for read, group in groups.items():
            if len(group) > 1:
                inf.findings.add("lost-update", tuple(inf.nodes[n].call for n in group), _lost_update, inf, k,
                                 read, group)


def _lost_update(inf: Inference, k: Any, read: Any, group: list[int]) -> str:
    return ("\n".join(inf.describe(n) for n in group) + f"\n{', '.join(inf.name(n) for n in group)} all read "
            f"{k!r}={show(read)} (the same version) and all wrote {k!r}: whichever committed first, the others "
            "overwrote its update without seeing it (lost-update)")


def _process_edges(inf: Inference) -> None:
    """Consecutive transactions of one process, in invoke order. An ``info`` transaction may take effect
    at any time after its invoke, so no process edge leaves it (its process is retired anyway)."""
    last: dict[Any, int] = {}
    linked = False
    for node, op in enumerate(inf.nodes):
        prev = last.get(op.process)
        if prev is not None and inf.nodes[prev].ok:
            inf.graph.add(prev, node, "process")
            linked = True
        last[op.process] = node
    inf.processes = linked


def _realtime_edges(inf: Inference) -> None:
    """T1 -> T2 when T1 completed (ok) before T2 was invoked, in history order; transitively reduced: each
    invoke links from the frontier of completed transactions that no later completion has superseded."""
    history, nodes = inf.history, inf.nodes
    ops = history.ops
    inf.times = bool(nodes) and all(ops[op.call].time is not None and (op.ret is None or ops[op.ret].time is not None)
                                    for op in nodes)
    if not inf.times:
        return
    at = array("l", [-1]) * len(ops)  # event index -> node (invoke) or -2 - node (ok completion)
    for node, op in enumerate(nodes):
        at[op.call] = node
        if op.ok and op.ret is not None:
            at[op.ret] = -2 - node
    frontier: set[int] = set()
    preds: dict[int, frozenset[int]] = {}
    for node in at:
        if node == -1:
            continue
        tick()
        if node >= 0:
            preds[node] = frozenset(frontier)
            for p in sorted(frontier):
                inf.graph.add(p, node, "realtime")
        else:
            node = -2 - node
            frontier -= preds.pop(node, frozenset())
            frontier.add(node)
