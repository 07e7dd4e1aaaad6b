"""The ``circuit-breaker`` workload: a breaker in front of a flaky backend, fuzzed under controlled threads.

Two nodes. ``n1`` is a :class:`~splitbrain.sim.threads.ThreadedNode` hosting one
:class:`~splitbrain.impls.traffic.breaker.breaker.CircuitBreaker` (threshold 2, cool-down 20 ticks, at most 2
half-open probes); ``n2`` is the downstream service. Every client operation is a guarded call
(``f="call"``) that runs in its own controlled thread on ``n1``:

1. the thread asks the breaker (``acquire``); a rejected call fails at once (``fail``: it definitely did
   not reach the backend; the error carries the breaker's answer) and its client backs off a little;
2. an admitted call goes downstream as a message to ``n2``, with a deadline of 10 ticks. ``n2`` answers
   success or failure: it alternates healthy and sick spells of random length (drawn through the
   world), and answers mostly ok while healthy and mostly not while sick. A lost or late answer — drops,
   partitions, a paused or crashed ``n2`` — is a failure at the deadline;
3. the outcome is recorded in a second controlled thread (``record``), which then answers the client.

So failures, trips, cool-downs (virtual time, on ``n1``'s skewable clock) and recoveries all happen
under the scheduler's control, and threads interleave at every lock acquisition and marked access.

Checked two ways:

* **invariants**, on the order in which things really happened: ``n1`` logs each admission and each
  recorded outcome in the same step as the breaker's critical section, and an audit replays the log:
  ``no-pass-during-cooldown`` (once the breaker has opened at ``t``, no call is admitted before
  ``t + cooldown``; only a probe's success ends an open period legitimately — the audit does not
  accept a "closed" from a probe of an earlier half-open period) and ``probes-within-limit`` (at most
  ``max_probes`` calls admitted in one half-open period are in flight);
* **the model**: the calls' two actions (:mod:`splitbrain.impls.traffic.breaker.history`) must be linearizable
  against :class:`~splitbrain.impls.traffic.breaker.model.CircuitBreakerModel` with the same parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec

from splitbrain.checker.linearizability import check_linearizability
from splitbrain.histories import History
from splitbrain.impls.traffic.breaker.breaker import (
    CircuitBreaker,
    Permit,
    Recorded,
    ResetRaceBreaker,
    StampedingBreaker,
)
from splitbrain.impls.traffic.breaker.history import breaker_actions
from splitbrain.impls.traffic.breaker.model import (
    CLOSED,
    CLOSED_BY_PROBE,
    HALF_OPEN,
    OPEN,
    REOPENED,
    TRIPPED,
    CircuitBreakerModel,
)
from splitbrain.sim import ClientOp, FaultConfig, Node, Rand, Request, Workload, World, invariant
from splitbrain.sim.threads import Rejected, Sync, ThreadedNode

FRONT, BACKEND = "n1", "n2"
FAILURE_THRESHOLD, COOLDOWN, MAX_PROBES = 2, 20, 2
DOWNSTREAM_TIMEOUT = 10
#: ticks a healthy or sick spell of the backend lasts
SPELL = (10, 40)
#: out of 10 answers, how many are ok while healthy / while sick
OK_IN_TEN = {True: 9, False: 2}


class Call(msgspec.Struct, frozen=True):
    request: int


class Result(msgspec.Struct, frozen=True):
    request: int
    ok: bool


class Admitted(msgspec.Struct, frozen=True):
    """Logged by ``n1`` right after ``acquire`` returned (same step as its critical section)."""

    process: int
    request: int
    permit: Permit


class Reported(msgspec.Struct, frozen=True):
    """Logged by ``n1`` right after ``record`` returned."""

    process: int
    request: int
    permit: Permit
    success: bool
    recorded: Recorded


class BreakerNode(ThreadedNode):
    """``n1``: the breaker and its callers' threads; ``n2``: the flaky downstream service."""

    breaker_class: ClassVar[type[CircuitBreaker]] = CircuitBreaker

    def create(self, sync: Sync) -> CircuitBreaker:
        return self.breaker_class(
            sync, failure_threshold=FAILURE_THRESHOLD, cooldown=COOLDOWN, max_probes=MAX_PROBES
        )

    def on_start(self) -> None:
        if self.id != FRONT:
            self.healthy = True
            self.set_timer(self.randint(*SPELL), "spell")
            return
        self.storage["incarnation"] = self.incarnation = int(self.storage.get("incarnation", 0)) + 1
        self.stamp = 0
        self.log: list[Admitted | Reported] = []
        self.waiting: dict[int, tuple[Request, Permit, dict[str, Any]]] = {}
        super().on_start()

    # -- the backend ----------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Call) and self.id == BACKEND:
            self.send(src, Result(msg.request, self.randint(1, 10) <= OK_IN_TEN[self.healthy]))
        elif isinstance(msg, Result) and self.id == FRONT:
            entry = self.waiting.pop(msg.request, None)
            if entry is not None:  # else a duplicate or an answer after the deadline
                self.cancel_timer(f"deadline-{msg.request}")
                self._report(entry, msg.ok)

    def on_timer(self, name: str) -> None:
        if name == "spell":
            self.healthy = not self.healthy
            self.set_timer(self.randint(*SPELL), "spell")
        elif name.startswith("deadline-"):
            entry = self.waiting.pop(int(name.removeprefix("deadline-")), None)
            if entry is not None:
                self._report(entry, False)
        else:
            super().on_timer(name)

    # -- guarded calls ----------------------------------------------------------------------------------
    def on_client(self, request: Request) -> None:
        if request.f != "call":
            self.fail(request, f"unknown operation {request.f!r}")
            return
        self.spawn(f"p{request.process}", lambda: self._admit(request), self._answer(request))

    def _answer(self, request: Request) -> Callable[[str, Any], None]:
        def done(kind: str, value: Any) -> None:
            if kind == "fail":
                self.fail(request, value)
            elif value is not None:  # None: admitted, the answer comes after the downstream call
                self.reply(request, value)

        return done

    def _next_stamp(self) -> int:
        self.stamp += 1
        return self.stamp

    def _admit(self, request: Request) -> dict[str, Any] | None:
        """Runs in the call's thread: ask the breaker, then answer (rejected) or call downstream."""
        before = self._next_stamp()
        permit = self.obj.acquire()
        after = self._next_stamp()
        self.log.append(Admitted(request.process, request.id, permit))
        report = {
            "decision": permit.decision, "generation": permit.generation, "at": permit.at,
            "acquire": (self.incarnation, before, after),
        }
        if not permit.admitted:
            raise Rejected(report)
        self.waiting[request.id] = (request, permit, report)
        self.send(BACKEND, Call(request.id))
        self.set_timer(DOWNSTREAM_TIMEOUT, f"deadline-{request.id}")
        return None

    def _report(self, entry: tuple[Request, Permit, dict[str, Any]], ok: bool) -> None:
        request, permit, report = entry
        self.spawn(f"p{request.process}-outcome", lambda: self._record(request, permit, ok, report),
                   self._answer(request))

    def _record(self, request: Request, permit: Permit, ok: bool, report: dict[str, Any]) -> dict[str, Any]:
        """Runs in a second thread of the call: tell the breaker how the downstream call went."""
        before = self._next_stamp()
        recorded = self.obj.record(permit, ok)
        after = self._next_stamp()
        self.log.append(Reported(request.process, request.id, permit, ok, recorded))
        return {
            **report, "outcome": "ok" if ok else "failed", "effect": recorded.effect, "recorded_at": recorded.at,
            "record": (self.incarnation, before, after),
        }


