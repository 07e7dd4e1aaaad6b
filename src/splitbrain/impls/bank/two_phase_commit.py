"""Two-phase commit over a sharded bank (workload ``bank-2pc``), correct plus three classic bugs.

The protocol is presumed-abort 2PC (Gray, "Notes on Data Base Operating Systems", 1978; Mohan, Lindsay &
Obermarck, "Transaction Management in the R* Distributed Database Management System", 1986) with strict
two-phase locking at the shards. The coordinator ``n1`` turns each client operation into a transaction
named after the request (see :mod:`splitbrain.impls.bank.accounts`) and sends ``Prepare`` to every shard it
touches:

* A shard *votes*. It takes the locks without waiting (no-wait 2PL, so there are no deadlocks): any
  conflicting lock held by another prepared transaction — exclusive for a transfer, shared for a read —
  or a debit that would overdraw the account makes it vote no, and it aborts at once. Otherwise it
  writes a *prepare record* to ``storage`` (the versions it read and, for a transfer, the versions it
  will write), which also holds the locks, and votes yes with what it read and will write.
* With every vote yes, the coordinator of a transfer writes ``commit`` to its *decision log* in
  ``storage`` (the commit point), answers the client, and sends ``Decide(commit)``; shards apply the
  writes, drop the record (releasing the locks) and acknowledge. A read-only transaction needs no log:
  its answer is the votes, and its decision only releases the shared locks. A no vote, or votes missing
  after a timeout, aborts: nothing is logged (*presumed abort*), the client gets ``fail``.
* Blocking is real: a shard with a prepare record never decides alone. It keeps its locks and asks the
  coordinator (``Inquire``) until it learns the outcome — across its own crashes, since the record is
  durable. While the coordinator is down, every transaction touching those accounts is refused.
* Recovery: a restarted coordinator re-sends every logged commit that a shard has not acknowledged; a
  transaction it never logged is answered ``abort`` whenever a shard asks (presumed abort), which is
  safe because nothing was ever told to commit it. Shards remember finished transactions, so a late or
  duplicated ``Prepare`` is refused and a duplicated ``Decide`` is harmless.

Every transaction holds its locks from its vote to its decision, reads included, so its *lock point*
(all locks held) lies inside its invocation interval: histories are strict serializable, and that is
what the workload checks (``history_checks``), with the read totals.

Bug variants:

* ``unilateral-commit`` — a prepared shard that hears nothing for a while commits on its own (the
  "heuristic commit" of XA resource managers): if the coordinator aborted meanwhile, the transfer is
  half applied.
* ``no-decision-log`` — the coordinator keeps its decisions only in memory: after a crash it answers
  ``abort`` for a transaction it already told one shard to commit.
* ``early-release`` — shards release locks when they vote (a "read-only optimisation" applied to every
  transaction): two transfers prepare against the same balance and one update is lost, and reads see
  transfers half applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec

from splitbrain.histories import History
from splitbrain.impls.bank.accounts import (
    ACCOUNTS,
    COORDINATOR,
    TOTAL,
    BankWorkload,
    RoleNode,
    accounts_of,
    atomic_outcome,
    describe_balances,
    outcomes,
    placement,
    read_problem,
    shards,
    transfer_parts,
    transfer_problem,
    txn_id,
)
from splitbrain.impls.bank.history_checks import (
    Version,
    balance_of,
    check_read_totals,
    check_strict_serializable,
    version,
)
from splitbrain.sim import FaultConfig, Request, World, invariant

VOTE_TIMEOUT = 30  # the coordinator aborts a transaction whose votes are not all in by then
WAIT = 25  # a prepared shard asks the coordinator about the outcome this often
REDRIVE = 20  # the coordinator re-sends unacknowledged commits this often


class Prepare(msgspec.Struct, frozen=True):
    tid: str
    changes: tuple[tuple[str, int], ...]  # (account, change of balance); all 0 for a read
    read_only: bool


class Vote(msgspec.Struct, frozen=True):
    tid: str
    yes: bool
    mops: tuple[tuple[str, str, Version], ...] = ()  # ("r", account, version read), ("w", account, written)
    reason: str = ""


class Decide(msgspec.Struct, frozen=True):
    tid: str
    outcome: str  # "commit" or "abort"


class Ack(msgspec.Struct, frozen=True):
    tid: str


class Inquire(msgspec.Struct, frozen=True):
    tid: str


class TwoPhaseNode(RoleNode):
    """Coordinator on ``n1``, shard elsewhere; the ``ClassVar`` switches are the bug variants' knobs."""

    decide_on_timeout: ClassVar[bool] = False
    log_decisions: ClassVar[bool] = True
    hold_locks: ClassVar[bool] = True

    def on_start(self) -> None:
        self.journal: list[tuple[str, str]] = []  # (tid, "commit" | "abort"), read by the invariants
        self.role: Coordinator | Shard = Coordinator(self) if self.id == COORDINATOR else Shard(self)



