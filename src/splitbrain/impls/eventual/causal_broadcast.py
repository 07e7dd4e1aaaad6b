"""``causal-broadcast``: reliable causal broadcast with vector clocks, after Birman, Schiper and Stephenson.

A client asks a node to broadcast a message (a unique id). Every node must deliver every message, and
in causal order: if the broadcast of m1 happened before the broadcast of m2 — m2's sender had delivered
m1 (or sent it) first — then every node delivers m1 before m2 (Birman, Schiper and Stephenson 1991,
"Lightweight Causal and Atomic Group Multicast", ACM TOCS).

The protocol (the BSS vector rule). Each node keeps ``delivered``, a vector counting the messages it has
delivered from each sender. To broadcast, a node counts its own message in its vector, stamps the message
with the vector, delivers it itself and sends it to every peer. A node that receives message m from j
holds it back until it is the next one from j (``m[j] == delivered[j] + 1``) and everything m's sender
had delivered is delivered here too (``m[k] <= delivered[k]`` for every other k); delivering one may
release others.

Reliability under drops, partitions and crashes: the sending is best effort, so every few ticks a node
sends a peer (each in turn) a digest of what it has delivered; the peer answers with every message it
knows that the digest lacks, plus its own digest, and gets back what it lacks in turn (push-pull
anti-entropy, as in :mod:`splitbrain.impls.eventual.anti_entropy`). Delivered messages, the vector and the
delivery log are durable; the hold-back queue is memory only, and a restarted node fetches again.

The history. Each node records its ``send`` and ``deliver`` events (``Node.record``) for the causality
checker, stamped with a vector clock over *these* events (Fidge/Mattern: a send ticks the sender; a
delivery merges the message's stamp and ticks the receiver). The transport's clocks would be wrong here:
receiving a message into the hold-back queue is not an event of the application, and counting it would
make messages causally related that the protocol rightly treats as concurrent. The checks:

* ``causal-delivery`` — the causality checker's: no node delivers m2 before (or without) m1 when the send
  of m1 happened before the send of m2; its clock checks confirm the stamps match the message flow;
* ``reliable-delivery`` — after the faults heal and the world settles: every message sent (and every
  acknowledged broadcast) is delivered at every node, exactly once, and nothing is delivered that no
  one sent.

Bug variants:

* ``deliver-on-receipt`` — no causal delay: a message is delivered the moment it arrives, so a reply
  can overtake the message it answers (the reason causal broadcast exists).
* ``no-retransmit`` — best-effort sending only, no anti-entropy: a message lost to a drop, a partition
  or a crash is never delivered there, and holds back every message that causally follows it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, ClassVar

import msgspec

from splitbrain.histories import History
from splitbrain.impls.eventual.anti_entropy import PeerRotation, require_settling
from splitbrain.impls.eventual.causal_checks import HistoryCheck, causal_checks
from splitbrain.sim import ClientOp, FaultConfig, Node, Rand, Request, Workload

Vector = tuple[tuple[str, int], ...]  # sorted (node, count) pairs
MessageKey = tuple[str, int]  # (origin, its sequence number there)
SYNC_PERIOD = (10, 20)


class Broadcast(msgspec.Struct, frozen=True):
    """A broadcast message: its ``mid``, the ``origin`` and its ``seq`` there, the origin's delivered
    vector when it sent it (``deps``, the BSS timestamp) and the send event's history clock (``stamp``)."""

    mid: Any
    origin: str
    seq: int
    deps: Vector
    stamp: Vector

    @property
    def key(self) -> MessageKey:
        return (self.origin, self.seq)


class Digest(msgspec.Struct, frozen=True):
    """Anti-entropy: the messages the sender has delivered; ``reply`` asks for the same in return."""

    have: tuple[MessageKey, ...]
    reply: bool


class Repair(msgspec.Struct, frozen=True):
    """The messages the receiver lacked, and (``have``, when not ``None``) a digest to answer."""

    messages: tuple[Broadcast, ...]
    have: tuple[MessageKey, ...] | None


def _vec(v: dict[str, int]) -> Vector:
    return tuple(sorted(v.items()))


