"""The ``wrr`` workload: a smooth weighted round-robin balancer with health checks, under controlled threads.

Four nodes. ``n1`` is a :class:`~splitbrain.sim.threads.ThreadedNode` hosting one
:class:`~splitbrain.impls.traffic.wrr.balancer.SmoothWeightedRoundRobin` over the backends ``n2``, ``n3``,
``n4`` with weights 3, 2, 1. Clients ask ``n1`` for picks (``f="pick"``); each pick runs in its own
controlled thread, so concurrent picks interleave at the balancer's lock and its marked accesses.

Health is checked by message, as a real balancer does: every 15 ticks ``n1`` pings the backends and
gives them 6 ticks to answer; then a health thread marks each backend up (it answered) or down (it did
not — a crash, a pause, a partition or a lost message). Backends that fail and recover thus come and go
under the scheduler's control, and every change starts a new segment of picks.

Checked two ways:

* **invariants**, on the order things really happened: ``n1`` logs each pick and each change of health
  in the step its critical section ran, and a :class:`~splitbrain.impls.traffic.wrr.checks.PickAudit` reads the log —
  ``no-pick-of-down-backend``, ``exact-share`` and ``smooth-share`` (see :mod:`splitbrain.impls.traffic.wrr.model`);
  the audit's healthy set is the one the marks made, not what the picks claim;
* **the history**: each pick's reply is ``[backend, [incarnation, health version], healthy]``, and the
  picks must be linearizable against the ``wrr`` model (:func:`~splitbrain.impls.traffic.wrr.checks.check_wrr`).

A crash of ``n1`` rebuilds the balancer with every backend healthy; the incarnation in the epoch starts
a new segment for the model, and a new audit for the invariants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import msgspec

from splitbrain.histories import History
from splitbrain.impls.traffic.wrr.balancer import NaiveRoundRobin, Pick, RacyCursorBalancer, SmoothWeightedRoundRobin
from splitbrain.impls.traffic.wrr.checks import PickAudit, check_wrr
from splitbrain.impls.traffic.wrr.model import DOWN, EXACT, SMOOTH
from splitbrain.sim import ClientOp, FaultConfig, Node, Rand, Request, Workload, World, invariant
from splitbrain.sim.threads import Rejected, Sync, ThreadedNode

BALANCER = "n1"
WEIGHTS = {"n2": 3, "n3": 2, "n4": 1}
HEALTH_EVERY = 15
HEALTH_DEADLINE = 6


class Ping(msgspec.Struct, frozen=True):
    round: tuple[int, int]  # (incarnation, number): a late answer to an earlier incarnation never counts


class Pong(msgspec.Struct, frozen=True):
    round: tuple[int, int]


class Picked(msgspec.Struct, frozen=True):
    """Logged by ``n1`` right after ``pick`` returned (the same step as its critical section)."""

    process: int
    pick: Pick


class Marked(msgspec.Struct, frozen=True):
    """Logged by ``n1`` right after ``mark`` changed a backend's health."""

    backend: str
    up: bool