class UnilateralCommit(TwoPhaseNode):
    """Bug: a prepared shard that waited long enough commits without the coordinator."""

    decide_on_timeout = True


class NoDecisionLog(TwoPhaseNode):
    """Bug: the coordinator's decisions live in memory only and are forgotten by a crash."""

    log_decisions = False


class EarlyRelease(TwoPhaseNode):
    """Bug: shards release their locks as soon as they have voted."""

    hold_locks = False


# -- the coordinator ------------------------------------------------------------------------------------
@dataclass
class Pending:
    """A transaction the coordinator is collecting votes for (memory only: presumed abort)."""

    request: Request
    read_only: bool
    shards: tuple[str, ...]
    votes: dict[str, tuple[tuple[str, str, Version], ...]] = field(default_factory=dict)


class Coordinator:
    """Collects votes, logs commits, answers clients and inquiries, re-drives commits."""

    def __init__(self, node: TwoPhaseNode) -> None:
        self.node = node
        # tid -> {"shards": [...], "acked": [...]}: the commit log (presumed abort logs no aborts)
        self.decisions: dict[str, dict[str, list[str]]] = (
            node.storage.setdefault("decisions", {}) if node.log_decisions else {}
        )
        self.pending: dict[str, Pending] = {}
        self._redrive()

    def __repr__(self) -> str:
        votes = {tid: sorted(txn.votes) for tid, txn in self.pending.items()}
        return f"coordinator, votes in: {votes}"

    def on_client(self, request: Request) -> None:
        node = self.node
        changes = self._changes(request)
        if isinstance(changes, str):
            node.fail(request, changes)
            return
        tid = txn_id(request)
        read_only = request.f == "read"
        self.pending[tid] = Pending(request, read_only, tuple(changes))
        for shard, part in changes.items():
            node.send(shard, Prepare(tid, part, read_only))
        node.set_timer(VOTE_TIMEOUT, f"votes {tid}")

    def _changes(self, request: Request) -> dict[str, tuple[tuple[str, int], ...]] | str:
        """Each shard's part of a client operation — ``(account, change)``, 0 for a read — or what is
        wrong with the operation."""
        if request.f == "transfer":
            problem = transfer_problem(request.value)
            if problem is not None:
                return problem
            src, dst, amount = request.value
            parts = transfer_parts(src, dst, amount, self.node.nodes)
            return {shard: tuple(sorted(part.items())) for shard, part in parts.items()}
        if request.f == "read":
            problem = read_problem(request.value)
            if problem is not None:
                return problem
            where = placement(self.node.nodes)
            reads: dict[str, list[tuple[str, int]]] = {}
            for account in sorted(request.value):
                reads.setdefault(where[account], []).append((account, 0))
            return {shard: tuple(reads[shard]) for shard in sorted(reads)}
        return f"unknown operation {request.f!r} (bank-2pc offers transfer and read)"

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Vote):
            self._on_vote(src, msg)
        elif isinstance(msg, Inquire):
            self._answer(src, msg.tid)
        elif isinstance(msg, Ack):
            entry = self.decisions.get(msg.tid)
            if entry is not None and src not in entry["acked"]:
                entry["acked"].append(src)

    def on_timer(self, name: str) -> None:
        kind, _, tid = name.partition(" ")
        if kind == "votes" and tid in self.pending:
            missing = [s for s in self.pending[tid].shards if s not in self.pending[tid].votes]
            self._abort(tid, f"no vote from {', '.join(missing)} within {VOTE_TIMEOUT} ticks")
        elif kind == "redrive":
            self._redrive()

    def _on_vote(self, src: str, vote: Vote) -> None:
        txn = self.pending.get(vote.tid)
        if txn is None:
            if vote.yes:  # late or duplicated: the outcome is settled (or presumed abort)
                self._answer(src, vote.tid)
            return
        if not vote.yes:
            self._abort(vote.tid, f"{src} voted no: {vote.reason}")
            return
        txn.votes[src] = vote.mops
        if len(txn.votes) == len(txn.shards):
            self._commit(vote.tid, txn)

    def _answer(self, shard: str, tid: str) -> None:
        """Tell a shard the outcome of ``tid``: logged commit, still undecided (say nothing), or abort."""
        if tid in self.decisions:
            self.node.send(shard, Decide(tid, "commit"))
        elif tid not in self.pending:
            self.node.journal.append((tid, "abort"))
            self.node.send(shard, Decide(tid, "abort"))

    def _commit(self, tid: str, txn: Pending) -> None:
        node = self.node
        del self.pending[tid]
        node.cancel_timer(f"votes {tid}")
        votes = [m for shard in txn.shards for m in txn.votes[shard]]
        mops = tuple(sorted(m for m in votes if m[0] == "r")) + tuple(sorted(m for m in votes if m[0] == "w"))
        if not txn.read_only:
            self.decisions[tid] = {"shards": list(txn.shards), "acked": []}  # the commit point
            node.journal.append((tid, "commit"))
            node.set_timer(REDRIVE, "redrive")
        for shard in txn.shards:
            node.send(shard, Decide(tid, "commit"))
        node.reply(txn.request, mops)

    def _abort(self, tid: str, reason: str) -> None:
        node = self.node
        txn = self.pending.pop(tid)
        node.cancel_timer(f"votes {tid}")
        node.journal.append((tid, "abort"))
        for shard in txn.shards:
            node.send(shard, Decide(tid, "abort"))
        node.fail(txn.request, ("aborted", tid, reason))

    def _redrive(self) -> None:
        """Re-send every logged commit some shard has not acknowledged; keep the timer while any remain."""
        waiting = False
        for tid, entry in self.decisions.items():
            for shard in entry["shards"]:
                if shard not in entry["acked"]:
                    self.node.send(shard, Decide(tid, "commit"))
                    waiting = True
        if waiting:
            self.node.set_timer(REDRIVE, "redrive")


