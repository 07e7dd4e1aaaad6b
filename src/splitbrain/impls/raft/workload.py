"""The ``raft-kv`` workload: a Raft-replicated key-value store, checked against the ``kv`` model.

The ``reads`` setting says who answers a ``get``: ``"leader"`` (the default) — the leader, after
confirming with a majority that it still leads (ReadIndex), so reads are linearizable and a partition's
minority cannot serve them; ``"local"`` — whichever node the client reached, from its own state machine,
without asking anyone (etcd's ``serializable`` reads, Consul's ``stale`` mode): reads stay available on
the minority side and may be stale. ``RaftKVWorkload(reads="local")``, or ``--set reads=local``.
"""

from __future__ import annotations

from typing import Any

from splitbrain.errors import UsageError
from splitbrain.impls.raft.invariants import INVARIANTS
from splitbrain.impls.raft.node import RaftNode
from splitbrain.impls.raft.variants import VARIANTS
from splitbrain.sim import ClientOp, FaultConfig, Node, Rand, Request, Workload, eventually
from splitbrain.sim.faults import DEFAULT_KINDS

KEYS = ("x", "y")
VALUES = ("a", "b", "c", "d")

#: every fault kind, with partitions and crashes several times more frequent than the defaults so that a
#: run of a few hundred steps sees leadership change hands a few times
RAFT_FAULTS = FaultConfig(
    # every default fault and power loss: Raft promises what it synced (``disk = "fsync"``), so a power loss
    # that takes what it did not sync is fair game
    kinds=(*DEFAULT_KINDS, "power-loss"),
    weights={"partition": 25, "oneway": 8, "heal": 25, "crash": 10, "restart": 25, "duplicate": 4},
)


#: the faults and run length each bug variant is searched with (tests, ``benchmarks/bug_zoo.py``): the
#: scenario each bug needs, made frequent. The correct version must pass under every one of them too.
SEARCH: dict[str, tuple[FaultConfig, int]] = {
    "unpersisted-vote": (FaultConfig(kinds=("drop", "crash"), weights={"crash": 60, "restart": 200, "drop": 10}), 400),
    # caught only by a power loss: a crash keeps what the node wrote, synced or not
    "unsynced-vote": (
        FaultConfig(kinds=("drop", "power-loss"), weights={"power-loss": 60, "restart": 200, "drop": 10}), 400,
    ),
    "commit-old-term": (
        FaultConfig(
            kinds=("drop", "partition", "crash"),
            weights={"partition": 40, "heal": 10, "crash": 30, "restart": 60, "drop": 10},
        ),
        800,
    ),
    "stale-read": (RAFT_FAULTS, 400),
    "truncate-on-append": (
        FaultConfig(kinds=("duplicate", "reorder", "crash"), weights={"duplicate": 30, "crash": 30, "restart": 100}),
        400,
    ),
    "no-step-down": (
        FaultConfig(
            kinds=("drop", "delay", "partition"), weights={"partition": 40, "heal": 10, "delay": 20, "drop": 10},
        ),
        800,
    ),
}


READS = ("leader", "local")

#: ticks after the heal within which a leader must be elected: several election timeouts (40-80 ticks)
LEADER_WITHIN = 500


def leader_elected(world: Any) -> bool:
    """Some live node leads the newest term any live node has seen (a deposed leader that does not know it
    yet does not count)."""
    nodes = [n for n in world.live_nodes() if hasattr(n, "role")]
    newest = max((n.term for n in nodes), default=0)
    return any(n.role == "leader" and n.term == newest for n in nodes)


def _leader(world: Any) -> str | None:
    """The live node leading the highest term, if any (a deposed leader may not know it yet)."""
    leaders = [n for n in world.live_nodes() if getattr(n, "role", None) == "leader"]
    return max(leaders, key=lambda n: (n.term, n.id)).id if leaders else None


class LocalReads(RaftNode):
    """Reads answered by any node from its own state machine, at once (mixed into a variant's class)."""

    def on_client(self, request: Request) -> None:
        if request.f == "get":
            self.reply(request, self.kv.get(request.key, ""))
        else:
            super().on_client(request)


_LOCAL: dict[type[Node], type[Node]] = {}