class StampedeNode(BreakerNode):
    breaker_class = StampedingBreaker


class ResetRaceNode(BreakerNode):
    breaker_class = ResetRaceBreaker


# -- invariants: an audit of the breaker's log, in the order things happened ------------------------------
@dataclass
class BreakerAudit:
    """What the audit believes the breaker's state must be, after the events of ``n1``'s log so far."""

    seen: int = 0
    phase: str = CLOSED
    opened_at: float = 0
    probes: dict[int, int] = field(default_factory=dict)  # request -> process, admitted this half-open period
    early_pass: str | None = None
    too_many_probes: str | None = None

    def catch_up(self, log: list[Admitted | Reported], cooldown: float, max_probes: int) -> None:
        for event in log[self.seen:]:
            if isinstance(event, Admitted):
                self._admitted(event, cooldown, max_probes)
            else:
                self._reported(event)
        self.seen = len(log)

    def _admitted(self, event: Admitted, cooldown: float, max_probes: int) -> None:
        permit = event.permit
        if not permit.admitted or self.phase == CLOSED:
            return
        if self.phase == OPEN:
            if permit.at - self.opened_at < cooldown:
                self.early_pass = self.early_pass or (
                    f"p{event.process}'s call (request {event.request}) was admitted at t={permit.at:g}, but "
                    f"the breaker opened at t={self.opened_at:g} and its cool-down of {cooldown:g} lasts until "
                    f"t={self.opened_at + cooldown:g} (and no probe has half-opened it since)"
                )
                return
            self.phase, self.probes = HALF_OPEN, {}
        self.probes[event.request] = event.process
        if len(self.probes) > max_probes:
            who = ", ".join(f"p{p}" for p in self.probes.values())
            self.too_many_probes = self.too_many_probes or (
                f"{len(self.probes)} calls admitted in one half-open period are in flight ({who}); "
                f"at most {max_probes} probes may be"
            )

    def _reported(self, event: Reported) -> None:
        effect = event.recorded.effect
        probe = self.probes.pop(event.request, None) is not None
        if effect in (TRIPPED, REOPENED):
            self.phase, self.opened_at, self.probes = OPEN, event.recorded.at, {}
        elif effect == CLOSED_BY_PROBE and self.phase == HALF_OPEN and probe:
            self.phase, self.probes = CLOSED, {}