class BalancerNode(ThreadedNode):
    """``n1``: the balancer, its pick threads and its health checker; the others: backends."""

    balancer_class: ClassVar[type[SmoothWeightedRoundRobin]] = SmoothWeightedRoundRobin

    def create(self, sync: Sync) -> SmoothWeightedRoundRobin:
        return self.balancer_class(WEIGHTS, sync)

    def on_start(self) -> None:
        if self.id != BALANCER:
            return
        self.storage["incarnation"] = self.incarnation = int(self.storage.get("incarnation", 0)) + 1
        self.log: list[Picked | Marked] = []
        self.round = (self.incarnation, 0)
        self.answered: set[str] = set()
        super().on_start()
        self.set_timer(HEALTH_EVERY, "health")

    # -- health checks ------------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Ping):
            self.send(src, Pong(msg.round))
        elif isinstance(msg, Pong) and self.id == BALANCER and msg.round == self.round:
            self.answered.add(src)

    def on_timer(self, name: str) -> None:
        if name == "health":
            self.round = (self.incarnation, self.round[1] + 1)
            self.answered = set()
            self.broadcast(Ping(self.round))
            self.set_timer(HEALTH_DEADLINE, "health-deadline")
        elif name == "health-deadline":
            verdicts = [(b, b in self.answered) for b in WEIGHTS]
            self.spawn(f"health-{self.round[1]}", lambda: self._apply(verdicts))
            self.set_timer(HEALTH_EVERY - HEALTH_DEADLINE, "health")
        else:
            super().on_timer(name)

    def _apply(self, verdicts: list[tuple[str, bool]]) -> None:
        """Runs in a health thread: mark each backend as its last check found it."""
        for backend, up in verdicts:
            if self.obj.mark(backend, up):
                self.log.append(Marked(backend, up))

    # -- picks ------------------------------------------------------------------------------------------
    def on_client(self, request: Request) -> None:
        if request.f != "pick":
            self.fail(request, f"unknown operation {request.f!r}")
            return
        super().on_client(request)

    def call(self, obj: SmoothWeightedRoundRobin, request: Request) -> Any:
        pick = obj.pick()
        self.log.append(Picked(request.process, pick))
        if pick.backend is None:
            raise Rejected("no healthy backend")
        return (pick.backend, (self.incarnation, pick.version), pick.healthy)


class BurstyNode(BalancerNode):
    balancer_class = NaiveRoundRobin


class RacyCursorNode(BalancerNode):
    balancer_class = RacyCursorBalancer


# -- invariants: an audit of the balancer's log ---------------------------------------------------------
def pick_audit(world: World) -> PickAudit | None:
    """The audit of ``n1``'s current incarnation, brought up to date (``None`` while it is down)."""
    node = world.node(BALANCER)
    if not isinstance(node, BalancerNode) or not hasattr(node, "log"):
        return None
    audits: dict[Node, tuple[PickAudit, list[int]]] = world.__dict__.setdefault("_wrr_audits", {})
    audit, seen = audits.setdefault(node, (PickAudit(WEIGHTS), [0]))
    for event in node.log[seen[0]:]:
        if isinstance(event, Marked):
            audit.mark(event.backend, event.up)
        else:
            audit.pick(event.pick.backend, f"p{event.process}")
    seen[0] = len(node.log)
    return audit


def _first(world: World, prop: str) -> str | None:
    audit = pick_audit(world)
    return audit.first.get(prop) if audit is not None else None


@invariant
def no_pick_of_down_backend(world: World) -> str | None:
    return _first(world, DOWN)


@invariant
def exact_share(world: World) -> str | None:
    return _first(world, EXACT)


@invariant
def smooth_share(world: World) -> str | None:
    return _first(world, SMOOTH)


WRR_FAULTS = FaultConfig(kinds=("drop", "delay", "partition", "pause", "crash"))
#: per bug variant: the faults and steps its search uses (the correct version is tested under each too)
SEARCH: dict[str, tuple[FaultConfig, int]] = {
    "bursty": (FaultConfig(kinds=()), 200),
    "shared-cursor-race": (FaultConfig(kinds=()), 200),
}


class WRRWorkload(Workload):
    """A balancer (n1) over three weighted backends (n2-n4) that fail and recover; four clients pick."""

    name = "wrr"
    disk = "durable"  # it never calls fsync: every storage write must be durable at once (a power loss = a crash)
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "wrr"
    variants = {"correct": BalancerNode, "bursty": BurstyNode, "shared-cursor-race": RacyCursorNode}
    node_count = 4
    clients = 4
    op_timeout = 400
    backoff = 5
    delay = (1, 3)
    faults = WRR_FAULTS
    max_steps = 300
    invariants = (no_pick_of_down_backend, exact_share, smooth_share)

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("pick")

    def choose_node(self, rand: Rand, nodes: Any, process: int) -> str:
        return BALANCER

    def history_checks(self) -> list[tuple[str, Callable[[History], tuple[Any, str]]]]:
        return [("linearizability", check_wrr)]
