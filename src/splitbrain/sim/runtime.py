"""`WorldBase`: the state of a simulated world and the runtime its nodes call into.

The world is split by concern: this module holds the state (nodes, disks, clocks, vector clocks,
timers, network, client slots, recorder) with the primitives every step uses — drawing a choice,
sending a message, booting a node — and implements :class:`~splitbrain.sim.node.Runtime`;
:mod:`~splitbrain.sim.sessions` runs the clients, :mod:`~splitbrain.sim.nemesis` the faults,
:mod:`~splitbrain.sim.aiming` the aimed faults and :mod:`~splitbrain.sim.world` the event loop.

Speed: the world keeps derived state up to date instead of recomputing it every step — the nodes that
can receive (:attr:`_receptive`), the nodes each node fault may hit, the timers in canonical order, the
key strings of every timer, client and node fault — so that listing the enabled events is a pass over
the messages in flight and little else.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Any, cast

from splitbrain.errors import UsageError
from splitbrain.histories import freeze
from splitbrain.sim.aims import Aim
from splitbrain.sim.audit import Auditor, code_modules
from splitbrain.sim.client import ClientSlot, Recorder, Reply, ReplyKind
from splitbrain.sim.clock import Clock
from splitbrain.sim.disk import Disk
from splitbrain.sim.faults import DEFAULT_WEIGHTS, FAULT_KINDS, FaultConfig
from splitbrain.sim.network import Message, Network
from splitbrain.sim.node import Node, Rand, Request
from splitbrain.sim.scheduler import ChoiceSource, Phase, RandomSource
from splitbrain.sim.trace import TRACE_VERSION, Step
from splitbrain.sim.vclock import VectorClock
from splitbrain.sim.workload import Workload

__all__ = [
    "Delivery",
    "Violation",
    "WorldBase",
]

_ABSENT: Any = object()
_new = object.__new__
_NEVER = 1 << 62  # later than any deadline

#: the node faults, in the canonical order the world lists them (``power-loss`` came last)
NODE_FAULTS = ("crash", "restart", "pause", "resume", "skew", "power-loss")


@dataclass(frozen=True)
class Delivery:
    """A delivered message with the sender's clock stamp and the receiver's clock after receiving it."""

    msg: str
    src: str
    dst: str
    sent: VectorClock
    received: VectorClock


@dataclass(frozen=True)
class Violation:
    """The first invariant that failed: its name, what it said, and the step after which it failed."""

    name: str
    message: str
    step: int


_WEIGHTS: dict[tuple[Any, ...], tuple[dict[str, int], list[str]]] = {}


def _weights(faults: FaultConfig) -> tuple[dict[str, int], list[str]]:
    """Every kind's weight, and the kinds that are on (a weight, and allowed if a fault): worked out once
    per set of kinds and weights, a copy for each world."""
    key = (faults.kinds, tuple(faults.weights.items()))
    found = _WEIGHTS.get(key)
    if found is None:
        w = {kind: faults.weight(kind) for kind in DEFAULT_WEIGHTS}
        on = [k for k in DEFAULT_WEIGHTS if w[k] and (k not in FAULT_KINDS or faults.allows(k))]
        if len(_WEIGHTS) > 256:
            _WEIGHTS.clear()
        found = _WEIGHTS[key] = (w, on)
    return dict(found[0]), found[1][:]


class WorldBase:
    """State and primitives shared by the parts of :class:`~splitbrain.sim.World`."""

    def __init__(
        self,
        workload: Workload,
        variant: str = "correct",
        *,
        seed: int | None = None,
        source: ChoiceSource | None = None,
        faults: FaultConfig | Any = None,
        max_steps: int | None = None,
        max_quiesce_steps: int = 20_000,
        aims: Any = None,
        audit: bool = True,
    ) -> None:
        if seed is not None and source is not None:
            raise UsageError("pass either seed or source to World, not both")
        self.workload = workload
        self.variant = variant
        self._cls = workload.node_class(variant)
        self.source: ChoiceSource = source if source is not None else RandomSource(seed or 0)
        #: the trace a replay follows (``None`` for a run that draws its own choices)
        self._followed: Any = getattr(self.source, "trace", None) if self.source.follows_trace else None
        #: the trace format (and crash semantics) this run follows: a replay of an older trace keeps its
        #: version's meaning, and records its own trace in that version
        self.trace_version: int = getattr(self._followed, "version", TRACE_VERSION)
        #: version 2 on: messages in flight to a node that goes down wait for its next incarnation
        self._crash_holds = self.trace_version >= 2
        self.faults = FaultConfig.coerce(workload.faults if faults is None else faults)
        self.max_steps = workload.max_steps if max_steps is None else max_steps
        self.max_quiesce_steps = max_quiesce_steps
        self.node_ids: tuple[str, ...] = workload.node_ids
        self.time = 0
        self.phase: Phase = "start"
        self.network = Network()
        self._nodes: dict[str, Node | None] = dict.fromkeys(self.node_ids)
        self._disks = {n: Disk(cast(Any, workload.disk)) for n in self.node_ids}
        self._clocks = {n: Clock() for n in self.node_ids}
        self._paused = dict.fromkeys(self.node_ids, False)
        # timers: (node, name) -> deadline; the due ones sorted (canonical order) with their "node:name",
        # and the others in a heap of (deadline, key) — an entry whose timer moved or went is stale
        self._timers: dict[tuple[str, str], int] = {}
        self._timers_due: list[tuple[str, str]] = []
        self._timers_due_ids: list[str] = []
        self._timer_heap: list[tuple[int, tuple[str, str]]] = []
        self._timer_ids: dict[tuple[str, str], str] = {}  # (node, name) -> "node:name"
        #: the heap's stale entries, as Network.stale counts the network's (an entry dropped as stale that
        #: had come back to life, the same timer set again for the same deadline, leaves the count too
        #: high: only ever a check too many)
        self._timer_stale = 0
        # what World.enabled lists of the due timers (those of receptive nodes), kept until the due timers
        # or the nodes that are up change: (changes of the due list, epoch) it was made at, and the list
        self._due_changes = 0
        self._due_listed: tuple[int, int, list[str]] = (-1, -1, [])
        self._ready_listed: tuple[int, int, list[str]] = (-1, -1, [])  # the same for the due messages
        self._next_process = workload.clients
        self._busy = 0  # client slots waiting for an answer
        self._next_request = 1
        seed_note = f" seed {self.source.seed}" if self.source.seed is not None else ""
        self.recorder = Recorder(f"{workload.name}/{variant}{seed_note}")
        self.steps: list[Step] = []
        #: msg, src, dst, the sender's counts, the receiver's counts, then the next delivery's (a flat list:
        #: see World._do_deliver)
        self._delivery_log: list[Any] = []
        self._deliveries: list[Delivery] = []
        self.violation: Violation | None = None
        self.faults_used = 0
        self._w, on = _weights(self.faults)
        minority = (len(self.node_ids) - 1) // 2
        self._max_down = minority if self.faults.max_down is None else self.faults.max_down
        #: a choice recorded in the step's ``draws`` (message delays, ``Node.randint``)
        self._draw: Callable[[int, int], int] = self._random_draw(recorded=True) or self._draw_recorded
        self._rand = Rand(self._random_draw(recorded=False) or self._draw_param)
        if type(self).draw is WorldBase.draw:  # Node.randint calls _draw itself, not draw, which calls it
            self.draw = self._draw  # type: ignore[method-assign,assignment]
        self._delay = workload.delay
        self._reorder = self.faults.allows("reorder")
        self.network.track = self._reorder  # FIFO links are read head by head (World.enabled)
        self._message_faults = [(f"{k}:", self._w[k]) for k in ("drop", "duplicate", "delay") if k in on]
        self._message_runs = [(prefix, self.network.node_messages, w) for prefix, w in self._message_faults]
        self._message_weight = sum(w for _, w in self._message_faults)
        fewest = {"partition": 2, "oneway": 2, "bridge": 3}  # nodes a partition of each shape needs
        self._global_faults = [(k, self._w[k]) for k in fewest if k in on and len(self.node_ids) >= fewest[k]]
        self._node_faults = [(k, f"{k}:", self._w[k]) for k in NODE_FAULTS if k in on]
        #: some fault can be drawn now or later; when not, faults are listed only while links are cut or
        #: nodes are down or paused (by World.step or an aim), for their heal, restart or resume
        self._faulty = bool(self._message_faults or self._global_faults or any(
            k in ("crash", "pause", "skew", "power-loss") for k, _, _ in self._node_faults
        ))
        self._later: int | None = None
        self._rec: dict[str, Any] = {}
        self._draws: list[int] = []
        self._sent: list[Message] = []
        self._sent_ids: list[str] = []  # their ids: the step's ``sent`` (a new list for each step that sends)
        self._lost: list[str] = []
        self._delivered: Message | None = None  # the last message delivered, at step _delivered_at
        self._delivered_at = -1
        self._stirred = False  # the current step ran node code, or changed which nodes are up
        self._epoch = 0  # counts changes of which nodes are up or paused
        self._fault_cache: tuple[Any, ...] | None = None  # ((epoch, faults used, cuts), *NemesisSteps._list_faults())
        # clients: a slot per client, each with its own Client object
        self.clients = [ClientSlot(i, process=i) for i in range(workload.clients)]
        self._slots = {slot.name: slot for slot in self.clients}
        for slot in self.clients:
            slot.client = self._new_client(slot)
        self._vclocks = {name: VectorClock._of({}) for name in (*self.node_ids, *self._slots)}
        # what World.enabled lists, built once: each client's runs, advance, and the weights it reads
        self._client_runs = [
            (s, (f"timeout:{s.index}", ("",), self._w["timeout"]), (f"invoke:{s.index}", ("",), self._w["invoke"]))
            for s in self.clients
        ]
        #: per slot: (when, the run it then enables, idle?) — its timeout while it waits, else its next
        #: invocation; World.enabled reads it, the client steps keep it (ClientSteps._slot_changed)
        self._client_times = [(0, invoke, True) for _, _, invoke in self._client_runs]
        #: the earliest time in it, and the earliest of a waiting slot (what the quiesce phase looks at)
        self._client_soonest = 0 if self.clients else _NEVER
        self._client_soonest_busy = _NEVER
        self._advance_run = ("advance", ("",), self._w["advance"])
        self._stall_run = ("advance", ("",), self._w["stall"])
        self._w_advance, self._w_stall = self._w["advance"], self._w["stall"]
        self._w_deliver, self._w_timer = self._w["deliver"], self._w["timer"]
        self._refresh_nodes()
        # aimed faults (splitbrain.sim.aiming) and the determinism auditor (splitbrain.sim.audit)
        self.aims: list[Aim] = list(workload.aims if aims is None else aims)
        self._aim_setup()
        classes = (self._cls, workload.client_class, type(workload))
        self._auditor: Auditor | None = Auditor(code_modules(*classes)) if audit else None

    def _aim_setup(self) -> None:  # defined by AimSteps
        raise NotImplementedError

    def _new_client(self, slot: ClientSlot) -> Any:
        cls = self.workload.client_class
        client = cls.__new__(cls)
        client.name, client.index, client.nodes = slot.name, slot.index, self.node_ids
        client.workload, client.process, client._rand = self.workload, slot.process, Rand(self._draw)
        client.__init__()  # type: ignore[misc]
        return client

    def _watching(self) -> AbstractContextManager[None]:
        """Audit this thread while the world runs code (see :mod:`splitbrain.sim.audit`)."""
        return self._auditor.watching() if self._auditor is not None else nullcontext()

    # -- derived state, kept up to date -------------------------------------------------------------
    def _refresh_nodes(self) -> None:
        """Recompute what depends on which nodes are up and paused (after a crash, restart, pause...)."""
        self._epoch += 1
        nodes, paused = self._nodes, self._paused
        up = [n for n in self.node_ids if nodes[n] is not None and not paused[n]]
        self._alive = [node for node in nodes.values() if node is not None]
        self._up = up
        self._all_up = len(up) == len(self.node_ids)
        self._fault_check = self._faulty or not self._all_up  # World.enabled lists faults
        self._receptive = frozenset((*up, *self._slots))
        down = [n for n in self.node_ids if nodes[n] is None]
        self._targets = {
            "crash": up, "restart": down, "pause": up, "resume": [n for n in self.node_ids if paused[n]],
            "skew": up, "power-loss": up,
        }

    def _timer_id(self, key: tuple[str, str]) -> str:
        found = self._timer_ids.get(key)
        if found is None:
            found = self._timer_ids[key] = f"{key[0]}:{key[1]}"
        return found

    # -- primitives used by every kind of step -------------------------------------------------------
    def _receptive_now(self, name: str) -> bool:
        return name in self._receptive

    def _draw_recorded(self, lo: int, hi: int) -> int:
        """A choice recorded in the step's ``draws`` (message delays, ``Node.randint``): what
        :attr:`_draw` is, unless :meth:`_random_draw` stands in for it."""
        if hi <= lo:
            return lo
        value = self.source.draw(lo, hi)
        self._draws.append(value)
        return value

    def _random_draw(self, *, recorded: bool) -> Callable[[int, int], int] | None:
        """For a plain :class:`RandomSource`, :meth:`_draw_recorded` (``recorded``: message delays,
        ``Node.randint``) or :meth:`_draw_param` (an operation and its node: three draws an invocation):
        the same numbers from the same ``getrandbits`` calls as ``RandomSource.draw``, without two calls a
        draw; ``None`` for any other source (a subclass or a patched ``draw`` may do otherwise)."""
        source = self.source
        if type(source) is not RandomSource or "draw" in vars(source):
            return None
        bits = source._bits
        world = self

        def draw(lo: int, hi: int) -> int:
            if hi <= lo:
                return lo
            n = hi - lo + 1  # RandomSource.draw: lo + _randbelow(n)
            k = n.bit_length()
            r = bits(k)
            while r >= n:
                r = bits(k)
            r += lo
            if recorded:
                world._draws.append(r)
            return r

        return draw

    def _draw_param(self, lo: int, hi: int) -> int:
        """A choice whose result the step records as a field (an operation, groups, a skew)."""
        return lo if hi <= lo else self.source.draw(lo, hi)

    def _call(self, node_id: str, method: str, *args: Any) -> None:
        node = self._nodes[node_id]
        self._stirred = True  # node code runs: state-only invariants must look again
        try:
            getattr(node, method)(*args)
        except Exception as exc:
            self._blame(exc, node, method)
            raise

    def _blame(self, exc: Exception, node: Node | None, method: str) -> None:
        exc.add_note(
            f"raised by {node!r}.{method} at step {len(self.steps)} (t={self.time}) of {self.recorder.source}"
        )

    def _incarnate(self, node_id: str) -> None:
        """A new incarnation of the node (its ``on_start`` comes after :meth:`_refresh_nodes`)."""
        self._stirred = True
        self._nodes[node_id] = self._cls._create(node_id, self.node_ids, self._disks[node_id].cache, self)

    def _boot(self, node_id: str) -> None:
        self._incarnate(node_id)
        self._refresh_nodes()
        self._call(node_id, "on_start")

    def _send(self, src: str, dst: str, payload: Any, *, client: bool) -> Message:
        vc = self._vclocks[src] = self._vclocks[src].tick(src)
        lo, hi = self._delay
        delay = lo if hi <= lo else self._draw(lo, hi)
        reachable = dst in self._slots or self._nodes[dst] is not None
        msg, in_flight = self.network.post(src, dst, payload, self.time, delay, vc, client, reachable)
        self._sent.append(msg)
        self._sent_ids.append(msg.id)
        if not in_flight:
            self._lost.append(msg.id)
            if client and not reachable and isinstance(payload, Request):
                self._connection_error(payload, dst, "fail", "connection refused")
        return msg

    def _connection_error(self, req: Request, node: str, kind: ReplyKind, error: str) -> None:
        """The client's network stack reports an error from ``node``; the node itself did nothing."""
        msg, _ = self.network.send(
            node, req.client, Reply(req.id, kind, error, node), now=self.time,
            delay=self._draw(*self._delay), vclock=VectorClock(), client=True,
        )
        self._sent.append(msg)
        self._sent_ids.append(msg.id)

    # -- the runtime the nodes call (splitbrain.sim.node.Runtime) --------------------------------------
    def _live(self, node: Node) -> bool:
        """Calls from an incarnation that has crashed are ignored: it can do nothing any more."""
        return self._nodes.get(node.id) is node

    def send(self, node: Node, dst: str, msg: Any) -> None:
        # _send, unrolled for the commonest call of all: a live node sending to another node
        src = node.id
        nodes = self._nodes
        if nodes.get(src) is not node:
            return
        target = nodes.get(dst, _ABSENT)
        if target is _ABSENT:
            raise UsageError(f"{src} sends to unknown node {dst!r} (nodes: {', '.join(self.node_ids)})")
        vclocks = self._vclocks
        counts = vclocks[src]._counts.copy()  # VectorClock.tick, inline
        if src in counts:
            counts[src] += 1
            vc = vclocks[src] = _new(VectorClock)
            vc._counts = counts
        else:
            counts[src] = 1
            vc = vclocks[src] = VectorClock._sorted(counts)  # its first event: the names are put in order
        lo, hi = self._delay
        message, in_flight = self.network.post(
            src, dst, msg, self.time, lo if hi <= lo else self._draw(lo, hi), vc, False, target is not None,
        )
        self._sent.append(message)
        self._sent_ids.append(message.id)
        if not in_flight:
            self._lost.append(message.id)

    def set_timer(self, node: Node, delay: int, name: str) -> None:
        if self._nodes.get(node.id) is node:
            if delay < 0:
                raise UsageError(f"{node.id}: timer {name!r} delay must be >= 0, got {delay}")
            clock = self._clocks[node.id]  # a clock without drift counts virtual ticks: to_virtual is the identity
            deadline = self.time + (clock.to_virtual(delay) if clock.drift_ppm else delay)
            # _timer_set, inline for the common case: a timer set anew for later
            key = (node.id, name)
            old = self._timers.get(key)
            if old is None and deadline > self.time:
                self._timers[key] = deadline
                heappush(self._timer_heap, (deadline, key))
            else:
                self._timer_set(key, deadline)

    def cancel_timer(self, node: Node, name: str) -> None:
        if self._live(node) and (node.id, name) in self._timers:
            self._timer_drop((node.id, name))

    # -- timers, kept sorted by when they are due (World.enabled reads them) ------------------------------
    def _timer_set(self, key: tuple[str, str], deadline: int) -> None:
        old = self._timers.get(key)
        if old == deadline:
            return
        if old is not None:
            if old <= self.time:
                self._timer_undue(key)
            else:
                self._timer_stale += 1  # its heap entry
        self._timers[key] = deadline
        if deadline <= self.time:
            self._timer_due(key)
        else:
            heappush(self._timer_heap, (deadline, key))

    def _timer_drop(self, key: tuple[str, str]) -> None:
        """The timer fired, was cancelled, or its node went down."""
        if self._timers.pop(key) <= self.time:
            self._timer_undue(key)
        else:
            self._timer_stale += 1  # its heap entry

    def _timer_due(self, key: tuple[str, str]) -> None:
        due = self._timers_due
        i = bisect_left(due, key)
        if i == len(due) or due[i] != key:
            due.insert(i, key)
            self._timers_due_ids.insert(i, self._timer_ids.get(key) or self._timer_id(key))
            self._due_changes += 1

    def _timer_undue(self, key: tuple[str, str]) -> None:
        due = self._timers_due
        i = bisect_left(due, key)
        if i < len(due) and due[i] == key:
            del due[i]
            del self._timers_due_ids[i]
            self._due_changes += 1

    def _next_timer(self) -> int | None:
        """The earliest deadline of a timer not yet due, if any."""
        heap, timers = self._timer_heap, self._timers
        while heap:
            deadline, key = heap[0]
            if timers.get(key) == deadline:
                return deadline
            heappop(heap)
            self._timer_stale -= 1
        return None

    def respond(self, node: Node, request: Request, kind: str, value: Any) -> None:
        src = node.id
        if self._nodes.get(src) is not node:  # _live, inline
            return
        if not isinstance(request, Request) or request.client not in self._slots:
            raise UsageError(f"{src} answered {request!r}, which is not a client request")
        assert kind in ("ok", "fail", "redirect"), kind
        reply = Reply(request.id, kind, value, src)  # type: ignore[arg-type]  # (cast() is a call a reply)
        # _send, unrolled as in send: a reply to a client slot is never lost (client links are never cut)
        vclocks = self._vclocks
        vc = vclocks[src] = vclocks[src].tick(src)
        lo, hi = self._delay
        msg, _ = self.network.post(
            src, request.client, reply, self.time, lo if hi <= lo else self._draw(lo, hi), vc, True, True,
        )
        self._sent.append(msg)
        self._sent_ids.append(msg.id)

    def local_time(self, node: Node) -> int:
        return self._clocks[node.id].read(self.time)

    def draw(self, lo: int, hi: int) -> int:
        return self._draw(lo, hi)

    def fsync(self, node: Node, keys: tuple[Any, ...]) -> None:
        if self._live(node):
            self._disks[node.id].sync(keys)

    def annotate(self, node: Node, note: str) -> None:
        """Attach ``note`` to the current step, for the reader (replay ignores it)."""
        if self._live(node):
            self._rec["note"] = note

    def record(self, node: Node, f: str, value: Any, key: Any, vclock: Mapping[str, int] | None) -> None:
        if not self._live(node):
            return
        if vclock is None:
            stamp = self._vclocks[node.id] = self._vclocks[node.id].tick(node.id)
        else:
            try:
                stamp = VectorClock(vclock)
            except (TypeError, ValueError, AttributeError) as exc:
                raise UsageError(f"{node.id} recorded {f} with a bad vector clock {vclock!r}: {exc}") from None
        self.recorder.event(node.id, f, freeze(value), key=freeze(key), node=node.id, time=self.time,
                            vclock=stamp.to_dict(), result=freeze(value))

    def _record_final_reads(self) -> None:
        """Record the workload's final reads (see ``Workload.final_reads``), each a tick of its node."""
        for node_id, key, value in self.workload.final_reads(cast(Any, self)):
            if node_id not in self._nodes:
                raise UsageError(f"{self.workload.name}: final read at unknown node {node_id!r}")
            vc = self._vclocks[node_id] = self._vclocks[node_id].tick(node_id)
            self.recorder.event(node_id, "final-read", None, key=freeze(key), node=node_id, time=self.time,
                                vclock=vc.to_dict(), result=freeze(value))

    def _discard(self, node_id: str) -> None:
        """Drop a node's incarnation, letting it release what the simulation gave it (threads)."""
        self._stirred = True
        node, self._nodes[node_id] = self._nodes[node_id], None
        discard = getattr(node, "_discard", None)
        if discard is not None:
            discard()

    # -- inspecting the world (tests, invariants, aims) ----------------------------------------------
    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivered message so far, in order, with the sender's and the receiver's clocks (built
        on first use: most runs never ask)."""
        done, log = self._deliveries, self._delivery_log
        of = VectorClock._of
        for i in range(5 * len(done), len(log), 5):
            msg, src, dst, sent, received = log[i:i + 5]
            done.append(Delivery(msg, src, dst, of(sent), of(received)))
        return done

    def node(self, node_id: str) -> Node | None:
        """The live node object, or ``None`` while it is crashed."""
        return self._nodes[node_id]

    def live_nodes(self) -> list[Node]:
        return self._alive[:]

    def storage(self, node_id: str) -> dict[str, Any]:
        """The node's storage as it reads it (synced or not)."""
        return self._disks[node_id].cache

    def disk(self, node_id: str) -> Disk:
        """The node's :class:`~splitbrain.sim.disk.Disk`: ``disk(n).durable`` is what a power loss keeps,
        ``disk(n).dirty()`` the keys it may lose."""
        return self._disks[node_id]

    def clock(self, node_id: str) -> Clock:
        return self._clocks[node_id]

    def vclock(self, name: str) -> VectorClock:
        """The vector clock of a node (``"n1"``) or a client slot (``"c0"``)."""
        return self._vclocks[name]

    def is_up(self, node_id: str) -> bool:
        return self._nodes[node_id] is not None

    def is_paused(self, node_id: str) -> bool:
        return self._paused[node_id]

    def timers(self) -> dict[tuple[str, str], int]:
        """Pending timers: (node, name) -> virtual deadline, sorted."""
        return {key: self._timers[key] for key in sorted(self._timers)}

    def last_sent(self) -> list[Message]:
        """The messages the last step sent (lost ones included), with their contents."""
        return list(self._sent)

    def role(self, name: str) -> str | None:
        """The node playing role ``name`` of ``Workload.roles`` now, or ``None``."""
        try:
            fn = self.workload.roles[name]
        except KeyError:
            known = ", ".join(self.workload.roles) or "none"
            raise UsageError(f"workload {self.workload.name!r} has no role {name!r} (roles: {known})") from None
        found = fn(cast(Any, self))
        return found if found in self._nodes else None

    def request_f(self, client: str, request: int) -> str | None:
        """The operation of client ``client``'s request ``request`` while it is pending, else ``None``."""
        slot = self._slots.get(client)
        waiting = slot.waiting if slot is not None else None
        return waiting.f if waiting is not None and waiting.id == request else None
