"""``gossip-kv``: an eventually consistent key-value store, Dynamo-style, replicated by anti-entropy.

Every node is a full replica and answers alone (one replica acknowledges a write, one replica serves a
read, as Dynamo with W = R = 1): a write is applied locally, acknowledged, and spread by direct mail and
periodic push-pull anti-entropy (:mod:`splitbrain.impls.eventual.anti_entropy`, after Demers et al. 1987). There is
no coordination, so concurrent writes to a key are all kept, as *siblings*, and a read returns every
sibling (DeCandia et al. 2007, "Dynamo: Amazon's Highly Available Key-value Store").

What decides which versions are concurrent is the causal context a write carries: the versions its
client had read. Each version is a value with a **dot** — ``(node, n)``, the n-th write that node
coordinated for the key — and the **context** of the write (a version vector: for each node, the highest
dot of it the client had seen). Version ``u`` replaces ``v`` exactly when ``v``'s dot is in ``u``'s
context, i.e. when ``u``'s writer saw ``v``. These are dotted version vectors (Preguiça, Baquero, Almeida,
Fonte and Gonçalves 2010, "Dotted Version Vectors: Logical Clocks for Optimistic Replication"); merging
two replicas' sibling sets is "the union, minus every version some other one replaces", which is
commutative, associative and idempotent.

Clients in the simulator keep no state, so the context is kept for them: each session (process) is pinned
to one coordinator (session affinity, ``process mod nodes``), which remembers, durably, the join of what
the session has read of each key — the context a Dynamo client would send back with its next put. A
session that never read a key writes blindly: its write becomes a sibling of whatever is there. A read's
context is a sound version vector because a replica that holds dot ``(n, c)`` also holds every earlier
dot of ``n`` for the key or a version that replaced it (updates travel as whole sibling sets).

The promise checked after faults heal and the system settles: every replica holds the same siblings
(``non-convergence`` otherwise), and no acknowledged write is gone unless a write that causally follows it
(its writer had read it, or it came later in the same session) replaced it (``lost-update``). Stale reads
during the run are allowed: this is eventual, not causal, consistency.

Bug variants:

* ``lww-wall-clock`` — last writer wins by each node's local clock (``self.now()``, which the ``skew``
  fault moves): each key keeps only the version with the highest (timestamp, node) and contexts are
  ignored. Concurrent writes are silently dropped, and so is a causally later write whose node's clock is
  behind — Cassandra's and Riak's ``allow_mult=false`` behaviour that Kingsbury's Jepsen analyses showed
  losing acknowledged writes.
* ``vnode-vclock`` — a version is stamped with one vector clock, the client's context with the
  coordinator's entry incremented (Riak before 2.0, "vnode vclocks"), and replaces every version whose
  clock it dominates. Two sessions writing through one coordinator without having read each other's write
  still get ordered clocks, so the first write is silently replaced: the lost update dotted version
  vectors were invented to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from splitbrain.impls.eventual.anti_entropy import AntiEntropyNode, require_settling
from splitbrain.impls.eventual.causal_checks import HistoryCheck, causal_checks
from splitbrain.sim import ClientOp, FaultConfig, Rand, Request, Workload, World

Dot = tuple[str, int]
Context = tuple[tuple[str, int], ...]  # a version vector: sorted (node, highest counter seen) pairs
KEYS = ("x", "y")


@dataclass(frozen=True, slots=True)
class Version:
    """One sibling: ``value`` written by the ``dot``-th write its coordinator took, with the write's
    causal ``context``; ``stamp`` is the (local clock, node) of ``lww-wall-clock`` only."""

    dot: Dot
    value: Any
    context: Context
    stamp: tuple[int, str] | None = None

    @property
    def clock(self) -> Context:
        """The context with the version's own dot: everything a reader of this version has seen."""
        return join(self.context, (self.dot,))


def covers(context: Context, dot: Dot) -> bool:
    """The context includes ``dot`` (a version vector covers every dot up to its counter)."""
    node, n = dot
    return any(k == node and m >= n for k, m in context)


def join(a: Context, b: Context) -> Context:
    """The entry-wise maximum of two version vectors."""
    out = dict(a)
    for k, m in b:
        if m > out.get(k, 0):
            out[k] = m
    return tuple(sorted(out.items()))


def merge_siblings(a: Iterable[Version], b: Iterable[Version], *, by_clock: bool = False) -> tuple[Version, ...]:
    """The union of two sibling sets minus every version another one replaces (sorted by dot).

    ``by_clock`` is the ``vnode-vclock`` bug: a version replaces another whose dot its whole *clock*
    covers, so the coordinator's own increment counts as if the writer had seen the other version.
    """
    union = {v.dot: v for v in (*a, *b)}
    kept = []
    for dot in sorted(union):
        if not any(covers(u.clock if by_clock else u.context, dot) for d, u in union.items() if d != dot):
            kept.append(union[dot])
    return tuple(kept)


