"""Try / confirm / cancel over the sharded bank (workload ``bank-tcc``), correct plus two classic bugs.

TCC is the business-level transaction of Pardon & Pautasso ("Atomic Distributed Transactions: a RESTful
Design", 2014) and of Seata's TCC mode: no locks and no prepare log, but each participant offers three
operations on its own data.

* **Try** reserves: the debit is taken from the account's *available* balance and *frozen* under the
  transaction; a credit is only noted. A try that would overdraw is refused.
* **Confirm** makes the reservation final: the frozen debit leaves the bank's books of this shard, the
  credit is added to the available balance.
* **Cancel** undoes it: the frozen debit returns to the available balance, a noted credit is dropped.

The coordinator ``n1`` logs each transfer in ``storage`` before it sends the tries, decides *confirm*
when every try succeeded and *cancel* when one is refused or does not answer in time, logs the decision,
answers the client, and re-sends the decision until every participant acknowledges it — across its own
crashes (a restarted coordinator cancels every transfer it had not decided). The transfer is then
*finished*. Because decisions are re-sent, and messages are duplicated and reordered, a participant must
make confirm and cancel idempotent (it remembers what it settled), and must handle a cancel that
overtakes its try: it records an *empty rollback*, so the late try is refused instead of freezing money
that nobody will ever release (Seata's "allow empty rollback" and "prevent suspension" rules).

TCC gives atomicity but no isolation — other transfers see a try's frozen debit — so this workload has
no read-only transactions and no history check: it is judged by invariants on the shards' state
(``atomic-outcome``, ``money-conserved``, ``no-reservation-after-finish``).

Bug variants:

* ``no-empty-rollback`` — a cancel that finds no reservation does nothing: a try that arrives after it
  freezes funds for a finished transfer, forever.
* ``non-idempotent-confirm`` — confirm adds the credit it carries without checking whether the transfer
  was already confirmed: a re-sent or duplicated confirm pays twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import msgspec

from splitbrain.histories import History
from splitbrain.impls.bank.accounts import (
    COORDINATOR,
    INITIAL,
    TOTAL,
    BankWorkload,
    RoleNode,
    accounts_of,
    atomic_outcome,
    describe_balances,
    outcomes,
    shards,
    transfer_parts,
    transfer_problem,
    txn_id,
)
from splitbrain.sim import FaultConfig, Request, World, invariant

TRY_TIMEOUT = 25  # the coordinator cancels a transfer whose tries are not all answered by then
REDRIVE = 15  # the coordinator re-sends unacknowledged confirms and cancels this often

Part = tuple[tuple[str, int], ...]  # (account, change) at one participant; negative: a debit


class Try(msgspec.Struct, frozen=True):
    tid: str
    part: Part


class Tried(msgspec.Struct, frozen=True):
    tid: str
    ok: bool
    reason: str = ""


class Confirm(msgspec.Struct, frozen=True):
    tid: str
    part: Part


class Cancel(msgspec.Struct, frozen=True):
    tid: str
    part: Part


class Settled(msgspec.Struct, frozen=True):
    tid: str


class TCCNode(RoleNode):
    """Coordinator on ``n1``, participant elsewhere; the ``ClassVar`` switches are the bugs' knobs."""

    record_empty_rollback: ClassVar[bool] = True
    idempotent_confirm: ClassVar[bool] = True

    def on_start(self) -> None:
        self.journal: list[tuple[str, str]] = []  # (tid, "commit" | "abort" | "finished"), for the audit
        self.role: TCCCoordinator | TCCParticipant = (
            TCCCoordinator(self) if self.id == COORDINATOR else TCCParticipant(self)
        )



class NoEmptyRollback(TCCNode):
    """Bug: a cancel that arrives before its try leaves no trace, so the late try reserves funds."""

    record_empty_rollback = False


class NonIdempotentConfirm(TCCNode):
    """Bug: every confirm that arrives adds its credit, duplicates included."""

    idempotent_confirm = False