# -- the shards -------------------------------------------------------------------------------------------
class Shard:
    """Holds accounts; votes, keeps prepare records (and so locks) until the decision, applies it.

    Durable: ``balances`` (account -> version, ``None`` = the opening balance), ``prepared`` (tid ->
    ``{"read_only": bool, "changes": {account: [version read, version to write]}}``) and ``done`` (tid ->
    outcome, so that a late ``Prepare`` or a repeated ``Decide`` does nothing).
    """

    def __init__(self, node: TwoPhaseNode) -> None:
        self.node = node
        s = node.storage
        if "balances" not in s:
            s.update(balances=dict.fromkeys(accounts_of(node.id, node.nodes)), prepared={}, done={})
        self.balances: dict[str, Version] = s["balances"]
        self.prepared: dict[str, dict[str, Any]] = s["prepared"]
        self.done: dict[str, str] = s["done"]
        for tid in self.prepared:  # recovery: ask about every transaction still in doubt
            node.set_timer(WAIT, f"wait {tid}")

    def __repr__(self) -> str:
        return "shard"  # its state is all in storage

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Prepare):
            self._on_prepare(src, msg)
        elif isinstance(msg, Decide):
            self._settle(msg.tid, msg.outcome)
            if msg.outcome == "commit":
                self.node.send(src, Ack(msg.tid))

    def on_timer(self, name: str) -> None:
        kind, _, tid = name.partition(" ")
        if kind != "wait" or tid not in self.prepared:
            return
        if self.node.decide_on_timeout:
            self._settle(tid, "commit")  # the bug: decides alone
            return
        self.node.send(COORDINATOR, Inquire(tid))
        self.node.set_timer(WAIT, f"wait {tid}")

    def _on_prepare(self, src: str, m: Prepare) -> None:
        node, tid = self.node, m.tid
        if tid in self.done:
            if self.done[tid] == "abort":
                node.send(src, Vote(tid, False, reason=f"{node.id} already aborted {tid}"))
            return
        record = self.prepared.get(tid)
        if record is None:
            problem = self._conflict(m) or self._overdraft(m)
            if problem is not None:
                self.done[tid] = "abort"
                if not m.read_only:
                    node.journal.append((tid, "abort"))
                node.send(src, Vote(tid, False, reason=problem))
                return
            changes = {}
            for account, delta in m.changes:
                old = self.balances[account]
                changes[account] = [old, old if m.read_only else version(tid, balance_of(old) + delta)]
            record = self.prepared[tid] = {"read_only": m.read_only, "changes": changes}
            node.set_timer(WAIT, f"wait {tid}")
        node.send(src, Vote(tid, True, self._mops(record)))

    @staticmethod
    def _mops(record: dict[str, Any]) -> tuple[tuple[str, str, Version], ...]:
        changes = record["changes"]
        reads = tuple(("r", a, changes[a][0]) for a in sorted(changes))
        if record["read_only"]:
            return reads
        return reads + tuple(("w", a, changes[a][1]) for a in sorted(changes))

    def _conflict(self, m: Prepare) -> str | None:
        if not self.node.hold_locks:
            return None
        for other, record in self.prepared.items():
            if m.read_only and record["read_only"]:
                continue  # shared locks are compatible
            for account, _ in m.changes:
                if account in record["changes"]:
                    return f"{account} is locked by {other}"
        return None

    def _overdraft(self, m: Prepare) -> str | None:
        for account, delta in m.changes:
            if balance_of(self.balances[account]) + delta < 0:
                return f"{account} holds {balance_of(self.balances[account])}, cannot pay {-delta}"
        return None

    def _settle(self, tid: str, outcome: str) -> None:
        node = self.node
        record = self.prepared.pop(tid, None)
        node.cancel_timer(f"wait {tid}")
        if record is None:
            if outcome == "abort" and tid not in self.done:
                self.done[tid] = "abort"  # a Prepare that arrives after this is refused
                node.journal.append((tid, "abort"))
            return
        if outcome == "commit" and not record["read_only"]:
            for account, (_, new) in record["changes"].items():
                self.balances[account] = new
        self.done[tid] = outcome
        if not record["read_only"]:
            node.journal.append((tid, outcome))


