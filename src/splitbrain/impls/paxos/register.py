"""A replicated cas-register on a log of single-decree Paxos instances, correct plus two classic bugs.

Each log slot is one instance of the Synod protocol of Lamport's "Paxos Made Simple" (2001); every node
is proposer, acceptor and learner. A node proposes its clients' commands one at a time, each in the lowest
slot it has not learned: phase 1 (``Prepare``/``Promise``) with a ballot ``(round, node index)`` unique
to it, phase 2 (``Accept``/``Accepted``) with the value of the highest-ballot acceptance among the
promises — or its own command when there is none — and, once a majority accepted, ``Decide`` to all.
If another value wins the slot, the command moves to the next slot. Decided slots are applied in order
to the register (read / write / cas go through the log, so reads are linearizable too) and the node that
holds the client's request answers it. Rejections and timeouts retry with a higher ballot after a random
back-off (dueling proposers). A command is proposed in a new slot only after its old slot was decided for
another value, so it is chosen at most once; request ids also deduplicate at apply time.

Durable: the acceptor's promises and acceptances, the decided slots, and the proposer's ballot round
(so a restarted node never reuses a ballot).

Bug variants:

* ``forget-promise`` — the acceptor keeps promises in memory: after a restart it accepts a lower ballot
  than one it promised, so two proposers can both get a value chosen in one slot.
* ``ignore-accepted`` — the proposer proposes its own command even when a promise reports an accepted
  value: it overwrites a value that may already be chosen.
* ``adopt-latest`` — the proposer adopts the value of the last promise to arrive rather than the one
  accepted at the highest ballot: a lower ballot's value can replace a chosen one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec

from splitbrain.sim import ClientOp, FaultConfig, Node, Rand, Request, Workload, World, invariant

Ballot = tuple[int, int]
Command = tuple[int, str, Any]  # (request id, f, value)
ZERO: Ballot = (0, 0)
RETRY = (20, 50)
BACKOFF = (3, 15)
VALUES = (0, 1, 2, 3, 4)


class Prepare(msgspec.Struct, frozen=True):
    slot: int
    ballot: Ballot


class Promise(msgspec.Struct, frozen=True):
    slot: int
    ballot: Ballot
    accepted: tuple[Ballot, Command] | None


class Accept(msgspec.Struct, frozen=True):
    slot: int
    ballot: Ballot
    value: Command


class Accepted(msgspec.Struct, frozen=True):
    slot: int
    ballot: Ballot


class Reject(msgspec.Struct, frozen=True):
    slot: int
    ballot: Ballot
    promised: Ballot


class Decide(msgspec.Struct, frozen=True):
    slot: int
    value: Command


class PaxosNode(Node):
    """The correct node; the ``ClassVar`` switches are the bug variants' knobs."""

    persist_promises: ClassVar[bool] = True
    adopt_accepted: ClassVar[bool] = True
    adopt_highest: ClassVar[bool] = True  # of the values promises report, the highest ballot's

    def on_start(self) -> None:
        s = self.storage
        if "decided" not in s:
            s.update(promised={}, accepted={}, decided={}, round=0)
        self.promised: dict[int, Ballot] = s["promised"] if self.persist_promises else {}
        self.accepted: dict[int, tuple[Ballot, Command]] = s["accepted"]
        self.decided: dict[int, Command] = s["decided"]
        self.journal: list[tuple[int, Ballot, Command]] = []  # acceptances, read by the invariants
        self.learned: list[tuple[int, Command]] = []  # decisions, read by the invariants
        self.value: Any = None
        self.done: set[int] = set()
        self.applied = 0
        self.queue: list[Request] = []
        self.waiting: dict[int, Request] = {}
        self.slot = 0
        self.ballot = ZERO
        self.phase = 0  # 0 idle, 1 preparing, 2 accepting
        self.promises: dict[str, tuple[Ballot, Command] | None] = {}
        self.accepts: set[str] = set()
        self.proposal: Command | None = None
        self._apply()

    @property
    def majority(self) -> int:
        return len(self.nodes) // 2 + 1

    # -- clients and proposing -----------------------------------------------------------------------
    def on_client(self, request: Request) -> None:
        if request.f not in ("read", "write", "cas"):
            self.fail(request, f"unknown operation {request.f!r}")
            return
        self.waiting[request.id] = request
        self.queue.append(request)
        if self.phase == 0:
            self._propose()

    def _propose(self) -> None:
        """Start (or restart, with a higher ballot) phase 1 for the head of the queue."""
        while self.queue and self.queue[0].id in self.done:
            self.queue.pop(0)
        if not self.queue:
            self.phase = 0
            self.cancel_timer("retry")
            return
        req = self.queue[0]
        self.slot = self._first_open()
        s = self.storage
        s["round"] += 1
        self.ballot = (s["round"], self.nodes.index(self.id) + 1)
        self.phase, self.promises, self.accepts = 1, {}, set()
        self.proposal = (req.id, req.f, req.value)
        for node in self.nodes:
            self.send(node, Prepare(self.slot, self.ballot))
        self.set_timer(self.randint(*RETRY), "retry")

    def _first_open(self) -> int:
        slot = self.applied + 1
        while slot in self.decided:
            slot += 1
        return slot

    def on_timer(self, name: str) -> None:
        if name == "retry" and self.phase:
            self._propose()

    # -- messages ------------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        kind = type(msg)
        if kind is Prepare:
            self._on_prepare(src, msg)
        elif kind is Promise:
            self._on_promise(src, msg)
        elif kind is Accept:
            self._on_accept(src, msg)
        elif kind is Accepted:
            self._on_accepted(src, msg)
        elif kind is Reject:
            self._on_reject(msg)
        elif kind is Decide:
            self._learn(msg.slot, msg.value)

    def _on_prepare(self, src: str, m: Prepare) -> None:
        if m.slot in self.decided:
            self.send(src, Decide(m.slot, self.decided[m.slot]))
            return
        promised = self.promised.get(m.slot, ZERO)
        if m.ballot >= promised:
            self.promised[m.slot] = m.ballot
            self.send(src, Promise(m.slot, m.ballot, self.accepted.get(m.slot)))
        else:
            self.send(src, Reject(m.slot, m.ballot, promised))

    def _on_promise(self, src: str, m: Promise) -> None:
        if self.phase != 1 or (m.slot, m.ballot) != (self.slot, self.ballot):
            return
        self.promises[src] = m.accepted
        if len(self.promises) < self.majority:
            return
        assert self.proposal is not None
        value = self.proposal
        if self.adopt_accepted:
            reported = [a for a in self.promises.values() if a is not None]
            if reported:
                # the bug takes the value of the last promise to arrive, whatever its ballot
                value = max(reported, key=lambda a: a[0])[1] if self.adopt_highest else reported[-1][1]
        self.phase, self.proposal = 2, value
        for node in self.nodes:
            self.send(node, Accept(self.slot, self.ballot, value))

    def _on_accept(self, src: str, m: Accept) -> None:
        promised = self.promised.get(m.slot, ZERO)
        if m.ballot < promised:
            self.send(src, Reject(m.slot, m.ballot, promised))
            return
        self.promised[m.slot] = m.ballot
        self.accepted[m.slot] = (m.ballot, m.value)
        self.journal.append((m.slot, m.ballot, m.value))
        self.send(src, Accepted(m.slot, m.ballot))

    def _on_accepted(self, src: str, m: Accepted) -> None:
        if self.phase != 2 or (m.slot, m.ballot) != (self.slot, self.ballot):
            return
        self.accepts.add(src)
        if len(self.accepts) >= self.majority:
            assert self.proposal is not None
            value = self.proposal
            for node in self.peers:
                self.send(node, Decide(self.slot, value))
            self._learn(self.slot, value)

    def _on_reject(self, m: Reject) -> None:
        if self.phase and (m.slot, m.ballot) == (self.slot, self.ballot):
            s = self.storage
            s["round"] = max(s["round"], m.promised[0])
            self.phase = 3  # backing off: a retry timer restarts the proposal
            self.set_timer(self.randint(*BACKOFF), "retry")

    # -- learning and the register -------------------------------------------------------------------
    def _learn(self, slot: int, value: Command) -> None:
        if slot in self.decided:
            return
        self.decided[slot] = value
        self.learned.append((slot, value))
        self._apply()
        if self.phase and slot == self.slot:
            self._propose()  # our command won this slot (done) or must try the next one

    def _apply(self) -> None:
        while self.applied + 1 in self.decided:
            self.applied += 1
            rid, f, arg = self.decided[self.applied]
            if rid in self.done:
                continue
            self.done.add(rid)
            result: Any = None
            if f == "read":
                result = self.value
            elif f == "write":
                self.value = arg
            elif f == "cas":
                old, new = arg
                result = self.value == old
                if result:
                    self.value = new
            req = self.waiting.pop(rid, None)
            if req is not None:
                self.reply(req, result)


