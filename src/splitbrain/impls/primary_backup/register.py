"""A primary-backup replicated register with view changes, correct plus two classic bugs.

The protocol is primary-backup with majority quorums, which is Multi-Paxos with the whole register as
the value of every slot (the shape of Viewstamped Replication, Oki & Liskov 1988; Lamport's "Paxos Made
Simple" for why the quorum rules are safe). It is linearizable under every fault the simulator injects —
drops, duplicates, delays, reordering, partitions (one-way too), crashes with durable storage, pauses,
clock skew — because no safety decision depends on time: timeouts only decide *when* to try a view change.

* Views are numbered; the primary of view ``v`` is ``nodes[v % N]``. n1 is primary of view 0.
* The primary applies each client operation (read, write, cas) to its state in arrival order, gives it
  the next sequence number, stores ``(value, view, seq)`` and sends ``Accept(view, seq, value)`` to the
  backups. It answers an operation once a majority (itself included) holds that sequence number or a
  later one in its view. Reads go through the same round, so a deposed primary cannot answer them.
* A backup accepts an ``Accept`` from a view at least as new as the one it promised, keeps the newest
  state, and acknowledges. ``Accept`` doubles as the heartbeat and the retransmission of lost state.
* A backup that hears nothing from its primary for a randomized timeout becomes a candidate for the next
  view it leads, promises it durably and asks the others to promise too; each answers with its newest
  state. With a majority of promises the candidate adopts the newest state among them and becomes
  primary. Any acknowledged operation was held by a majority, so it is among the promises.
* A restarted node is a backup: it may not act as primary of a view it led before its crash.

Bug variants:

* ``early-ack`` — the primary acknowledges writes and cas as soon as it has applied them, before any
  backup has them: a failover (crash, partition) loses acknowledged writes.
* ``local-read`` — the primary answers reads from its own state without a round: a primary that was
  partitioned away and replaced keeps serving stale reads.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from splitbrain.sim import ClientOp, FaultConfig, Node, Rand, Request, Workload, invariant
from splitbrain.sim.world import World

HEARTBEAT = 10
ELECTION_TIMEOUT = (40, 80)
VALUES = (0, 1, 2, 3, 4)


class Accept(msgspec.Struct, frozen=True):
    view: int
    seq: int
    value: Any


class Accepted(msgspec.Struct, frozen=True):
    view: int
    seq: int


class Nack(msgspec.Struct, frozen=True):
    view: int


class StartView(msgspec.Struct, frozen=True):
    view: int


class Promise(msgspec.Struct, frozen=True):
    view: int
    vview: int
    vseq: int
    value: Any


class PrimaryBackup(Node):
    """The correct protocol. Durable: ``view`` (promised), ``value`` and its version ``(vview, vseq)``."""

    early_ack: ClassVar[bool] = False
    local_read: ClassVar[bool] = False

    def on_start(self) -> None:
        s = self.storage
        first = "view" not in s
        if first:
            s.update(view=0, value=None, vview=0, vseq=0)
        self.role = "backup"
        self.pending: dict[int, tuple[Request, Any]] = {}  # seq -> (request, result), seq order
        self.acked: dict[str, int] = {}
        self.promises: dict[str, tuple[int, int, Any]] = {}
        if first and self.primary_of(0) == self.id:
            # every node starts with the same empty state in view 0, so n1 needs no promises for it
            self.role = "primary"
            self.set_timer(HEARTBEAT, "heartbeat")
        else:
            self._reset_election()

    # -- helpers -----------------------------------------------------------------------------------
    def primary_of(self, view: int) -> str:
        return self.nodes[view % len(self.nodes)]

    @property
    def majority(self) -> int:
        return len(self.nodes) // 2 + 1

    @property
    def view(self) -> int:
        return int(self.storage["view"])

    def _reset_election(self) -> None:
        self.set_timer(self.randint(*ELECTION_TIMEOUT), "election")

    def _step_down(self, view: int) -> None:
        """Follow ``view``: unanswered operations stay unanswered (their clients will record info)."""
        self.storage["view"] = view
        self.role = "backup"
        self.pending.clear()
        self.acked.clear()
        self.promises.clear()
        self.cancel_timer("heartbeat")
        self._reset_election()

    def _broadcast_state(self) -> None:
        s = self.storage
        self.broadcast(Accept(s["view"], s["vseq"], s["value"]))

    # -- clients -----------------------------------------------------------------------------------
    def on_client(self, request: Request) -> None:
        if self.role != "primary":
            leader = self.primary_of(self.view)
            if self.role == "backup" and leader != self.id:
                self.redirect(request, leader)
            else:
                self.fail(request, "no primary: a view change is in progress")
            return
        s = self.storage
        value, result = s["value"], None
        if request.f == "read":
            result = value
            if self.local_read:
                self.reply(request, result)
                return
        elif request.f == "write":
            value = request.value
        elif request.f == "cas":
            old, new = request.value
            result = value == old
            if result:
                value = new
        else:
            self.fail(request, f"unknown operation {request.f!r}")
            return
        seq = s["vseq"] + 1
        s.update(value=value, vview=s["view"], vseq=seq)
        self._broadcast_state()
        if self.early_ack and request.f != "read":
            self.reply(request, result)
        else:
            self.pending[seq] = (request, result)
            self._commit()

    def _commit(self) -> None:
        """Answer every pending operation that a majority now holds."""
        need = self.majority - 1  # acknowledgements besides our own
        if need == 0:
            committed = int(self.storage["vseq"])
        else:
            acks = sorted(self.acked.values(), reverse=True)
            if len(acks) < need:
                return
            committed = acks[need - 1]
        while self.pending:
            seq = next(iter(self.pending))
            if seq > committed:
                break
            request, result = self.pending.pop(seq)
            self.reply(request, result)

    # -- replication and view change -----------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        s = self.storage
        if isinstance(msg, Accept):
            if msg.view < s["view"]:
                self.send(src, Nack(s["view"]))
                return
            if msg.view > s["view"]:
                self._step_down(msg.view)  # only view msg.view's primary sends Accept(msg.view)
            if (msg.view, msg.seq) > (s["vview"], s["vseq"]):
                s.update(value=msg.value, vview=msg.view, vseq=msg.seq)
            self.send(src, Accepted(msg.view, s["vseq"]))
            self._reset_election()
        elif isinstance(msg, Accepted):
            if self.role == "primary" and msg.view == s["view"] and msg.seq > self.acked.get(src, 0):
                self.acked[src] = msg.seq
                self._commit()
        elif isinstance(msg, StartView):
            if msg.view > s["view"]:
                self._step_down(msg.view)
            if msg.view == s["view"] and self.role == "backup":
                self.send(src, Promise(msg.view, s["vview"], s["vseq"], s["value"]))
                self._reset_election()
            elif msg.view < s["view"]:
                self.send(src, Nack(s["view"]))
        elif isinstance(msg, Promise):
            if self.role == "candidate" and msg.view == s["view"]:
                self.promises[src] = (msg.vview, msg.vseq, msg.value)
                if len(self.promises) >= self.majority:
                    self._become_primary()
        elif isinstance(msg, Nack) and msg.view > s["view"]:
            self._step_down(msg.view)

    def on_timer(self, name: str) -> None:
        if name == "heartbeat" and self.role == "primary":
            self._broadcast_state()
            self.set_timer(HEARTBEAT, "heartbeat")
        elif name == "election" and self.role != "primary":
            self._start_view_change()

    def _start_view_change(self) -> None:
        s = self.storage
        n, me = len(self.nodes), self.nodes.index(self.id)
        view = s["view"] + 1
        view += (me - view) % n  # the next view this node leads
        s["view"] = view
        self.role = "candidate"
        self.pending.clear()
        self.acked.clear()
        self.promises = {self.id: (s["vview"], s["vseq"], s["value"])}
        self.broadcast(StartView(view))
        self._reset_election()

    def _become_primary(self) -> None:
        s = self.storage
        _, _, value = max(self.promises.values(), key=lambda p: (p[0], p[1]))
        s.update(value=value, vview=s["view"], vseq=1)
        self.role = "primary"
        self.promises.clear()
        self.cancel_timer("election")
        self._broadcast_state()  # also brings the backups up to date with the adopted state
        self.set_timer(HEARTBEAT, "heartbeat")


class EarlyAck(PrimaryBackup):
    """Bug: acknowledges writes before any backup has them."""

    early_ack = True


class LocalRead(PrimaryBackup):
    """Bug: serves reads from the primary's local state, which may be stale after a failover."""

    local_read = True