# -- invariants ------------------------------------------------------------------------------------------
@invariant(state_only=True)  # reads node state and storage only
def money_conserved(world: World) -> str | None:
    """The committed state holds TOTAL: every shard's balances, plus — for a transaction that is
    committed but not yet applied at a shard — the change its prepare record will make there."""
    audit = outcomes(world)
    # checked after most steps, and almost always holding: the total alone first, each balance string parsed
    # once per world; the full account (below) only to describe a violation
    memo: Any = world.__dict__.get("_bank_money")
    if memo is None:
        memo = world.__dict__["_bank_money"] = (shards(world.node_ids), {})
    held, parsed = memo
    total = 0
    for shard in held:
        s = world.storage(shard)
        for written in s.get("balances", {}).values():
            amount = parsed.get(written)
            if amount is None:
                amount = parsed[written] = balance_of(written)
            total += amount
        for tid, record in s.get("prepared", {}).items():
            if record["read_only"] or not audit.has(tid, "commit"):
                continue
            total += sum(balance_of(new) - balance_of(old) for old, new in record["changes"].values())
    if total == TOTAL:
        return None
    balances: dict[str, int] = {}
    pending: list[str] = []
    total = 0
    for shard in shards(world.node_ids):
        s = world.storage(shard)
        for account, written in s.get("balances", {}).items():
            balances[account] = balance_of(written)
            total += balances[account]
        for tid, record in s.get("prepared", {}).items():
            if record["read_only"] or not audit.has(tid, "commit"):
                continue
            change = sum(balance_of(new) - balance_of(old) for old, new in record["changes"].values())
            total += change
            pending.append(f"{tid} at {shard} {change:+d}")
    if total == TOTAL:
        return None
    owed = f", committed but not applied: {', '.join(pending)}" if pending else ""
    return f"the bank holds {total}, not {TOTAL}: balances {describe_balances(balances)}{owed}"


TPC_FAULTS = FaultConfig(weights={"crash": 10, "restart": 40, "partition": 8, "drop": 6})

#: the faults and run length each bug variant is searched with (tests, ``benchmarks/bug_zoo.py``); the
#: correct version must pass under each of them too
SEARCH: dict[str, tuple[FaultConfig, int]] = {
    "unilateral-commit": (
        FaultConfig(kinds=("drop", "delay", "partition"), weights={"drop": 40, "delay": 20, "partition": 10}),
        300,
    ),
    "no-decision-log": (
        FaultConfig(kinds=("drop", "crash"), weights={"drop": 30, "crash": 40, "restart": 100}, max_down=1), 300,
    ),
    "early-release": (FaultConfig(kinds=()), 200),
}


class TwoPhaseCommitWorkload(BankWorkload):
    """A coordinator and three shards of a six-account bank; transfers and read-only transactions."""

    name = "bank-2pc"
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "multi-register"
    variants = {
        "correct": TwoPhaseNode, "unilateral-commit": UnilateralCommit, "no-decision-log": NoDecisionLog,
        "early-release": EarlyRelease,
    }
    op_timeout = 120
    faults = TPC_FAULTS
    max_steps = 400
    invariants = (atomic_outcome, money_conserved)

    def history_checks(self) -> list[tuple[str, Callable[[History], tuple[Any, str]]]]:
        """Read totals, then strict serializability of the history seen as register transactions."""
        return [("read-totals", check_read_totals), ("strict-serializable", check_strict_serializable)]


__all__ = ["ACCOUNTS", "SEARCH", "TwoPhaseCommitWorkload", "money_conserved"]