def breaker_audit(world: World) -> BreakerAudit | None:
    """The audit of ``n1``'s current incarnation, brought up to date (``None`` while it is down)."""
    node = world.node(FRONT)
    if not isinstance(node, BreakerNode) or not hasattr(node, "log"):
        return None
    audits: dict[Node, BreakerAudit] = world.__dict__.setdefault("_breaker_audits", {})
    audit = audits.setdefault(node, BreakerAudit())
    breaker = node.obj
    audit.catch_up(node.log, breaker.cooldown, breaker.max_probes)
    return audit


@invariant
def no_pass_during_cooldown(world: World) -> str | None:
    audit = breaker_audit(world)
    return audit.early_pass if audit is not None else None


@invariant
def probes_within_limit(world: World) -> str | None:
    audit = breaker_audit(world)
    return audit.too_many_probes if audit is not None else None


#: per bug variant: the faults and steps its search uses (the correct version is tested under each too)
BREAKER_FAULTS = FaultConfig(kinds=("drop", "delay", "partition", "pause", "skew", "crash"), max_down=1)
SEARCH: dict[str, tuple[FaultConfig, int]] = {
    "probe-stampede": (FaultConfig(kinds=()), 300),
    "reset-race": (FaultConfig(kinds=()), 500),
}


class CircuitBreakerWorkload(Workload):
    """A breaker (n1) in front of a flaky backend (n2); four clients make guarded calls."""

    name = "circuit-breaker"
    disk = "durable"  # it never calls fsync: every storage write must be durable at once (a power loss = a crash)
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "circuit-breaker"
    variants = {"correct": BreakerNode, "probe-stampede": StampedeNode, "reset-race": ResetRaceNode}
    node_count = 2
    clients = 4
    op_timeout = 400
    backoff = 5
    delay = (1, 3)
    faults = BREAKER_FAULTS
    max_steps = 500
    invariants = (no_pass_during_cooldown, probes_within_limit)

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("call")

    def choose_node(self, rand: Rand, nodes: Any, process: int) -> str:
        return FRONT

    def history_checks(self) -> list[tuple[str, Callable[[History], tuple[Any, str]]]]:
        model = CircuitBreakerModel(FAILURE_THRESHOLD, COOLDOWN, MAX_PROBES)

        def linearizable(history: History) -> tuple[Any, str]:
            result = check_linearizability(breaker_actions(history), model, timeout=10.0)
            return result.valid, result.explain()

        return [("linearizability", linearizable)]