@invariant(state_only=True)  # reads node state and storage only
def one_primary_per_view(world: World) -> str | None:
    """At most one live node acts as primary of any view, and only the view's designated primary."""
    seen: dict[int, str] = {}
    for node in world.live_nodes():
        if getattr(node, "role", None) != "primary":
            continue
        assert isinstance(node, PrimaryBackup)
        view = node.view
        if node.primary_of(view) != node.id:
            return f"{node.id} acts as primary of view {view}, which {node.primary_of(view)} leads"
        if view in seen:
            return f"{seen[view]} and {node.id} both act as primary of view {view}"
        seen[view] = node.id
    return None


class PrimaryBackupWorkload(Workload):
    """Three nodes, three clients issuing read / write / cas over values 0-4, every fault kind."""

    name = "primary-backup"
    disk = "durable"  # it never calls fsync: every storage write must be durable at once (a power loss = a crash)
    model = "cas-register"
    variants = {"correct": PrimaryBackup, "early-ack": EarlyAck, "local-read": LocalRead}
    node_count = 3
    clients = 3
    op_timeout = 100
    delay = (1, 5)
    faults = FaultConfig()
    max_steps = 400
    invariants = (one_primary_per_view,)

    def generate(self, rand: Rand, process: int) -> ClientOp:
        f = rand.choice(("read", "write", "cas"))
        if f == "read":
            return ClientOp("read")
        if f == "write":
            return ClientOp("write", rand.choice(VALUES))
        return ClientOp("cas", (rand.choice(VALUES), rand.choice(VALUES)))
