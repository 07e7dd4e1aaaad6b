"""The bank shared by the transaction workloads (``bank-2pc``, ``bank-tcc``): accounts, clients, audit.

Six accounts, ``a`` to ``f``, each opening with :data:`INITIAL`, so the bank always holds :data:`TOTAL`.
Node ``n1`` is the coordinator and holds no money; the other nodes are shards, and account *i* lives on
shard *i* mod (number of shards) — with the default four nodes, two accounts on each of ``n2``, ``n3``
and ``n4``, so that ``a`` -> ``d`` stays on one shard and ``a`` -> ``b`` crosses two. Clients send every
operation to the coordinator: ``transfer (src, dst, amount)`` and, where the protocol offers isolation,
``read (accounts...)``.

A transaction is named after the client request that started it, ``p<process>.<request>``: unique in a
run (request ids are), readable in traces, and it tells the history checks which process issued it.

Both protocols promise *atomicity*: every node that settles a transaction settles it the same way
(AC1 of Bernstein, Hadzilacos & Goodman, "Concurrency Control and Recovery in Database Systems", 1987,
ch. 7). Each node appends what it decides or applies to its ``journal`` — ``(tid, "commit")``,
``(tid, "abort")`` and, for TCC, ``(tid, "finished")`` — and :class:`Outcomes`, attached to the world,
reads the journals after every step, the way the Paxos audit does: a journal lives in memory, so the
audit remembers what a crashed incarnation said. :data:`atomic_outcome` is the invariant built on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from splitbrain.sim import ClientOp, Node, Rand, Request, Workload, World, invariant

ACCOUNTS: tuple[str, ...] = ("a", "b", "c", "d", "e", "f")
INITIAL = 10
TOTAL = INITIAL * len(ACCOUNTS)
MAX_AMOUNT = 5
COORDINATOR = "n1"

Parts = dict[str, dict[str, int]]
"""A transaction's effect per shard: shard -> account -> change of balance (negative: a debit)."""


def shards(nodes: Sequence[str]) -> tuple[str, ...]:
    """The nodes that hold accounts: every node but the coordinator."""
    return tuple(n for n in nodes if n != COORDINATOR)


def placement(nodes: Sequence[str]) -> dict[str, str]:
    """Which shard holds each account (account i on shard i mod the number of shards)."""
    held = shards(nodes)
    return {account: held[i % len(held)] for i, account in enumerate(ACCOUNTS)}


def accounts_of(shard: str, nodes: Sequence[str]) -> tuple[str, ...]:
    where = placement(nodes)
    return tuple(a for a in ACCOUNTS if where[a] == shard)


def txn_id(request: Request) -> str:
    return f"p{request.process}.{request.id}"


def process_of(tid: str) -> int | None:
    """The process that issued transaction ``tid`` (``None`` if ``tid`` is not one of ours)."""
    head = tid[1:].split(".", 1)[0] if isinstance(tid, str) and tid.startswith("p") else ""
    return int(head) if head.isdigit() else None


def transfer_problem(value: Any) -> str | None:
    """What is wrong with a transfer's argument, or ``None`` when it is ``(src, dst, amount)``."""
    if not (isinstance(value, tuple) and len(value) == 3):
        return f"transfer expects (src, dst, amount), got {value!r}"
    src, dst, amount = value
    if src not in ACCOUNTS or dst not in ACCOUNTS:
        return f"unknown account in transfer {value!r} (accounts: {', '.join(ACCOUNTS)})"
    if src == dst:
        return f"transfer {value!r} moves money from an account to itself"
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return f"transfer amount must be a positive int, got {amount!r}"
    return None


def read_problem(value: Any) -> str | None:
    if not (isinstance(value, tuple) and value and all(a in ACCOUNTS for a in value)):
        return f"read expects a tuple of accounts ({', '.join(ACCOUNTS)}), got {value!r}"
    if len(set(value)) != len(value):
        return f"read {value!r} names an account twice"
    return None