class ForgetPromise(PaxosNode):
    """Bug: promises live in memory only, so a restarted acceptor accepts ballots it promised to ignore."""

    persist_promises = False


class IgnoreAccepted(PaxosNode):
    """Bug: the proposer ignores values reported in promises and proposes its own command."""

    adopt_accepted = False


class AdoptLatest(PaxosNode):
    """Bug: the proposer adopts the value reported by the last promise to arrive rather than the one
    accepted at the highest ballot. It matters only once two ballots' values were each accepted by some
    acceptor and a third proposer hears of both, so it takes several partial rounds."""

    adopt_highest = False


# -- invariants --------------------------------------------------------------------------------------
@dataclass
class Audit:
    """Acceptances and decisions seen so far in one world (acceptors forget older ones)."""

    votes: dict[tuple[int, Ballot], dict[str, Command]] = field(default_factory=dict)
    chosen: dict[int, tuple[Command, Ballot]] = field(default_factory=dict)
    learned: dict[int, tuple[Command, str]] = field(default_factory=dict)
    seen: dict[Node, tuple[int, int]] = field(default_factory=dict)  # node -> (journal, learned) read
    nodes_at: tuple[int, list[Any]] = (-1, [])  # (step count, the live Paxos nodes then): shared by the checks


def _audit(world: World) -> Audit:
    found: Any = world.__dict__.get("_paxos_audit")
    if found is None:
        found = world.__dict__["_paxos_audit"] = Audit()
    return found