class CausalBroadcastNode(Node):
    """The correct node: BSS causal delivery, best-effort sends repaired by push-pull anti-entropy."""

    causal_delay: ClassVar[bool] = True
    retransmit: ClassVar[bool] = True

    def on_start(self) -> None:
        s = self.storage
        if "log" not in s:
            s.update(log={}, delivered={}, clock={})
        self.held: dict[MessageKey, Broadcast] = {}
        self.partners = PeerRotation(self)
        if self.retransmit:
            self.set_timer(self.randint(*SYNC_PERIOD), "sync")

    # -- broadcasting --------------------------------------------------------------------------------
    def on_client(self, request: Request) -> None:
        if request.f != "broadcast":
            self.fail(request, f"unknown operation {request.f!r}")
            return
        s = self.storage
        delivered: dict[str, int] = s["delivered"]
        seq = delivered.get(self.id, 0) + 1
        deps = _vec({**delivered, self.id: seq})
        stamp = self._tick()
        self.record("send", request.value, vclock=dict(stamp))
        m = Broadcast(request.value, self.id, seq, deps, stamp)
        self._deliver(m)
        self.reply(request)
        self.broadcast(m)

    # -- receiving -------------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        kind = type(msg)
        if kind is Broadcast:
            self._receive((msg,))
        elif kind is Digest:
            self.send(src, Repair(self._missing(msg.have), self._have() if msg.reply else None))
        elif kind is Repair:
            self._receive(msg.messages)
            missing = self._missing(msg.have) if msg.have is not None else ()
            if missing:
                self.send(src, Repair(missing, None))

    def on_timer(self, name: str) -> None:
        if name == "sync" and self.retransmit:
            peer = self.partners.next()
            if peer is not None:
                self.send(peer, Digest(self._have(), True))
            self.set_timer(self.randint(*SYNC_PERIOD), "sync")

    def _receive(self, messages: Iterable[Broadcast]) -> None:
        log = self.storage["log"]
        for m in messages:
            if m.key not in log:
                self.held[m.key] = m
        progress = True
        while progress:
            progress = False
            for key in sorted(self.held):
                m = self.held[key]
                if key in log:
                    del self.held[key]
                elif self._deliverable(m):
                    del self.held[key]
                    self._deliver(m)
                    progress = True

    def _deliverable(self, m: Broadcast) -> bool:
        if not self.causal_delay:
            return True
        delivered = self.storage["delivered"]
        return all(
            n == delivered.get(k, 0) + 1 if k == m.origin else n <= delivered.get(k, 0) for k, n in m.deps
        )

    def _deliver(self, m: Broadcast) -> None:
        s = self.storage
        s["log"][m.key] = m
        s["delivered"][m.origin] = max(s["delivered"].get(m.origin, 0), m.seq)
        clock = dict(s["clock"])
        for k, n in m.stamp:
            clock[k] = max(clock.get(k, 0), n)
        s["clock"] = clock
        self.record("deliver", m.mid, vclock=dict(self._tick()))

    def _tick(self) -> Vector:
        clock = dict(self.storage["clock"])
        clock[self.id] = clock.get(self.id, 0) + 1
        self.storage["clock"] = clock
        return _vec(clock)

    # -- anti-entropy ----------------------------------------------------------------------------------
    def _have(self) -> tuple[MessageKey, ...]:
        return tuple(sorted(self.storage["log"]))

    def _missing(self, have: tuple[MessageKey, ...]) -> tuple[Broadcast, ...]:
        known = {**self.held, **self.storage["log"]}
        got = set(have)
        return tuple(known[k] for k in sorted(known) if k not in got)


class DeliverOnReceipt(CausalBroadcastNode):
    """Bug: no hold-back queue; a message is delivered as soon as it arrives."""

    causal_delay = False


class NoRetransmit(CausalBroadcastNode):
    """Bug: best-effort sends only; nothing repairs a lost message."""

    retransmit = False


def check_reliable_delivery(node_ids: tuple[str, ...]) -> HistoryCheck:
    """After settling: every sent message delivered once at every node, nothing else delivered."""

    def judge(history: History) -> tuple[Any, str]:
        ops = [o for o in history.operations if o.ok]
        sent = {o.input: o for o in ops if o.f == "send"}
        problems = []
        for o in ops:
            if o.f == "broadcast" and o.input not in sent:
                problems.append(f"p{o.process}'s broadcast of {o.input!r} was acknowledged by "
                                f"{o.completion.node if o.completion else '?'} but never sent")
        for node in node_ids:
            counts = Counter(o.input for o in ops if o.f == "deliver" and o.invoke.node == node)
            missing = [m for m in sent if m not in counts]
            if missing:
                problems.append(f"{node} never delivered {', '.join(map(repr, missing[:10]))}"
                                + (f" (of {len(missing)} missing)" if len(missing) > 10 else ""))
            twice = sorted((m for m, c in counts.items() if c > 1), key=repr)
            if twice:
                problems.append(f"{node} delivered {', '.join(map(repr, twice))} more than once")
            unsent = sorted((m for m in counts if m not in sent), key=repr)
            if unsent:
                problems.append(f"{node} delivered {', '.join(map(repr, unsent))}, which no node sent")
        if problems:
            return False, "reliable-delivery: after settling\n" + "\n".join(f"  {p}" for p in problems)
        return True, f"reliable-delivery: {len(sent)} messages, each delivered once at every node"

    return judge


BROADCAST_FAULTS = FaultConfig(
    kinds=("drop", "duplicate", "delay", "reorder", "partition", "oneway", "crash", "pause"),
    weights={"partition": 15, "heal": 20, "crash": 5, "restart": 30, "drop": 6},
)

#: the faults and run length each bug variant is searched with; the correct version passes them too
SEARCH: dict[str, tuple[FaultConfig, int]] = {
    "deliver-on-receipt": (BROADCAST_FAULTS, 100),
    "no-retransmit": (BROADCAST_FAULTS, 100),
}


class CausalBroadcastWorkload(Workload):
    """Three nodes, three clients broadcasting unique message ids."""

    name = "causal-broadcast"
    disk = "durable"  # it never calls fsync: every storage write must be durable at once (a power loss = a crash)
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "causal"  # judged by history_checks(), not by a sequential model
    variants = {"correct": CausalBroadcastNode, "deliver-on-receipt": DeliverOnReceipt,
                "no-retransmit": NoRetransmit}
    node_count = 3
    clients = 3
    op_timeout = 60
    delay = (1, 8)
    faults = BROADCAST_FAULTS
    max_steps = 200
    settle = 100  # enough for up to four nodes to exchange digests with every peer (require_settling)

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        require_settling(self, SYNC_PERIOD, hops=3)  # digest, repair, repair

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("broadcast", rand.unique())

    def history_checks(self) -> list[tuple[str, HistoryCheck]]:
        return [
            *causal_checks((("causal-delivery", ("causal-delivery",)), ("causality", None)), ignore=("broadcast",)),
            ("reliable-delivery", check_reliable_delivery(self.node_ids)),
        ]