def transfer_parts(src: str, dst: str, amount: int, nodes: Sequence[str]) -> Parts:
    """The debit and the credit of a transfer, grouped by shard (shards in id order)."""
    where = placement(nodes)
    parts: Parts = {}
    for account, delta in ((src, -amount), (dst, amount)):
        parts.setdefault(where[account], {})[account] = delta
    return {shard: parts[shard] for shard in sorted(parts)}


class BankWorkload(Workload):
    """Base of the bank workloads: four nodes, three clients, every operation sent to the coordinator.

    ``read_share`` is the percentage of read-only transactions (0 for a protocol without isolation); a
    quarter of the reads read two accounts, the others all six.
    """

    node_count = 4
    disk = "durable"  # it never calls fsync: every storage write must be durable at once (a power loss = a crash)
    clients = 3
    read_share = 30

    def generate(self, rand: Rand, process: int) -> ClientOp:
        if rand.randint(1, 100) <= self.read_share:
            if rand.randint(1, 4) == 1:
                first = rand.choice(ACCOUNTS)
                second = rand.choice([a for a in ACCOUNTS if a != first])
                return ClientOp("read", tuple(sorted((first, second))))
            return ClientOp("read", ACCOUNTS)
        src = rand.choice(ACCOUNTS)
        dst = rand.choice([a for a in ACCOUNTS if a != src])
        return ClientOp("transfer", (src, dst, rand.randint(1, MAX_AMOUNT)))

    def choose_node(self, rand: Rand, nodes: Sequence[str], process: int) -> str:
        return COORDINATOR


# -- the outcome audit ----------------------------------------------------------------------------------
@dataclass
class Outcomes:
    """Every ``(tid, event)`` any node journaled in one world, with the first node and step of each."""

    events: dict[str, dict[str, tuple[str, int]]] = field(default_factory=dict)
    conflict: str | None = None
    seen: dict[Node, int] = field(default_factory=dict)  # node incarnation -> journal entries read

    def has(self, tid: str, event: str) -> bool:
        return event in self.events.get(tid, {})

    def finished(self) -> list[str]:
        return [tid for tid, events in self.events.items() if "finished" in events]


def outcomes(world: World) -> Outcomes:
    """The world's audit, brought up to date with every live node's journal."""
    audit: Any = world.__dict__.get("_bank_outcomes")
    if audit is None:
        audit = world.__dict__["_bank_outcomes"] = Outcomes()
    step = len(world.steps) - 1
    seen = audit.seen
    for node in world.live_nodes():
        journal: list[tuple[str, str]] = getattr(node, "journal", [])
        start = seen.get(node, 0)
        if start == len(journal):  # nothing new (the common case: checked after every step)
            continue
        for tid, event in journal[start:]:
            events = audit.events.setdefault(tid, {})
            events.setdefault(event, (node.id, step))
            if audit.conflict is None and "commit" in events and "abort" in events:
                (c_node, c_step), (a_node, a_step) = events["commit"], events["abort"]
                audit.conflict = (
                    f"{tid} was committed by {c_node} (step {c_step}) and aborted by {a_node} (step {a_step})"
                )
        audit.seen[node] = len(journal)
    return audit


@invariant(state_only=True)  # reads node state and storage only
def atomic_outcome(world: World) -> str | None:
    """No transaction is committed at one node and aborted at another, over the whole run (AC1)."""
    return outcomes(world).conflict


def describe_balances(balances: Mapping[str, int]) -> str:
    return " ".join(f"{a}={balances[a]}" for a in sorted(balances))


class RoleNode(Node):
    """A bank node that plays one role — the coordinator on :data:`COORDINATOR`, a participant elsewhere
    — with events handed to its ``role`` object (built in ``on_start``); clients are sent to the
    coordinator."""

    role: Any

    def on_client(self, request: Request) -> None:
        if self.id == COORDINATOR:
            self.role.on_client(request)
        else:
            self.redirect(request, COORDINATOR)

    def on_message(self, src: str, msg: Any) -> None:
        self.role.on_message(src, msg)

    def on_timer(self, name: str) -> None:
        self.role.on_timer(name)
