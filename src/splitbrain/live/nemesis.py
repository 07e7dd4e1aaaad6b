"""`Nemesis`: a thread that injects faults into a running target on a randomized schedule drawn from a seed.

Like Jepsen's combined nemesis (``jepsen.nemesis.combined``), faults start at random times (gaps drawn
from ``interval``), last a random time (``duration``) and may overlap (at most ``concurrent`` at once);
each round applies every kind in ``kinds`` once, in a shuffled order, so short runs still see them all.
Every draw — when, which kind, which nodes, which shape — comes from one ``random.Random(seed)``, so a
seed fixes the sequence of faults (their real-time effects still depend on the machine). Kinds:

* ``pause``     — SIGSTOP the processes of one node, a minority, a majority, all, or the leader;
  healed by SIGCONT;
* ``kill``      — SIGKILL them likewise; healed by restarting each on its own data directory;
* ``partition`` — cut links through the fault proxies, in a shape drawn from
  :data:`~splitbrain.live.network.SHAPES`: one node isolated, random halves, a bridge, a majority
  ring, a one-way cut, or the leader isolated (``partition-<shape>`` forces one shape);
* ``latency``   — delay every link (50-500 ms, both ways on each connection);
* ``drop``      — blackhole a random subset of directed links (a lossy network, not a clean split);
* ``clock``     — bump a node's clock (wall and monotonic) by ±0.5-5 s, or strobe it between the true
  time and such an offset every 10-100 ms (through libfaketime; targets that support it only);
* ``member``    — remove a node from the cluster (its data deleted), and at the end of the fault add it
  back as a new member that catches up from the others (etcd's ``member remove`` / ``member add``).

Node faults never stack on one node (a paused node is not also killed). Network faults compose: the
links cut are the union of every partition and drop in effect, the delays their maximum. Every fault is
recorded in the history as ``nemesis`` events (``start-partition`` … ``stop-partition``, the same value
on both: the node, or a description of the shape) so that reports can shade the periods; a fault that
could not be applied is recorded as ``nemesis-error``. :meth:`Nemesis.stop` heals every fault still in
effect, newest first.
"""

from __future__ import annotations

import contextlib
import heapq
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from splitbrain.errors import UsageError
from splitbrain.histories.recorder import Recorder
from splitbrain.live import network
from splitbrain.live.network import Link
from splitbrain.live.target import FaultRefused, Target

__all__ = [
    "KINDS",
    "NODE_FAULTS",
    "Nemesis",
    "parse_kinds",
]


KINDS = ("pause", "kill", "partition", "latency", "drop", "clock", "member")
NODE_FAULTS = ("pause", "kill")
_EXCLUSIVE = ("pause", "kill", "member")  # never two of these on one node
_NETWORK = ("partition", "latency", "drop")


def parse_kinds(kinds: str | Sequence[str], supported: frozenset[str] | None = None) -> list[str]:
    """Fault kinds from ``"pause,kill"``, ``["pause", "kill"]``, ``"all"`` (every kind ``supported``)
    or ``"none"``; ``partition-<shape>`` names one partition shape. :class:`UsageError` for the rest."""
    items = [k.strip() for k in kinds.split(",")] if isinstance(kinds, str) else [str(k).strip() for k in kinds]
    items = [k for k in items if k and k.lower() != "none"]
    out: list[str] = []
    for item in items:
        if item.lower() == "all":
            out += [k for k in KINDS if supported is None or k in supported]
            continue
        base, _, shape = item.partition("-")
        if base not in KINDS or (shape and (base != "partition" or shape not in network.SHAPES)):
            shapes = ", ".join(f"partition-{s}" for s in network.SHAPES)
            raise UsageError(f"unknown fault {item} (known: {', '.join(KINDS)}, {shapes}, all, none)")
        out.append(item)
    return list(dict.fromkeys(out))


@dataclass(order=True)
class _Fault:
    ends: float
    serial: int
    kind: str = field(compare=False)
    value: str = field(compare=False)
    nodes: tuple[str, ...] = field(compare=False, default=())
    cut: frozenset[Link] = field(compare=False, default=frozenset())
    slow: dict[Link, float] = field(compare=False, default_factory=dict)
    stop_strobe: threading.Event | None = field(compare=False, default=None)
    refused: bool = field(compare=False, default=False)