def _paxos_nodes(world: World, record: Audit) -> list[PaxosNode]:
    """The live Paxos nodes (nodes come and go only between steps: the checks of one step share them)."""
    now = len(world.steps)
    if record.nodes_at[0] != now:
        record.nodes_at = (now, [n for n in world.live_nodes() if isinstance(n, PaxosNode)])
    return record.nodes_at[1]


@invariant(state_only=True)  # reads node state and storage only
def one_value_per_slot(world: World) -> str | None:
    """At most one value is chosen per slot: chosen = accepted by a majority at one ballot, at any time."""
    record = _audit(world)
    majority = len(world.node_ids) // 2 + 1
    for node in _paxos_nodes(world, record):
        start, learned = record.seen.get(node, (0, 0))
        if start == len(node.journal):
            continue  # nothing accepted since the last look
        for slot, ballot, value in node.journal[start:]:
            votes = record.votes.setdefault((slot, ballot), {})
            votes[node.id] = value
            if sum(v == value for v in votes.values()) >= majority:
                first = record.chosen.setdefault(slot, (value, ballot))
                if first[0] != value:
                    return (
                        f"slot {slot}: {first[0]} was chosen at ballot {first[1]}, and {value} at ballot "
                        f"{ballot} (accepted by {', '.join(sorted(votes))})"
                    )
        record.seen[node] = (len(node.journal), learned)
    return None


@invariant(state_only=True)  # reads node state and storage only
def learners_agree(world: World) -> str | None:
    """No two nodes learn different values for one slot."""
    record = _audit(world)
    for node in _paxos_nodes(world, record):
        journal, start = record.seen.get(node, (0, 0))
        if start == len(node.learned):
            continue  # nothing learned since the last look
        for slot, value in node.learned[start:]:
            first = record.learned.setdefault(slot, (value, node.id))
            if first[0] != value:
                return f"slot {slot}: {first[1]} learned {first[0]}, {node.id} learned {value}"
        record.seen[node] = (journal, len(node.learned))
    return None


PAXOS_FAULTS = FaultConfig(weights={"partition": 15, "heal": 20, "crash": 15, "restart": 40, "duplicate": 4})

#: the faults and run length each bug variant is searched with (tests, ``benchmarks/bug_zoo.py``); the
#: correct version must pass under each of them too
SEARCH: dict[str, tuple[FaultConfig, int]] = {
    "forget-promise": (
        FaultConfig(kinds=("delay", "crash"), weights={"crash": 60, "restart": 200, "delay": 20}), 400,
    ),
    "ignore-accepted": (PAXOS_FAULTS, 400),
}


class PaxosWorkload(Workload):
    """Three nodes (``node_count=5`` for five), three clients, read / write / cas over values 0-4."""

    name = "paxos"
    disk = "durable"  # it never calls fsync: every storage write must be durable at once (a power loss = a crash)
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "cas-register"
    variants = {"correct": PaxosNode, "forget-promise": ForgetPromise, "ignore-accepted": IgnoreAccepted,
                "adopt-latest": AdoptLatest}
    node_count = 3
    clients = 3
    op_timeout = 120
    delay = (1, 5)
    faults = PAXOS_FAULTS
    max_steps = 400
    invariants = (one_value_per_slot, learners_agree)

    def generate(self, rand: Rand, process: int) -> ClientOp:
        f = rand.choice(("read", "write", "cas"))
        if f == "read":
            return ClientOp("read")
        if f == "write":
            return ClientOp("write", rand.choice(VALUES))
        return ClientOp("cas", (rand.choice(VALUES), rand.choice(VALUES)))
