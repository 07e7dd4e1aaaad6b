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

**Quorums** (Dynamo's N, R and W; ``GossipKVWorkload(n=3, r=2, w=2)``, ``--set r=2 --set w=2``): each
key has ``n`` replicas (every node by default; else ``n`` nodes picked by the key's hash). With ``w > 1`` a
coordinator applies a write, sends it to the key's replicas and acknowledges it once ``w`` of them hold
it; with ``r > 1`` it asks the replicas, merges the first ``r`` answers and, before answering, writes the
merge back until ``w`` replicas hold it (the second phase of Attiya, Bar-Noy and Dolev's quorum register,
1995), so that a later read cannot see less. With ``r + w > n`` every read then sees every write
acknowledged before it began, and a partition's minority side can neither read nor write. The histories
``splitbrain cap`` measures are then those of a linearizable *multi-value* register
(``splitbrain.impls.eventual.siblings``; concurrent writes still become siblings) — but not by
construction: Attiya, Bar-Noy and Dolev's proof orders versions totally, and sibling sets are only
partially ordered, so two reads racing two concurrent writes can each see one of them. A write that
cannot reach ``w`` replicas is not answered (its client times out: it may yet spread); a read that cannot
reach ``r`` fails after ``quorum_timeout`` ticks. ``r = w = 1`` (the default) is the behaviour above,
message for message.

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

import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec

from splitbrain.errors import UsageError
from splitbrain.impls.eventual.anti_entropy import AntiEntropyNode, Mail, require_settling
from splitbrain.impls.eventual.causal_checks import HistoryCheck, causal_checks
from splitbrain.impls.eventual.siblings import SiblingsRegister
from splitbrain.sim import ClientOp, FaultConfig, Node, Rand, Request, Workload, World

Dot = tuple[str, int]
Context = tuple[tuple[str, int], ...]  # a version vector: sorted (node, highest counter seen) pairs
KEYS = ("x", "y")


class Version(msgspec.Struct, frozen=True):
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
    if len(union) == 1:  # nothing to replace (the common case: one version, received again)
        return tuple(union.values())
    # each context as a dict (a version vector names each node once), so that `covers` is one lookup
    seen = {d: dict(u.clock if by_clock else u.context) for d, u in union.items()}
    kept = []
    contexts = seen.items()
    for dot in sorted(union):
        node, n = dot
        for d, ctx in contexts:  # another version whose context covers this dot replaces it
            if d != dot and node in ctx and ctx[node] >= n:
                break
        else:
            kept.append(union[dot])
    return tuple(kept)


# -- quorum messages: a tag names the client request (and, for a write, the version) it serves ------------
class Store(msgspec.Struct, frozen=True):
    """Merge these siblings of ``key`` and acknowledge with :class:`Stored`."""

    tag: tuple[Any, ...]
    key: Any
    siblings: tuple[Version, ...]


class Stored(msgspec.Struct, frozen=True):
    tag: tuple[Any, ...]


class Fetch(msgspec.Struct, frozen=True):
    """Answer with your siblings of ``key`` (:class:`Fetched`)."""

    tag: tuple[Any, ...]
    key: Any


class Fetched(msgspec.Struct, frozen=True):
    tag: tuple[Any, ...]
    siblings: tuple[Version, ...]


@dataclass
class _Waiting:
    """A client request a coordinator holds until a quorum answers: ``heard`` maps each replica heard from
    to the siblings it sent (a read's first phase) or to ``()`` (an acknowledgement)."""

    request: Request
    replicas: tuple[str, ...]
    need: int
    heard: dict[str, tuple[Version, ...]] = field(default_factory=dict)
    merged: tuple[Version, ...] | None = None  # a read's answer, while it is written back


class GossipKVNode(AntiEntropyNode):
    """The correct replica: dotted version vectors, siblings kept, contexts from the session's reads."""

    #: the ``vnode-vclock`` bug's switch (see :func:`merge_siblings`)
    replace_by_clock: ClassVar[bool] = False
    #: Dynamo's N, R and W (the workload's ``n``, ``r``, ``w`` settings make a subclass with them):
    #: replicas per key (``None``: every node), replicas a read and a write wait for
    replicas: ClassVar[int | None] = None
    read_quorum: ClassVar[int] = 1
    write_quorum: ClassVar[int] = 1
    #: ticks a coordinator waits for a read quorum before failing the read
    quorum_timeout: ClassVar[int] = 30

    def on_start(self) -> None:
        s = self.storage
        if "store" not in s:
            s.update(store={}, counters={}, sessions={})
        self.waiting: dict[tuple[Any, ...], _Waiting] = {}
        super().on_start()

    # -- clients -------------------------------------------------------------------------------------
    def on_client(self, request: Request) -> None:
        key = request.key
        replicas = self.replicas_of(key)
        if request.f == "write":
            version = self.write(request.process, key, request.value)
            siblings = self.storage["store"][key]
            if self.write_quorum == 1 and self.id in replicas:
                self.reply(request)
                self.spread(((key, siblings),))
            else:
                self.replicate((request.id, version.dot), request, key, siblings, replicas)
        elif request.f == "read":
            if self.read_quorum == 1 and self.id in replicas:
                self.reply(request, self.read(request.process, key))
            else:
                self.fetch(request, key, replicas)
        else:
            self.fail(request, f"unknown operation {request.f!r}")

    def read(self, process: int, key: Any, siblings: tuple[Version, ...] | None = None) -> tuple[Any, ...]:
        """The values of ``siblings`` (default: this replica's); the session's context for ``key`` now
        includes every one of them."""
        if siblings is None:
            siblings = self.storage["store"].get(key, ())
        seen = self.session(process, key)
        for v in siblings:
            seen = join(seen, v.clock)
        self.storage["sessions"][(process, key)] = seen
        return tuple(sorted(v.value for v in siblings))

    def write(self, process: int, key: Any, value: Any) -> Version:
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
        return version

    def session(self, process: int, key: Any) -> Context:
        context: Context = self.storage["sessions"].get((process, key), ())
        return context

    # -- quorums ---------------------------------------------------------------------------------------
    def replicas_of(self, key: Any) -> tuple[str, ...]:
        """The key's replicas: every node, or ``replicas`` nodes in ring order from the key's hash."""
        nodes = self.nodes
        if self.replicas is None or self.replicas >= len(nodes):
            return nodes
        start = zlib.crc32(repr(key).encode()) % len(nodes)
        return (nodes[start:] + nodes[:start])[: self.replicas]

    def replicate(
        self, tag: tuple[Any, ...], request: Request, key: Any, siblings: tuple[Version, ...],
        replicas: tuple[str, ...],
    ) -> None:
        """Send ``siblings`` to the replicas; answer ``request`` once ``write_quorum`` of them hold them
        (this node, when it is one, already does). Nodes that are not replicas get direct mail."""
        held: dict[str, tuple[Version, ...]] = {self.id: ()} if self.id in replicas else {}
        self.waiting[tag] = _Waiting(request, replicas, self.write_quorum, held)
        for peer in self.peers:
            self.send(peer, Store(tag, key, siblings) if peer in replicas else Mail(((key, siblings),)))
        self.set_timer(self.quorum_timeout, f"quorum {request.id}")
        self.progress(tag)

    def fetch(self, request: Request, key: Any, replicas: tuple[str, ...]) -> None:
        """Ask the replicas for their siblings of ``key``; :meth:`progress` merges ``read_quorum`` answers."""
        tag = (request.id, "fetch")
        mine = {self.id: self.storage["store"].get(key, ())} if self.id in replicas else {}
        self.waiting[tag] = _Waiting(request, replicas, self.read_quorum, mine)
        for peer in replicas:
            if peer != self.id:
                self.send(peer, Fetch(tag, key))
        self.set_timer(self.quorum_timeout, f"quorum {request.id}")
        self.progress(tag)

    def progress(self, tag: tuple[Any, ...]) -> None:
        """Move the request waiting on ``tag`` on once its quorum has answered."""
        w = self.waiting.get(tag)
        if w is None or len(w.heard) < w.need:
            return
        del self.waiting[tag]
        request, key = w.request, w.request.key
        if tag[1] != "fetch":  # a write, or a read's write-back: acknowledged by a write quorum
            if w.merged is None:
                self.reply(request)
            else:
                self.reply(request, self.read(request.process, key, w.merged))
            self.cancel_timer(f"quorum {request.id}")
            return
        if self.id in w.heard:
            w.heard[self.id] = self.storage["store"].get(key, ())  # its own replica, as it is now
        merged: tuple[Version, ...] = ()
        for siblings in w.heard.values():
            merged = self.merge_key(merged, siblings)
        self.absorb(((key, merged),))
        # the replicas that answered with the merge already hold it; the rest are sent it, so that a
        # read that comes after this one ends cannot see less than it returned
        holding: dict[str, tuple[Version, ...]] = {n: () for n, sibs in w.heard.items() if set(sibs) == set(merged)}
        if self.id in w.replicas:
            holding[self.id] = ()  # it has just merged the answer in
        back = (request.id, "write-back")
        self.waiting[back] = _Waiting(request, w.replicas, self.write_quorum, holding, merged)
        for peer in w.replicas:
            if peer not in holding:
                self.send(peer, Store(back, key, merged))
        self.progress(back)

    def on_message(self, src: str, msg: Any) -> None:
        kind = type(msg)
        if kind is Store:
            self.absorb(((msg.key, msg.siblings),))
            self.send(src, Stored(msg.tag))
        elif kind is Fetch:
            self.send(src, Fetched(msg.tag, self.storage["store"].get(msg.key, ())))
        elif kind is Stored or kind is Fetched:
            w = self.waiting.get(msg.tag)
            if w is not None and src in w.replicas:
                w.heard[src] = msg.siblings if kind is Fetched else ()
                self.progress(msg.tag)
        else:
            super().on_message(src, msg)

    def on_timer(self, name: str) -> None:
        if not name.startswith("quorum "):
            super().on_timer(name)
            return
        rid = int(name.split()[1])
        for tag in [t for t in self.waiting if t[0] == rid]:
            w = self.waiting.pop(tag)
            if w.request.f == "read":
                self.fail(w.request, f"no read quorum: {len(w.heard)} of {w.need} replicas answered")
            # a write may have reached some replicas and will spread from this one: it is left
            # unanswered, and its client's timeout makes its outcome unknown

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
        if theirs == mine:  # what a replica stores is already merged, and merging is idempotent
            return mine
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


_QUORUM_CLASSES: dict[tuple[type[Node], int | None, int, int], type[Node]] = {}


def with_quorums(cls: type[Node], n: int | None, r: int, w: int) -> type[Node]:
    """``cls`` with Dynamo's N, R and W set (one class per combination, made once)."""
    made = _QUORUM_CLASSES.get((cls, n, r, w))
    if made is None:
        name = f"{cls.__name__}[n={n or 'all'},r={r},w={w}]"
        made = type(name, (cls,), {"replicas": n, "read_quorum": r, "write_quorum": w,
                                   "__module__": cls.__module__, "__qualname__": name})
        _QUORUM_CLASSES[(cls, n, r, w)] = made
    return made


class GossipKVWorkload(Workload):
    """Three replicas, four sessions (two share a coordinator), keys x and y, unique written values.

    Settings beyond the base workload's: ``n`` (replicas per key; default every node), ``r`` and ``w``
    (read and write quorums; default 1, Dynamo's R = W = 1)."""

    name = "gossip-kv"
    disk = "durable"  # it never calls fsync: every storage write must be durable at once (a power loss = a crash)
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "eventual"  # judged by history_checks(), not by a sequential model
    #: what a linearizable version would satisfy (``splitbrain cap`` checks it; only ``r + w > n`` can)
    linearizability_model = SiblingsRegister
    variants = {"correct": GossipKVNode, "lww-wall-clock": LWWWallClockNode, "vnode-vclock": VnodeVClockNode}
    node_count = 3
    clients = 4
    op_timeout = 60
    delay = (1, 5)
    faults = GOSSIP_FAULTS
    max_steps = 300
    settle = 100  # enough for up to five replicas to converge (require_settling)
    n: int | None = None
    r: int = 1
    w: int = 1

    _settable = (*Workload._settable, "n", "r", "w")

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        require_settling(self, GossipKVNode.gossip_period)
        replicas = self.node_count if self.n is None else self.n
        for setting, value, top in (("n", replicas, self.node_count), ("r", self.r, replicas), ("w", self.w, replicas)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise UsageError(
                    f"workload {self.name}: {setting} must be an int from 1 to {top} "
                    f"({'node_count' if setting == 'n' else 'n, the replicas per key'}); got {value!r}"
                )

    def node_class(self, variant: str) -> type[Node]:
        cls = super().node_class(variant)
        n = None if self.n is None or self.n == self.node_count else self.n
        if n is None and self.r == 1 and self.w == 1:
            return cls  # Dynamo's R = W = 1 on every node: the classes as they are
        return with_quorums(cls, n, self.r, self.w)

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