# -- the coordinator ------------------------------------------------------------------------------------
class TCCCoordinator:
    """Logs transfers, collects try answers, decides, and re-sends the decision until acknowledged.

    Durable ``txns``: tid -> ``{"parts": {shard: [[account, change], ...]}, "decision": None | "confirm" |
    "cancel", "acked": [shard, ...]}``. Memory: the client requests waiting for an answer and the shards
    whose try succeeded.
    """

    def __init__(self, node: TCCNode) -> None:
        self.node = node
        self.txns: dict[str, dict[str, Any]] = node.storage.setdefault("txns", {})
        self.requests: dict[str, Request] = {}
        self.tried: dict[str, set[str]] = {}
        for tid, entry in self.txns.items():  # recovery: whatever was not decided is cancelled
            if entry["decision"] is None:
                self._decide(tid, "cancel", "", send=False)
        self._redrive()

    def __repr__(self) -> str:
        return f"coordinator, tries answered: { {tid: sorted(done) for tid, done in self.tried.items()} }"

    def on_client(self, request: Request) -> None:
        node = self.node
        if request.f != "transfer":
            node.fail(request, f"bank-tcc offers transfer only (no isolated reads), not {request.f!r}")
            return
        problem = transfer_problem(request.value)
        if problem is not None:
            node.fail(request, problem)
            return
        tid = txn_id(request)
        src, dst, amount = request.value
        parts = transfer_parts(src, dst, amount, node.nodes)
        self.txns[tid] = {
            "parts": {shard: sorted([a, d] for a, d in part.items()) for shard, part in parts.items()},
            "decision": None, "acked": [],
        }
        self.requests[tid] = request
        self.tried[tid] = set()
        for shard in parts:
            node.send(shard, Try(tid, self._part(tid, shard)))
        node.set_timer(TRY_TIMEOUT, f"try {tid}")

    def _part(self, tid: str, shard: str) -> Part:
        return tuple((a, d) for a, d in self.txns[tid]["parts"][shard])

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Tried):
            entry = self.txns.get(msg.tid)
            if entry is None or entry["decision"] is not None or msg.tid not in self.tried:
                return
            if not msg.ok:
                self._decide(msg.tid, "cancel", f"{src} refused the try: {msg.reason}")
                return
            self.tried[msg.tid].add(src)
            if len(self.tried[msg.tid]) == len(entry["parts"]):
                self._decide(msg.tid, "confirm", "")
        elif isinstance(msg, Settled):
            entry = self.txns.get(msg.tid)
            if entry is None or entry["decision"] is None or src in entry["acked"]:
                return
            entry["acked"].append(src)
            if len(entry["acked"]) == len(entry["parts"]):
                self.node.journal.append((msg.tid, "finished"))

    def on_timer(self, name: str) -> None:
        kind, _, tid = name.partition(" ")
        if kind == "try" and tid in self.txns and self.txns[tid]["decision"] is None:
            missing = sorted(set(self.txns[tid]["parts"]) - self.tried.get(tid, set()))
            self._decide(tid, "cancel", f"no answer to the try from {', '.join(missing)} in {TRY_TIMEOUT} ticks")
        elif kind == "redrive":
            self._redrive()

    def _decide(self, tid: str, decision: str, reason: str, *, send: bool = True) -> None:
        node = self.node
        self.txns[tid]["decision"] = decision
        node.journal.append((tid, "commit" if decision == "confirm" else "abort"))
        node.cancel_timer(f"try {tid}")
        self.tried.pop(tid, None)
        if send:
            self._send_decision(tid)
            node.set_timer(REDRIVE, "redrive")
        request = self.requests.pop(tid, None)
        if request is not None:
            if decision == "confirm":
                node.reply(request, tid)
            else:
                node.fail(request, ("cancelled", tid, reason))

    def _send_decision(self, tid: str) -> bool:
        entry = self.txns[tid]
        kind = Confirm if entry["decision"] == "confirm" else Cancel
        sent = False
        for shard in entry["parts"]:
            if shard not in entry["acked"]:
                self.node.send(shard, kind(tid, self._part(tid, shard)))
                sent = True
        return sent

    def _redrive(self) -> None:
        waiting = False
        for tid, entry in self.txns.items():
            if entry["decision"] is not None:
                waiting = self._send_decision(tid) or waiting
        if waiting:
            self.node.set_timer(REDRIVE, "redrive")


# -- the participants ------------------------------------------------------------------------------------
class TCCParticipant:
    """Durable: ``available`` (account -> balance), ``reserved`` (tid -> {account: change}) and
    ``settled`` (tid -> "confirm" | "cancel"), which makes confirm and cancel idempotent and refuses a
    try after its cancel."""

    def __init__(self, node: TCCNode) -> None:
        self.node = node
        s = node.storage
        if "available" not in s:
            s.update(available=dict.fromkeys(accounts_of(node.id, node.nodes), INITIAL), reserved={}, settled={})
        self.available: dict[str, int] = s["available"]
        self.reserved: dict[str, dict[str, int]] = s["reserved"]
        self.settled: dict[str, str] = s["settled"]

    def __repr__(self) -> str:
        return "participant"  # its state is all in storage

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Try):
            self.node.send(src, self._try(msg))
        elif isinstance(msg, Confirm):
            self._confirm(msg)
            self.node.send(src, Settled(msg.tid))
        elif isinstance(msg, Cancel):
            self._cancel(msg)
            self.node.send(src, Settled(msg.tid))

    def on_timer(self, name: str) -> None:
        """Participants set no timers: the coordinator drives every retry."""

    def _try(self, m: Try) -> Tried:
        if m.tid in self.settled:
            done = "confirmed" if self.settled[m.tid] == "confirm" else "cancelled"
            return Tried(m.tid, False, f"{m.tid} was already {done}")
        if m.tid in self.reserved:
            return Tried(m.tid, True)  # a repeated try: already reserved
        for account, change in m.part:
            if self.available[account] + change < 0:
                return Tried(m.tid, False, f"{account} has {self.available[account]} available, not {-change}")
        for account, change in m.part:
            if change < 0:
                self.available[account] += change  # frozen under the reservation
        self.reserved[m.tid] = dict(m.part)
        return Tried(m.tid, True)

    def _confirm(self, m: Confirm) -> None:
        if self.node.idempotent_confirm:
            if m.tid in self.settled:
                return
            reservation = self.reserved.pop(m.tid, {})
        else:
            self.reserved.pop(m.tid, None)
            reservation = dict(m.part)  # the bug: trusts the message, whatever was settled before
        for account, change in reservation.items():
            if change > 0:
                self.available[account] += change
        self.settled[m.tid] = "confirm"
        self.node.journal.append((m.tid, "commit"))

    def _cancel(self, m: Cancel) -> None:
        if m.tid in self.settled:
            return
        reservation = self.reserved.pop(m.tid, None)
        if reservation is None and not self.node.record_empty_rollback:
            return  # the bug: nothing to undo, and nothing remembered
        for account, change in (reservation or {}).items():
            if change < 0:
                self.available[account] -= change  # unfreeze
        self.settled[m.tid] = "cancel"
        self.node.journal.append((m.tid, "abort"))