def local_reads(cls: type[Node]) -> type[Node]:
    """``cls`` (a :class:`RaftNode`) answering reads locally; one class per variant, made once."""
    made = _LOCAL.get(cls)
    if made is None:
        name = f"{cls.__name__}[reads=local]"
        made = _LOCAL[cls] = type(name, (LocalReads, cls), {"__module__": cls.__module__, "__qualname__": name})
    return made


class RaftKVWorkload(Workload):
    """Three nodes (``node_count=5`` for five), three clients, two keys, get / put / append; ``reads``
    is ``"leader"`` (linearizable, the default) or ``"local"`` (any node answers; see the module)."""

    name = "raft-kv"
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "kv"
    variants = VARIANTS
    node_count = 3
    clients = 3
    op_timeout = 120
    delay = (1, 5)
    faults = RAFT_FAULTS
    max_steps = 400
    invariants = INVARIANTS
    #: liveness: once the faults are healed, a leader is elected within LEADER_WITHIN ticks
    properties = (eventually(leader_elected, within=LEADER_WITHIN),)
    #: Raft syncs what it promises (``fsync`` before a vote or an acknowledgement): a power loss keeps only that
    disk = "fsync"
    #: who the leader is: the live leader of the highest term (for aimed faults: ``Aim("crash", "leader", ...)``)
    roles = {"leader": lambda world: _leader(world)}
    reads: str = "leader"

    _settable = (*Workload._settable, "reads")

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        if self.reads not in READS:
            raise UsageError(f"workload {self.name}: reads must be one of {', '.join(READS)}; got {self.reads!r}")

    def node_class(self, variant: str) -> type[Node]:
        cls = super().node_class(variant)
        return local_reads(cls) if self.reads == "local" else cls

    def abstract_state(self, world: Any) -> tuple[Any, ...]:
        """What Raft's safety argument turns on (Ongaro & Ousterhout 2014, section 5.4), coarsely: per
        node, its role, whether it lags the newest term, how far its last log term lags the newest
        (capped at 2: who could win an election), whether it holds every entry some node has committed,
        and how many entries it holds past that commit point (capped at 2); the nodes sorted (which node
        plays which part does not matter), and how many log indexes two nodes disagree on (capped at 2).
        A crashed node shows what its disk holds. Campaigns count these states and the default portfolio
        steers toward new ones: a node that could win an election while lacking a committed entry is one
        such state, and one step from a Figure 8 failure."""
        ids = world.node_ids
        nodes = [world.node(n) for n in ids]
        logs = [n.log if n is not None else world.storage(i).get("log") or [] for i, n in zip(ids, nodes, strict=True)]
        live = [n for n in nodes if n is not None]
        top = max((n.term for n in live), default=0)
        committed = max((n.commit for n in live), default=0)
        reference = next((log for n, log in zip(nodes, logs, strict=True) if n is not None and n.commit == committed),
                         None) or []
        prefix = reference[:committed]
        newest = max((log[-1][0] for log in logs if log), default=0)
        longest = max(len(log) for log in logs)
        # where every log holds the same entries there is no conflict: start after the longest prefix
        # all of them share, found by slice comparisons (this runs after every step of a campaign)
        shortest = min(len(log) for log in logs)
        first = logs[0][:shortest]
        start = shortest if all(log[:shortest] == first for log in logs[1:]) else 0
        conflicts = 0
        for index in range(start, longest):
            terms = {log[index][0] for log in logs if len(log) > index}
            if len(terms) > 1:
                conflicts += 1
                if conflicts == 2:
                    break
        rows = []
        for node, log in zip(nodes, logs, strict=True):
            last = log[-1][0] if log else 0
            holds = log[:committed] == prefix
            tail = min(len(log) - committed, 2)
            role = "down" if node is None else node.role
            lag = 0 if node is None else min(top - node.term, 1)
            rows.append((role, lag, min(newest - last, 2), holds, tail))
        return (tuple(sorted(rows)), conflicts)

    def generate(self, rand: Rand, process: int) -> ClientOp:
        key = rand.choice(KEYS)
        f = rand.choice(("get", "get", "put", "append"))
        if f == "get":
            return ClientOp("get", None, key)
        return ClientOp(f, rand.choice(VALUES), key)