class Nemesis:
    """Inject ``kinds`` of faults into ``target`` from a background thread, recording into ``recorder``."""

    def __init__(
        self,
        target: Target,
        kinds: str | Sequence[str],
        recorder: Recorder,
        *,
        seed: int = 0,
        interval: tuple[float, float] = (1.0, 2.0),
        duration: tuple[float, float] = (1.0, 2.0),
        concurrent: int = 2,
    ) -> None:
        parsed = parse_kinds(kinds, target.faults)
        unsupported = [k for k in parsed if k.partition("-")[0] not in target.faults]
        if unsupported:
            raise UsageError(
                f"target {target.name} does not support nemesis {', '.join(unsupported)} "
                f"(it supports: {', '.join(sorted(target.faults))})"
            )
        for name, (low, high) in (("interval", interval), ("duration", duration)):
            if not 0 < low <= high:
                raise UsageError(f"nemesis {name} must be 0 < low <= high seconds, not ({low}, {high})")
        if concurrent < 1:
            raise UsageError(f"at least one fault at a time, not {concurrent}")
        self.target = target
        self.kinds = parsed
        self.recorder = recorder
        self.rng = random.Random(seed)
        self.interval = interval
        self.duration = duration
        self.concurrent = concurrent
        self.applied = 0
        self.errors: list[str] = []
        self.refused: list[str] = []  # faults the system declined (see FaultRefused)
        #: (start, stop) monotonic seconds of every fault that ended, and of those still in effect
        self.periods: list[tuple[float, float | None, str]] = []
        self._active: list[_Fault] = []
        self._serial = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()

    @property
    def current(self) -> str | None:
        """The faults in effect, for progress lines (``None`` when quiet)."""
        with self._lock:
            return ", ".join(f"{f.kind} {f.value}" for f in self._active) or None

    def start(self) -> Nemesis:
        if self.kinds and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
            self._thread.start()
        return self

    def stop(self, *, heal: bool = True, timeout: float = 60.0) -> None:
        """Stop injecting and (with ``heal``) heal every fault in effect."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        if heal:
            with self._lock:
                for fault in sorted(self._active, key=lambda f: -f.serial):
                    self._heal(fault)
        else:
            with self._lock:
                for fault in self._active:
                    if fault.stop_strobe is not None:
                        fault.stop_strobe.set()

    # -- the schedule --------------------------------------------------------------------------------
    def _run(self) -> None:
        bag: list[str] = []
        next_start = time.monotonic() + self.rng.uniform(*self.interval)
        ends: list[_Fault] = []
        while True:
            due = min(next_start, ends[0].ends) if ends else next_start
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            if ends and ends[0].ends <= time.monotonic():
                fault = heapq.heappop(ends)
                with self._lock:
                    if fault in self._active:
                        self._heal(fault)
                continue
            next_start += self.rng.uniform(*self.interval)
            if len(self._active) >= self.concurrent:
                continue
            if not bag:  # every kind once per round, in a seeded order
                bag = self.rng.sample(self.kinds, len(self.kinds))
            kind = bag.pop()
            started = self._inject(kind, time.monotonic() + self.rng.uniform(*self.duration))
            if started is not None:
                heapq.heappush(ends, started)

    def _inject(self, kind: str, ends: float) -> _Fault | None:
        self._serial += 1
        base, _, shape = kind.partition("-")
        with self._lock:
            fault: _Fault | None
            try:
                fault = self._draw(base, shape, ends)
            except Exception as exc:
                self._error(f"start-{base}", exc)
                return None
            if fault is None:
                return None  # nothing to do now (every node already under a fault)
            self.recorder.nemesis(f"start-{base}", fault.value)
            self._active.append(fault)
            self.periods.append((time.monotonic(), None, f"{base} {fault.value}"))
            try:
                self._apply(fault)
                self.applied += 1
            except FaultRefused as exc:  # the system said no, and nothing changed
                self.refused.append(f"{base} {fault.value}: {exc}")
                self.recorder.nemesis("nemesis-refused", f"{base} {fault.value}: {exc}")
                fault.refused = True
            except Exception as exc:  # a fault that fails must not end the run
                self._error(f"start-{base} {fault.value}", exc)
            return fault

    def _draw(self, kind: str, shape: str, ends: float) -> _Fault | None:
        target, rng = self.target, self.rng
        fault = _Fault(ends, self._serial, kind, "")
        if kind in NODE_FAULTS:
            nodes = self._pick_nodes()
            if not nodes:
                return None
            fault.nodes, fault.value = tuple(nodes), " ".join(nodes)
        elif kind == "partition":
            fault.cut, fault.value = self._partition(shape or rng.choice(self._shapes()))
        elif kind == "latency":
            delay = round(rng.uniform(0.05, 0.5), 3)
            links = self._links()
            fault.slow, fault.value = {link: delay for link in links}, f"{delay * 1000:.0f} ms on every link"
        elif kind == "drop":
            fault.cut = network.random_links(self._links(), rng)
            fault.value = "lossy " + " ".join(f"{a}→{b}" for a, b in sorted(fault.cut))
        elif kind == "member":
            busy = {n for f in self._active if f.kind in _EXCLUSIVE for n in f.nodes}
            free = [n for n in target.nodes if n not in busy]
            if not free or any(f.kind == "member" for f in self._active):
                return None  # one membership change at a time, as etcd requires
            node = rng.choice(free)
            fault.nodes, fault.value = (node,), node
        elif kind == "clock":
            free = [n for n in target.nodes if not any(n in f.nodes for f in self._active if f.kind == "clock")]
            if not free:
                return None
            node = rng.choice(free)
            offset = round(rng.choice((-1, 1)) * rng.uniform(0.5, 5.0), 3)
            fault.nodes = (node,)
            if rng.random() < 0.5:
                fault.value = f"{node} bump {offset:+.3f} s"
            else:
                fault.value = f"{node} strobe {offset:+.3f} s"
                fault.stop_strobe = threading.Event()
        else:
            raise UsageError(f"unknown fault {kind}")
        return fault

    def _pick_nodes(self) -> list[str]:
        """One node, a minority, a majority, all of them, or the leader — among nodes with no node fault."""
        nodes = self.target.nodes
        busy = {n for f in self._active if f.kind in _EXCLUSIVE for n in f.nodes}
        free = [n for n in nodes if n not in busy]
        if not free:
            return []
        choice = self.rng.choice(("one", "one", "minority", "majority", "all", "leader"))
        if choice == "leader":
            leader = self.target.leader()
            if leader in free:
                return [leader]
            choice = "one"
        size = {"one": 1, "minority": max(1, (len(nodes) - 1) // 2), "majority": len(nodes) // 2 + 1,
                "all": len(nodes)}[choice]
        return sorted(self.rng.sample(free, min(size, len(free))))

    def _shapes(self) -> list[str]:
        nodes = self.target.network_nodes
        shapes = ["one", "halves", "oneway"]
        if len(nodes) >= 3:
            shapes += ["bridge", "ring"]
        if len(self.target.nodes) >= 3:
            shapes.append("leader")
        return shapes

    def _partition(self, shape: str) -> tuple[frozenset[Link], str]:
        nodes, rng = self.target.network_nodes, self.rng
        if shape == "leader":
            leader = self.target.leader()
            node = leader if leader in nodes else rng.choice(nodes)
            return network.isolate(nodes, node), f"leader {node} isolated" if leader else f"{node} isolated"
        if shape == "one":
            node = rng.choice(nodes)
            return network.isolate(nodes, node), node
        draw: dict[str, Callable[[Sequence[str], random.Random], tuple[frozenset[Link], str]]] = {
            "halves": network.halves, "bridge": network.bridge, "ring": network.majority_ring,
            "oneway": network.oneway,
        }
        return draw[shape](nodes, rng)

    def _links(self) -> list[Link]:
        nodes = self.target.network_nodes
        return [(a, b) for a in nodes for b in nodes if a != b]

    # -- applying and healing ------------------------------------------------------------------------
    def _apply(self, fault: _Fault) -> None:
        target = self.target
        if fault.kind == "pause":
            for node in fault.nodes:
                target.pause(node)
        elif fault.kind == "kill":
            for node in fault.nodes:
                target.kill(node)
        elif fault.kind in _NETWORK:
            self._set_network()
        elif fault.kind == "member":
            target.remove_member(fault.nodes[0])  # type: ignore[attr-defined]
        elif fault.kind == "clock":
            node = fault.nodes[0]
            offset = float(fault.value.split()[2])
            if fault.stop_strobe is None:
                target.set_clock(node, offset)
            else:
                strobe_rng = random.Random(self.rng.random())
                threading.Thread(target=self._strobe, args=(node, offset, fault.stop_strobe, strobe_rng),
                                 name="nemesis-strobe", daemon=True).start()

    def _strobe(self, node: str, offset: float, stop: threading.Event, rng: random.Random) -> None:
        period = rng.uniform(0.01, 0.1)
        shifted = False
        while not stop.wait(period):
            shifted = not shifted
            try:
                self.target.set_clock(node, offset if shifted else 0.0)
            except Exception as exc:
                self._error(f"strobe {node}", exc)
                return
        with contextlib.suppress(Exception):  # a flip racing the heal must not leave the clock shifted
            self.target.set_clock(node, 0.0)

    def _set_network(self) -> None:
        cut: set[Link] = set()
        slow: dict[Link, float] = {}
        for fault in self._active:
            cut |= fault.cut
            for link, delay in fault.slow.items():
                slow[link] = max(delay, slow.get(link, 0.0))
        self.target.set_network(cut, slow)

    def _heal(self, fault: _Fault) -> None:
        """Undo ``fault`` (called with the lock held) and record its end."""
        target = self.target
        self._active.remove(fault)
        try:
            if fault.kind == "pause":
                for node in fault.nodes:
                    target.resume(node)
            elif fault.kind == "kill":
                target.restart_all(list(fault.nodes))
            elif fault.kind in _NETWORK:
                self._set_network()
            elif fault.kind == "member" and not fault.refused:
                target.add_member(fault.nodes[0])  # type: ignore[attr-defined]
            elif fault.kind == "clock":
                if fault.stop_strobe is not None:
                    fault.stop_strobe.set()
                target.set_clock(fault.nodes[0], 0.0)
        except Exception as exc:
            self._error(f"stop-{fault.kind} {fault.value}", exc)
        self.recorder.nemesis(f"stop-{fault.kind}", fault.value)
        for i, (began, ended, what) in enumerate(self.periods):
            if ended is None and what == f"{fault.kind} {fault.value}":
                self.periods[i] = (began, time.monotonic(), what)
                break

    def _error(self, what: str, exc: Exception) -> None:
        message = f"{what}: {type(exc).__name__}: {exc}"
        self.errors.append(message)
        self.recorder.nemesis("nemesis-error", message)