# -- invariants ------------------------------------------------------------------------------------------
@invariant(state_only=True)  # reads node state and storage only
def money_conserved(world: World) -> str | None:
    """Available plus frozen money is TOTAL, where a confirmed transfer (by anyone) counts as applied at a
    shard that still holds its reservation: its frozen debit is gone, its credit is in."""
    audit = outcomes(world)
    available: dict[str, int] = {}
    frozen = owed = 0
    for shard in shards(world.node_ids):
        s = world.storage(shard)
        available.update(s.get("available", {}))
        for tid, reservation in s.get("reserved", {}).items():
            confirmed = audit.has(tid, "commit")
            for change in reservation.values():
                if change < 0 and not confirmed:
                    frozen -= change
                elif change > 0 and confirmed:
                    owed += change
    total = sum(available.values()) + frozen + owed
    if total == TOTAL:
        return None
    return (
        f"the bank holds {total}, not {TOTAL}: available {describe_balances(available)}, frozen {frozen}, "
        f"confirmed credits not yet applied {owed}"
    )


@invariant(state_only=True)  # reads node state and storage only
def no_reservation_after_finish(world: World) -> str | None:
    """Once every participant acknowledged a transfer's confirm or cancel, no shard holds a reservation
    for it — a frozen debit or a noted credit — since nobody will ever settle it."""
    audit = outcomes(world)
    for tid in audit.finished():
        _node, step = audit.events[tid]["finished"]
        decision = "confirmed" if audit.has(tid, "commit") else "cancelled"
        for shard in shards(world.node_ids):
            reservation = world.storage(shard).get("reserved", {}).get(tid)
            if reservation is not None:
                held = ", ".join(
                    f"{-c} of {a} frozen" if c < 0 else f"a credit of {c} to {a} pending"
                    for a, c in sorted(reservation.items())
                )
                return (
                    f"{tid} was {decision} and finished (every participant acknowledged, step {step}), yet "
                    f"{shard} holds a reservation for it ({held}) that nobody will settle"
                )
    return None


TCC_FAULTS = FaultConfig(weights={"crash": 10, "restart": 40, "partition": 8, "drop": 6, "duplicate": 6})

#: the faults and run length each bug variant is searched with (tests, ``benchmarks/bug_zoo.py``); the
#: correct version must pass under each of them too
SEARCH: dict[str, tuple[FaultConfig, int]] = {
    "no-empty-rollback": (
        FaultConfig(kinds=("reorder", "delay", "drop"), weights={"delay": 30, "drop": 10}), 300,
    ),
    "non-idempotent-confirm": (
        FaultConfig(kinds=("delay", "duplicate", "drop"), weights={"delay": 20, "duplicate": 20}), 300,
    ),
}


class TCCWorkload(BankWorkload):
    """A coordinator and three participant shards of a six-account bank; transfers only."""

    name = "bank-tcc"
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "invariants"  # TCC promises no isolation: it is judged by its invariants alone
    variants = {
        "correct": TCCNode, "no-empty-rollback": NoEmptyRollback, "non-idempotent-confirm": NonIdempotentConfirm,
    }
    read_share = 0
    op_timeout = 120
    faults = TCC_FAULTS
    max_steps = 400
    invariants = (atomic_outcome, money_conserved, no_reservation_after_finish)

    def history_checks(self) -> list[tuple[str, Callable[[History], tuple[Any, str]]]]:
        """None: TCC promises no isolation, so a history has nothing to check beyond the invariants."""
        return []


__all__ = ["SEARCH", "TCCWorkload", "money_conserved", "no_reservation_after_finish"]