class GossipKVNode(AntiEntropyNode):
    """The correct replica: dotted version vectors, siblings kept, contexts from the session's reads."""

    #: the ``vnode-vclock`` bug's switch (see :func:`merge_siblings`)
    replace_by_clock: ClassVar[bool] = False

    def on_start(self) -> None:
        s = self.storage
        if "store" not in s:
            s.update(store={}, counters={}, sessions={})
        super().on_start()

    # -- clients -------------------------------------------------------------------------------------
    def on_client(self, request: Request) -> None:
        key = request.key
        if request.f == "write":
            self.write(request.process, key, request.value)
            self.reply(request)
            self.spread(((key, self.storage["store"][key]),))
        elif request.f == "read":
            self.reply(request, self.read(request.process, key))
        else:
            self.fail(request, f"unknown operation {request.f!r}")

    def read(self, process: int, key: Any) -> tuple[Any, ...]:
        """The siblings' values; the session's context for ``key`` now includes every one of them."""
        siblings = self.storage["store"].get(key, ())
        seen = self.session(process, key)
        for v in siblings:
            seen = join(seen, v.clock)
        self.storage["sessions"][(process, key)] = seen
        return tuple(sorted(v.value for v in siblings))

    def write(self, process: int, key: Any, value: Any) -> None:
        """Coordinate a write: a new dot of this node, with the session's context."""
        s = self.storage
        n = s["counters"].get(key, 0) + 1
        s["counters"][key] = n
        version = self.stamp(Version((self.id, n), value, self.session(process, key)))
        s["store"][key] = self.merge_key(s["store"].get(key, ()), (version,))
        # The session's context stays what it read. Adding the new dot would be wrong: as a version
        # vector, (n1, 5) claims every earlier dot of n1 too, and n1 may hold (n1, 4) from another
        # session, unseen by this one. (A Riak client that puts twice without reading in between makes
        # siblings of its own writes for the same reason.)

    def session(self, process: int, key: Any) -> Context:
        context: Context = self.storage["sessions"].get((process, key), ())
        return context

    # -- replication (AntiEntropyNode) ---------------------------------------------------------------
    def snapshot(self) -> tuple[tuple[Any, tuple[Version, ...]], ...]:
        store = self.storage["store"]
        return tuple((k, store[k]) for k in sorted(store))

    def absorb(self, state: tuple[tuple[Any, tuple[Version, ...]], ...]) -> None:
        store = self.storage["store"]
        for key, siblings in state:
            store[key] = self.merge_key(store.get(key, ()), siblings)

    # -- the parts the bug variants change -------------------------------------------------------------
    def stamp(self, version: Version) -> Version:
        return version

    def merge_key(self, mine: tuple[Version, ...], theirs: tuple[Version, ...]) -> tuple[Version, ...]:
        return merge_siblings(mine, theirs, by_clock=self.replace_by_clock)


class LWWWallClockNode(GossipKVNode):
    """Bug: last writer wins by (local clock, node id); contexts are ignored, one version per key."""

    def stamp(self, version: Version) -> Version:
        return Version(version.dot, version.value, (), (self.now(), self.id))

    def merge_key(self, mine: tuple[Version, ...], theirs: tuple[Version, ...]) -> tuple[Version, ...]:
        candidates = [v for v in (*mine, *theirs) if v.stamp is not None]
        return (max(candidates, key=lambda v: (v.stamp, v.dot)),) if candidates else ()


class VnodeVClockNode(GossipKVNode):
    """Bug: one vector clock per version, the coordinator's entry bumped; dominance replaces."""

    replace_by_clock = True


def siblings_in(storage: dict[str, Any], key: Any) -> tuple[Any, ...]:
    """The values a replica holds for ``key``, sorted (what a read there returns)."""
    return tuple(sorted(v.value for v in storage.get("store", {}).get(key, ())))


#: the anomalies each check fails on; the stale reads eventual consistency allows are not among them
GOSSIP_CHECKS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("convergence", ("non-convergence",)),
    ("lost-update", ("lost-update", "stale-final-read", "monotonic-writes", "writes-follow-reads")),
    ("causality", None),
)
ALLOWED = ("read-your-writes", "monotonic-reads", "causal-read")

GOSSIP_FAULTS = FaultConfig(weights={"partition": 20, "heal": 20, "crash": 6, "restart": 30, "skew": 10})

#: the faults and run length each bug variant is searched with (tests, ``benchmarks/bug_zoo.py``); the
#: correct version must pass under each of them too
SEARCH: dict[str, tuple[FaultConfig, int]] = {
    "lww-wall-clock": (FaultConfig(kinds=("skew", "partition"), weights={"skew": 20, "partition": 10}), 100),
    "vnode-vclock": (GOSSIP_FAULTS, 100),
}


class GossipKVWorkload(Workload):
    """Three replicas, four sessions (two share a coordinator), keys x and y, unique written values."""

    name = "gossip-kv"
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "eventual"  # judged by history_checks(), not by a sequential model
    variants = {"correct": GossipKVNode, "lww-wall-clock": LWWWallClockNode, "vnode-vclock": VnodeVClockNode}
    node_count = 3
    clients = 4
    op_timeout = 60
    delay = (1, 5)
    faults = GOSSIP_FAULTS
    max_steps = 300
    settle = 100  # enough for up to five replicas to converge (require_settling)

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        require_settling(self, GossipKVNode.gossip_period)

    def generate(self, rand: Rand, process: int) -> ClientOp:
        key = rand.choice(KEYS)
        if rand.randint(0, 1):
            return ClientOp("read", None, key)
        return ClientOp("write", rand.unique(), key)

    def choose_node(self, rand: Rand, nodes: Sequence[str], process: int) -> str:
        """Session affinity: a session always talks to the coordinator that keeps its context."""
        return nodes[process % len(nodes)]

    def final_reads(self, world: World) -> Iterator[tuple[str, Any, Any]]:
        for node in world.node_ids:
            for key in KEYS:
                yield node, key, siblings_in(world.storage(node), key)

    def history_checks(self) -> list[tuple[str, HistoryCheck]]:
        return causal_checks(GOSSIP_CHECKS, ALLOWED)
