"""`WorldBase`: the state of a simulated world and the runtime its nodes call into.

The world is split by concern: this module holds the state (nodes, storage, clocks, vector clocks,
timers, network, client slots, recorder) with the primitives every step uses — drawing a choice,
sending a message, booting a node — and implements :class:`~splitbrain.sim.node.Runtime`;
:mod:`~splitbrain.sim.sessions` runs the clients, :mod:`~splitbrain.sim.nemesis` the faults, and
:mod:`~splitbrain.sim.world` the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from splitbrain.errors import UsageError
from splitbrain.histories import freeze
from splitbrain.sim.client import ClientSlot, Recorder, Reply, ReplyKind
from splitbrain.sim.clock import Clock
from splitbrain.sim.faults import DEFAULT_WEIGHTS, FAULT_KINDS, FaultConfig
from splitbrain.sim.network import Message, Network
from splitbrain.sim.node import Node, Rand, Request
from splitbrain.sim.scheduler import ChoiceSource, Phase, RandomSource
from splitbrain.sim.trace import Step
from splitbrain.sim.vclock import VectorClock
from splitbrain.sim.workload import Workload

__all__ = [
    "Delivery",
    "Violation",
    "WorldBase",
]


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
    ) -> None:
        if seed is not None and source is not None:
            raise UsageError("pass either seed or source to World, not both")
        self.workload = workload
        self.variant = variant
        self._cls = workload.node_class(variant)
        self.source: ChoiceSource = source if source is not None else RandomSource(seed or 0)
        self.faults = FaultConfig.coerce(workload.faults if faults is None else faults)
        self.max_steps = workload.max_steps if max_steps is None else max_steps
        self.max_quiesce_steps = max_quiesce_steps
        self.node_ids: tuple[str, ...] = workload.node_ids
        self.time = 0
        self.phase: Phase = "start"
        self.network = Network()
        self.clients = [ClientSlot(i, process=i) for i in range(workload.clients)]
        self._slots = {slot.name: slot for slot in self.clients}
        self._nodes: dict[str, Node | None] = dict.fromkeys(self.node_ids)
        self._storage: dict[str, dict[str, Any]] = {n: {} for n in self.node_ids}
        self._clocks = {n: Clock() for n in self.node_ids}
        self._vclocks = {name: VectorClock() for name in (*self.node_ids, *self._slots)}
        self._paused = dict.fromkeys(self.node_ids, False)
        self._timers: dict[tuple[str, str], int] = {}
        self._next_process = workload.clients
        self._next_request = 1
        seed_note = f" seed {self.source.seed}" if self.source.seed is not None else ""
        self.recorder = Recorder(f"{workload.name}/{variant}{seed_note}")
        self.steps: list[Step] = []
        self.deliveries: list[Delivery] = []
        self.violation: Violation | None = None
        self.faults_used = 0
        self._w = {kind: self.faults.weight(kind) for kind in DEFAULT_WEIGHTS}
        minority = (len(self.node_ids) - 1) // 2
        self._max_down = minority if self.faults.max_down is None else self.faults.max_down
        self._rand = Rand(self._draw_param)
        self._reorder = self.faults.allows("reorder")
        on = [k for k in DEFAULT_WEIGHTS if self._w[k] and (k not in FAULT_KINDS or self.faults.allows(k))]
        self._message_faults = [(f"{k}:", self._w[k]) for k in ("drop", "duplicate", "delay") if k in on]
        fewest = {"partition": 2, "oneway": 2, "bridge": 3}  # nodes a partition of each shape needs
        self._global_faults = [(k, self._w[k]) for k in fewest if k in on and len(self.node_ids) >= fewest[k]]
        self._node_faults = frozenset(k for k in ("crash", "restart", "pause", "resume", "skew") if k in on)
        self._later: int | None = None
        self._rec: dict[str, Any] = {}
        self._draws: list[int] = []
        self._sent: list[str] = []
        self._lost: list[str] = []

    # -- primitives used by every kind of step -------------------------------------------------------
    def _receptive(self, name: str) -> bool:
        return name in self._slots or (self._nodes[name] is not None and not self._paused[name])

    def _draw(self, lo: int, hi: int) -> int:
        """A choice recorded in the step's ``draws`` (message delays, ``Node.randint``)."""
        if hi <= lo:
            return lo
        value = self.source.draw(lo, hi)
        self._draws.append(value)
        return value

    def _draw_param(self, lo: int, hi: int) -> int:
        """A choice whose result the step records as a field (an operation, groups, a skew)."""
        return lo if hi <= lo else self.source.draw(lo, hi)

    def _call(self, node_id: str, method: str, *args: Any) -> None:
        node = self._nodes[node_id]
        try:
            getattr(node, method)(*args)
        except Exception as exc:
            exc.add_note(
                f"raised by {node!r}.{method} at step {len(self.steps)} (t={self.time}) of "
                f"{self.recorder.source}"
            )
            raise

    def _boot(self, node_id: str) -> None:
        self._nodes[node_id] = self._cls._create(node_id, self.node_ids, self._storage[node_id], self)
        self._call(node_id, "on_start")

    def _send(self, src: str, dst: str, payload: Any, *, client: bool) -> Message:
        vc = self._vclocks[src] = self._vclocks[src].tick(src)
        delay = self._draw(*self.workload.delay)
        reachable = dst in self._slots or self._nodes[dst] is not None
        msg, in_flight = self.network.send(
            src, dst, payload, now=self.time, delay=delay, vclock=vc, client=client, reachable=reachable,
        )
        self._sent.append(msg.id)
        if not in_flight:
            self._lost.append(msg.id)
            if client and not reachable and isinstance(payload, Request):
                self._connection_error(payload, dst, "fail", "connection refused")
        return msg

    def _connection_error(self, req: Request, node: str, kind: ReplyKind, error: str) -> None:
        """The client's network stack reports an error from ``node``; the node itself did nothing."""
        msg, _ = self.network.send(
            node, req.client, Reply(req.id, kind, error, node), now=self.time,
            delay=self._draw(*self.workload.delay), vclock=VectorClock(), client=True,
        )
        self._sent.append(msg.id)

    # -- the runtime the nodes call (splitbrain.sim.node.Runtime) --------------------------------------
    def _live(self, node: Node) -> bool:
        """Calls from an incarnation that has crashed are ignored: it can do nothing any more."""
        return self._nodes.get(node.id) is node

    def send(self, node: Node, dst: str, msg: Any) -> None:
        if not self._live(node):
            return
        if dst not in self._nodes:
            raise UsageError(f"{node.id} sends to unknown node {dst!r} (nodes: {', '.join(self.node_ids)})")
        self._send(node.id, dst, msg, client=False)

    def set_timer(self, node: Node, delay: int, name: str) -> None:
        if self._live(node):
            if delay < 0:
                raise UsageError(f"{node.id}: timer {name!r} delay must be >= 0, got {delay}")
            self._timers[(node.id, name)] = self.time + self._clocks[node.id].to_virtual(delay)

    def cancel_timer(self, node: Node, name: str) -> None:
        if self._live(node):
            self._timers.pop((node.id, name), None)

    def respond(self, node: Node, request: Request, kind: str, value: Any) -> None:
        if not self._live(node):
            return
        if not isinstance(request, Request) or request.client not in self._slots:
            raise UsageError(f"{node.id} answered {request!r}, which is not a client request")
        assert kind in ("ok", "fail", "redirect"), kind
        reply = Reply(request.id, cast(ReplyKind, kind), value, node.id)
        self._send(node.id, request.client, reply, client=True)

    def local_time(self, node: Node) -> int:
        return self._clocks[node.id].read(self.time)

    def draw(self, lo: int, hi: int) -> int:
        return self._draw(lo, hi)

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
        node, self._nodes[node_id] = self._nodes[node_id], None
        discard = getattr(node, "_discard", None)
        if discard is not None:
            discard()

    # -- inspecting the world (tests, invariants) -----------------------------------------------------
    def node(self, node_id: str) -> Node | None:
        """The live node object, or ``None`` while it is crashed."""
        return self._nodes[node_id]

    def live_nodes(self) -> list[Node]:
        return [n for n in self._nodes.values() if n is not None]

    def storage(self, node_id: str) -> dict[str, Any]:
        return self._storage[node_id]

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
