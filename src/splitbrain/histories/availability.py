"""Availability under faults: how many operations succeeded, and how fast, in each fault state.

Jepsen reports availability beside safety — what fraction of operations succeeded, and how latency
moved, while a partition was in force — because a system that stays correct by refusing everything
during a partition and one that answers everything but forgets writes sit on opposite sides of the CAP
trade-off. :func:`availability` measures it from a history alone, so the same analysis serves simulated
runs and histories recorded from real servers. Each client operation is classified by the fault state at
its invoke, read off the history's ``nemesis`` events:

* ``healthy`` — no fault has happened yet;
* ``partition-majority`` / ``partition-minority`` — a network partition is in force and the operation's
  node reaches a majority of the nodes, itself included, in both directions / does not;
* ``partition-unknown`` — a partition is in force but the history does not say which side the operation
  was on (no node recorded, or a fault whose shape its event does not spell out, such as a ring);
* ``crash`` — no partition, but some node is down (crashed, killed, powered off) or paused;
* ``after-heal`` — no fault in force, after at least one.

A ``fail`` or ``info`` counts in the state of its invoke. So does an ``ok`` whose state did not change
while it was in flight, and one whose fault began while it was in flight (its work was most likely done
before; only the answer came after). An ``ok`` invoked during a fault that healed before it completed
was served after the heal, and counts as ``after-heal``: a minority that only answers once the partition
is gone was not available during it. When a partition changed shape while an ``ok`` was in flight, it
counts on its node's side if the side was the same before and after, else as ``partition-unknown``:
which side served it, the history cannot say.

The operation's node is the one that *finally* handled it: its completion's ``node``, else its
invoke's. In the simulator a client's link is never cut, and a ``redirect`` sends the client on to
another node — across a partition, if that is where the leader is. A Jepsen client bound to its node
could not follow, so crediting the redirected operation to the side it was first sent to would count
the majority's work as the minority's availability.

For each state: the counts of ``ok``, ``fail`` and ``info`` (availability is the ``ok`` fraction) and a
histogram of the latency of the ``ok`` operations (:class:`Latency`: median, 95th percentile, maximum,
to within 1/64 of the value). A :class:`Series` bins operations by invoke time, relative to the
history's first event, with the fraction of each bin a partition or a crash was in force — what a plot
of availability over time needs to shade the fault periods. Everything adds up: :meth:`Availability.merge`
combines the analyses of many schedules (a campaign's shards, pickled between processes), and
:meth:`Availability.to_json` gives plain data.

Only partitions and node faults define states. Clock faults, added latency and lossy links are not
states of their own: operations under them count in whichever state the partitions and node faults give.
Events a node records itself (a process named after its node, such as the simulator's ``final-read``)
are not client operations and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from splitbrain.histories.history import History
from splitbrain.histories.op import NEMESIS, Op

__all__ = [
    "MAX_BINS",
    "STATES",
    "Availability",
    "Latency",
    "Series",
    "StateStats",
    "availability",
    "merged",
]


STATES: tuple[str, ...] = (
    "healthy", "partition-majority", "partition-minority", "partition-unknown", "crash", "after-heal",
)

#: bins a time series keeps at most: a longer history makes the bins wider (doubling), never more numerous
MAX_BINS = 100
#: times at least this large are taken for nanoseconds (a real clock), smaller ones for simulated ticks
_NS_FROM = 100_000_000

# nemesis events: the network faults of the simulator replace each other (its network has one set of
# cuts); those of real-server nemeses (start-partition … stop-partition) compose
_REPLACING = frozenset({"partition", "oneway", "bridge", "isolate", "start"})
_COMPOSING = frozenset({"start-partition"})
_NETWORK_END = frozenset({"heal", "stop"})
_DOWN = frozenset({"crash", "power-loss", "pause", "kill", "start-kill", "start-pause"})
_UP = frozenset({"restart", "resume", "stop-kill", "stop-pause"})


# -- latency histogram ----------------------------------------------------------------------------------
_EXACT_BITS = 6  # values below 2**6 are kept exactly; larger ones to their top 6 bits (within 1/64)


def _bucket(value: int) -> int:
    if value < (1 << _EXACT_BITS):
        return value
    shift = value.bit_length() - _EXACT_BITS
    return (value >> shift) << shift


def _middle(bucket: int) -> int:
    """The value a bucket stands for: its lower bound when exact, else the middle of its range."""
    if bucket < (1 << _EXACT_BITS):
        return bucket
    shift = bucket.bit_length() - _EXACT_BITS
    return bucket + ((1 << shift) - 1) // 2


@dataclass
class Latency:
    """A histogram of non-negative integer latencies that merges by adding counts (HDR-style buckets:
    exact below 64, then the top six significant bits), with the exact count, sum and maximum."""

    counts: dict[int, int] = field(default_factory=dict)
    n: int = 0
    total: int = 0
    max: int | None = None

    def add(self, value: int) -> None:
        value = max(0, int(value))
        bucket = _bucket(value)
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        self.n += 1
        self.total += value
        self.max = value if self.max is None else max(self.max, value)

    def merge(self, other: Latency) -> None:
        for bucket, count in other.counts.items():
            self.counts[bucket] = self.counts.get(bucket, 0) + count
        self.n += other.n
        self.total += other.total
        if other.max is not None:
            self.max = other.max if self.max is None else max(self.max, other.max)

    def quantile(self, q: float) -> int | None:
        """The ``q``-quantile (0 < q <= 1): the smallest recorded value with at least ``q`` of them at or
        below it, to the histogram's precision; ``None`` when empty."""
        if not self.n:
            return None
        rank = max(1, -(-int(q * 1_000_000) * self.n // 1_000_000))  # ceil(q * n) without float error
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                value = _middle(bucket)
                return value if self.max is None else min(value, self.max)
        return self.max

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    def to_json(self) -> dict[str, Any]:
        return {"count": self.n, "median": self.quantile(0.5), "p95": self.quantile(0.95), "max": self.max,
                "mean": None if self.mean is None else round(self.mean, 3)}


@dataclass
class StateStats:
    """The operations invoked in one fault state: how each ended, and the latency of the ``ok`` ones."""

    ok: int = 0
    fail: int = 0
    info: int = 0
    latency: Latency = field(default_factory=Latency)

    @property
    def total(self) -> int:
        return self.ok + self.fail + self.info

    @property
    def availability(self) -> float | None:
        """The fraction of operations that completed ``ok`` (``None`` when there were none)."""
        return self.ok / self.total if self.total else None

    def merge(self, other: StateStats) -> None:
        self.ok += other.ok
        self.fail += other.fail
        self.info += other.info
        self.latency.merge(other.latency)

    def to_json(self) -> dict[str, Any]:
        a = self.availability
        return {"ops": self.total, "ok": self.ok, "fail": self.fail, "info": self.info,
                "availability": None if a is None else round(a, 4), "latency": self.latency.to_json()}


# -- time series ----------------------------------------------------------------------------------------
# one bin: operations invoked in it and how they ended, the ok latencies' sum and count, and the time of
# the bin that histories covered, that a partition was in force, and that a node was down
_OPS, _OK, _FAIL, _INFO, _LAT_SUM, _LAT_N, _COVERED, _PARTITION, _CRASH = range(9)
_FIELDS = 9


@dataclass
class Series:
    """Operations and fault periods binned by time since each history's first event.

    ``width`` (ticks or nanoseconds per bin) is a power of two, so that two series always merge: the
    finer one is coarsened to the wider width. Times covered, partitioned and crashed are summed over
    histories, so a bin's ``partition`` fraction says how much of the time the histories spent there
    a partition was in force.
    """

    width: int = 1
    bins: dict[int, list[float]] = field(default_factory=dict)

    def _bin(self, index: int) -> list[float]:
        b = self.bins.get(index)
        if b is None:
            b = self.bins[index] = [0.0] * _FIELDS
        return b

    def widen(self, width: int) -> None:
        """Coarsen to ``width`` (a power-of-two multiple of the current width)."""
        if width <= self.width:
            return
        factor = width // self.width
        merged: dict[int, list[float]] = {}
        for index, values in self.bins.items():
            target = merged.setdefault(index // factor, [0.0] * _FIELDS)
            for i, v in enumerate(values):
                target[i] += v
        self.width, self.bins = width, merged

    def fit(self, span: int) -> None:
        """Widen until ``span`` time units fit in :data:`MAX_BINS` bins."""
        width = self.width
        while span // width + 1 > MAX_BINS:
            width *= 2
        self.widen(width)

    def add_op(self, t: int, status: str, latency: int | None) -> None:
        b = self._bin(t // self.width)
        b[_OPS] += 1
        b[{"ok": _OK, "fail": _FAIL}.get(status, _INFO)] += 1
        if latency is not None:
            b[_LAT_SUM] += latency
            b[_LAT_N] += 1

    def add_period(self, start: int, end: int, slot: int) -> None:
        """Add the time of ``[start, end)`` to field ``slot`` of the bins it overlaps."""
        w = self.width
        for index in range(start // w, (max(end, start + 1) - 1) // w + 1):
            lo, hi = max(start, index * w), min(end, (index + 1) * w)
            if hi > lo:
                self._bin(index)[slot] += hi - lo

    def merge(self, other: Series) -> None:
        other_bins, other_width = other.bins, other.width
        if other_width > self.width:
            self.widen(other_width)
        factor = self.width // other_width
        for index, values in other_bins.items():
            target = self._bin(index // factor)
            for i, v in enumerate(values):
                target[i] += v

    def to_json(self) -> dict[str, Any]:
        out = []
        last = max(self.bins, default=-1)
        for index in range(last + 1):
            b = self.bins.get(index) or [0.0] * _FIELDS
            covered = b[_COVERED]
            ops = int(b[_OPS])
            out.append({
                "t0": index * self.width, "t1": (index + 1) * self.width,
                "ops": ops, "ok": int(b[_OK]), "fail": int(b[_FAIL]), "info": int(b[_INFO]),
                "availability": round(b[_OK] / ops, 4) if ops else None,
                "latency": round(b[_LAT_SUM] / b[_LAT_N], 3) if b[_LAT_N] else None,
                "partition": round(b[_PARTITION] / covered, 4) if covered else 0.0,
                "crash": round(b[_CRASH] / covered, 4) if covered else 0.0,
                "histories": round(covered / self.width, 3),
            })
        return {"width": self.width, "bins": out}


# -- the analysis ---------------------------------------------------------------------------------------
@dataclass
class Availability:
    """Availability and latency per fault state, and over time, of one history or many merged.

    Build one with :func:`availability`, combine with :meth:`merge` (or ``+=``); plain data throughout,
    so it pickles between processes. ``unit`` is what times count: ``"tick"`` (simulated), ``"ns"``
    (a real clock), ``"event"`` (positions, for a history without times), ``"mixed"`` after merging
    histories of different kinds, or ``None`` before any history.
    """

    histories: int = 0
    unit: str | None = None
    states: dict[str, StateStats] = field(default_factory=lambda: {s: StateStats() for s in STATES})
    series: Series = field(default_factory=Series)

    def merge(self, other: Availability) -> None:
        self.histories += other.histories
        if other.unit is not None:
            self.unit = other.unit if self.unit in (None, other.unit) else "mixed"
        for state, stats in other.states.items():
            self.states.setdefault(state, StateStats()).merge(stats)
        self.series.merge(other.series)

    def __iadd__(self, other: Availability) -> Availability:
        self.merge(other)
        return self

    def state(self, name: str) -> StateStats:
        return self.states.get(name) or StateStats()

    @property
    def operations(self) -> int:
        return sum(s.total for s in self.states.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "histories": self.histories, "unit": self.unit, "operations": self.operations,
            "states": {name: self.states[name].to_json() for name in STATES if name in self.states},
            "series": self.series.to_json(),
        }

    def lines(self) -> list[str]:
        """One line per fault state that saw operations: the ok fraction, how the rest ended, latency."""
        width = max(len(s) for s in STATES)
        out = []
        for name in STATES:
            s = self.states.get(name)
            if s is None or not s.total:
                continue
            lat = s.latency
            timing = (f"; ok latency p50 {_time(lat.quantile(0.5), self.unit)}, p95 "
                      f"{_time(lat.quantile(0.95), self.unit)}, max {_time(lat.max, self.unit)}" if lat.n else "")
            out.append(f"{name:<{width}} {_percent(s.ok, s.total)} ok of {s.total:,} ops (fail "
                       f"{_percent(s.fail, s.total)}, info {_percent(s.info, s.total)}){timing}")
        return out


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f}%" if whole else "    -"


def _time(value: int | None, unit: str | None) -> str:
    if value is None:
        return "-"
    if unit == "ns":
        return f"{value / 1e6:.3g} ms"
    return f"{value:,}" + (" ticks" if unit == "tick" else "")


# -- reading the fault state from nemesis events --------------------------------------------------------
Groups = tuple[frozenset[str], ...]


def _as_names(value: Any) -> list[str]:
    """Node names from a node fault's value: ``"n1"``, ``"n1 n2"`` (real-server nemeses) or a list."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list | tuple):
        return [str(v) for v in value if isinstance(v, str)]
    return []


def _groups(f: str, value: Any, universe: frozenset[str]) -> Groups | None:
    """The groups of nodes that reach each other both ways under one network fault, or ``None`` when
    its event does not say (the side of an operation is then unknown)."""
    if isinstance(value, list | tuple) and value and all(isinstance(g, list | tuple) for g in value):
        sets = [frozenset(str(n) for n in g) for g in value]
        if f == "bridge" and len(sets) == 3:  # left, bridge, right: the bridge reaches both sides
            left, middle, right = sets
            return (left | middle, middle | right)
        return tuple(sets)  # a partition's groups; a one-way cut's sources and targets
    if not isinstance(value, str):
        return None
    text = value.strip()
    alone = re.fullmatch(r"(?:leader )?(\S+) (?:isolated|cannot send|cannot hear)", text)
    if alone or text in universe:
        node = alone.group(1) if alone else text
        return (frozenset({node}), universe - {node})
    if "|" in text:
        parts = [p.split() for p in text.split("|")]
        bridge = [p[1:] for p in parts if p[:1] == ["bridge"]]
        sides = [frozenset(p) for p in parts if p[:1] != ["bridge"]]
        if bridge and len(sides) == 2:
            middle = frozenset(bridge[0])
            return (sides[0] | middle, middle | sides[1])
        return tuple(sides)
    return None


def _universe(ops: Sequence[Op], nodes: Iterable[str] | None) -> frozenset[str]:
    """Every node: the ones given, else those the history names (operations' nodes, fault groups)."""
    if nodes is not None:
        return frozenset(nodes)
    seen: set[str] = set()
    for op in ops:
        if op.process == NEMESIS:
            value = op.value
            if isinstance(value, list | tuple):
                for item in value:
                    seen.update(_as_names(item))
            elif op.f in _DOWN or op.f in _UP:
                seen.update(_as_names(value))
        elif isinstance(op.node, str):
            seen.add(op.node)
    return frozenset(seen)


@dataclass(frozen=True)
class _Snapshot:
    """The fault state at an invoke: the network faults in force, whether a node is down, whether any
    fault has happened."""

    network: tuple[Groups | None, ...]
    down: bool
    faulted: bool
    #: counts the fault events so far: a different epoch at the completion means the state changed
    epoch: int = 0


def _classify(state: _Snapshot, node: str | None, universe: frozenset[str]) -> str:
    if state.network:
        if node is None or any(g is None for g in state.network):
            return "partition-unknown"
        reach: set[str] | None = None
        for groups in state.network:
            assert groups is not None
            mine = set().union(*(g for g in groups if node in g)) if any(node in g for g in groups) else None
            if mine is None:
                return "partition-unknown"
            reach = mine if reach is None else reach & mine
        assert reach is not None
        total = len(universe | {node})
        return "partition-majority" if 2 * len(reach) > total else "partition-minority"
    if state.down:
        return "crash"
    return "after-heal" if state.faulted else "healthy"


def availability(
    history: History | Sequence[Op], *, nodes: Iterable[str] | None = None, unit: str | None = None,
) -> Availability:
    """The availability analysis of one history (a :class:`History` or its ops in order).

    ``nodes`` lists every node, for deciding majorities when the history does not name them all;
    ``unit`` says what times count (``"tick"`` or ``"ns"``; guessed from their size by default). A
    history that is not well formed (a completion without its invoke) is read as far as it makes sense:
    this is a measurement, not a check.
    """
    ops: Sequence[Op] = history.ops if isinstance(history, History) else history
    universe = _universe(ops, nodes)
    timed = bool(ops) and all(op.time is not None for op in ops)
    times = [op.time for op in ops if op.time is not None] if timed else []
    origin = min(times) if times else 0
    end = max(times) if times else len(ops)
    result = Availability(histories=1)
    result.unit = unit or ("event" if not timed else "ns" if end >= _NS_FROM else "tick")
    series = result.series
    series.fit(end - origin)
    series.add_period(origin - origin, end - origin + 1, _COVERED)

    network: dict[Any, Groups | None] = {}  # fault key -> groups (composing faults key by their value)
    down: set[str] = set()
    faulted = False
    periods: dict[int, int | None] = {_PARTITION: None, _CRASH: None}  # slot -> start of the open period
    open_calls: dict[Any, tuple[Op, int, _Snapshot]] = {}
    snapshot = _Snapshot((), False, False)
    epoch = 0

    def at(position: int, op: Op) -> int:
        return (op.time if timed and op.time is not None else position) - origin

    def record(invoke: Op, t: int, state: _Snapshot, done: Op | None, now: _Snapshot | None = None) -> None:
        status = done.type if done is not None else "info"
        node = (done.node if done is not None and done.node is not None else invoke.node)
        where = _classify(state, node, universe)
        if status == "ok" and now is not None and now.epoch != state.epoch and (state.network or state.down):
            later = _classify(now, node, universe)
            if not (now.network or now.down):
                where = later  # the fault healed while it waited: served after the heal
            elif later != where:
                where = "partition-unknown" if (state.network or now.network) else where
        stats = result.states[where]
        latency = None
        if status == "ok":
            stats.ok += 1
            if done is not None and done.time is not None and invoke.time is not None:
                latency = max(0, done.time - invoke.time)
                stats.latency.add(latency)
        elif status == "fail":
            stats.fail += 1
        else:
            stats.info += 1
        series.add_op(t, status, latency)

    for position, op in enumerate(ops):
        if op.process == NEMESIS:
            f = str(op.f)
            if f in _REPLACING:
                network = {None: _groups(f, op.value, universe)}
            elif f in _COMPOSING:
                network[repr(op.value)] = _groups(f, op.value, universe)
            elif f == "stop-partition":
                network.pop(repr(op.value), None)
            elif f in _NETWORK_END:
                network = {}
            elif f in _DOWN:
                down.update(_as_names(op.value))
            elif f in _UP:
                down.difference_update(_as_names(op.value))
            else:
                continue  # not a fault that defines a state (clock, latency, lossy links, errors)
            faulted = faulted or bool(network) or bool(down)
            t = at(position, op)
            for slot, active in ((_PARTITION, bool(network)), (_CRASH, bool(down))):
                start = periods[slot]
                if active and start is None:
                    periods[slot] = t
                elif not active and start is not None:
                    series.add_period(start, t, slot)
                    periods[slot] = None
            epoch += 1
            snapshot = _Snapshot(tuple(network.values()), bool(down), faulted, epoch)
            continue
        if isinstance(op.process, str) and op.process == op.node:
            continue  # a node's own event (a final read, a broadcast layer's send), not a client's call
        if op.type == "invoke":
            open_calls[op.process] = (op, at(position, op), snapshot)
            continue
        call = open_calls.pop(op.process, None)
        if call is not None:
            record(call[0], call[1], call[2], op, snapshot)
    for invoke, t, state in open_calls.values():
        record(invoke, t, state, None)
    for slot, start in periods.items():
        if start is not None:
            series.add_period(start, end - origin + 1, slot)
    return result


def merged(analyses: Iterable[Availability]) -> Availability:
    """The merge of several analyses (a new object; the inputs are left alone)."""
    out = Availability()
    for a in analyses:
        out.merge(a)
    return out

