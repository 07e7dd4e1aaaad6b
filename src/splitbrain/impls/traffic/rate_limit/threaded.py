"""Workloads ``token-bucket``, ``leaky-bucket`` and ``leaky-queue``: one limiter object, many threads.

Each workload runs one node, a :class:`~splitbrain.sim.threads.ThreadedNode` that hosts a single limiter
object; every client request runs in its own controlled thread against it, so the choice source decides
how the threads interleave at each lock and ``sync.point``. The limiter's clock is the node's local
clock, which the ``skew`` fault offsets, makes drift, and steps backwards.

* ``token-bucket`` — :class:`TokenBucket`, clients call ``acquire`` (``ok`` admitted, ``fail`` rejected).
* ``leaky-bucket`` — the same calls against the GCRA meter, :class:`LeakyBucketMeter`.
* ``leaky-queue`` — :class:`LeakyQueue`: ``enqueue`` is answered ``ok`` when the request leaves the queue
  (a ``leak`` timer drains it in its own thread) and ``fail`` at once when the queue is full.

Every variant is the correct object or one bug: ``check-then-act``, ``clock-backwards``. Histories go to
:mod:`splitbrain.checker.rate_limit` on the node's own clock (:class:`SkewedClockFrame`); the invariants
check the object's state after every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar

from splitbrain.checker.rate_limit import (
    QUEUE_FULL,
    RATE_LIMITED,
    CheckOutcome,
    check_admissions,
    check_queue_rejections,
    check_rate_limit,
)
from splitbrain.histories import History
from splitbrain.impls.traffic.rate_limit.clock_frame import SkewedClockFrame
from splitbrain.impls.traffic.rate_limit.leaky_bucket import LEAKY_METERS, LEAKY_QUEUES, LeakyBucketMeter, LeakyQueue
from splitbrain.impls.traffic.rate_limit.token_bucket import TOKEN_BUCKETS, TokenBucket
from splitbrain.sim import ClientOp, FaultConfig, Rand, Request, Workload, World, invariant
from splitbrain.sim.threads import Rejected, Sync, ThreadedNode

RATE = Fraction(1, 4)  # tokens per tick of the node's clock
BURST = 2
QUEUE_CAPACITY = 2
QUEUE_INTERVAL = 4  # ticks between departures
LEAK_EVERY = 2  # ticks between the drainer's runs
NODE = "n1"

#: skew only (with one node no other fault matters); max_skew 40 ticks = up to 20 tokens of clock
CLOCK_FAULTS = FaultConfig(kinds=("skew",), weights={"skew": 20}, max_skew=40)


# -- the nodes -------------------------------------------------------------------------------------------
class MeterNode(ThreadedNode):
    """Hosts a limiter with ``try_acquire()``; ``acquire`` requests are admitted (``ok``) or ``fail``."""

    limiter: ClassVar[type[TokenBucket] | type[LeakyBucketMeter]] = TokenBucket

    def create(self, sync: Sync) -> Any:
        return self.limiter(RATE, BURST, sync)

    def call(self, obj: Any, request: Request) -> Any:
        if request.f != "acquire":
            raise Rejected(f"unknown operation {request.f!r} (a rate limiter takes acquire)")
        if obj.try_acquire():
            return True
        raise Rejected(RATE_LIMITED)


class TokenBucketNode(MeterNode):
    limiter = TOKEN_BUCKETS["correct"]


class CheckThenActTokenBucketNode(MeterNode):
    limiter = TOKEN_BUCKETS["check-then-act"]


class ClockBackwardsTokenBucketNode(MeterNode):
    limiter = TOKEN_BUCKETS["clock-backwards"]


class LeakyBucketNode(MeterNode):
    limiter = LEAKY_METERS["correct"]


class CheckThenActLeakyBucketNode(MeterNode):
    limiter = LEAKY_METERS["check-then-act"]


class ClockBackwardsLeakyBucketNode(MeterNode):
    limiter = LEAKY_METERS["clock-backwards"]


class LeakyQueueNode(ThreadedNode):
    """Hosts a :class:`LeakyQueue`. An accepted ``enqueue`` is answered when it leaves the queue; the
    node notes the clock reading of every departure (``departures``) in the step that lets it out."""

    queue: ClassVar[type[LeakyQueue]] = LEAKY_QUEUES["correct"]

    def create(self, sync: Sync) -> LeakyQueue:
        self.departures: list[int] = []
        self.set_timer(LEAK_EVERY, "leak")
        return self.queue(QUEUE_CAPACITY, QUEUE_INTERVAL, sync)

    def on_client(self, request: Request) -> None:
        def done(kind: str, value: Any) -> None:
            if kind == "fail":
                self.fail(request, value)
            # accepted: the answer waits for the request's departure (see _leak)

        self.spawn(f"p{request.process}", lambda: self.call(self.obj, request), done)

    def call(self, obj: LeakyQueue, request: Request) -> Any:
        if request.f != "enqueue":
            raise Rejected(f"unknown operation {request.f!r} (a leaky queue takes enqueue)")
        if not obj.offer(request):
            raise Rejected(QUEUE_FULL)
        return None

    def on_timer(self, name: str) -> None:
        if name != "leak":
            super().on_timer(name)
            return
        self.spawn("leak", self._leak)
        self.set_timer(LEAK_EVERY, "leak")

    def _leak(self) -> None:
        request = self.obj.leak()
        if request is not None:
            reading = self.now()  # the same step as the departure: leak() has no point after its clock
            self.departures.append(reading)
            self.reply(request, reading)


class CheckThenActLeakyQueueNode(LeakyQueueNode):
    queue = LEAKY_QUEUES["check-then-act"]


class ClockBackwardsLeakyQueueNode(LeakyQueueNode):
    queue = LEAKY_QUEUES["clock-backwards"]


# -- invariants ------------------------------------------------------------------------------------------
def _object(world: World) -> Any:
    node = world.node(NODE)
    return getattr(node, "obj", None)


@invariant
def tokens_within_burst(world: World) -> str | None:
    """The token bucket holds between 0 and ``burst`` tokens."""
    bucket = _object(world)
    if isinstance(bucket, TokenBucket) and not 0 <= bucket.tokens <= bucket.burst:
        return f"{NODE}'s bucket holds {bucket.tokens} tokens (allowed: 0 to {bucket.burst})"
    return None


@invariant
def backlog_within_burst(world: World) -> str | None:
    """The GCRA schedule never runs more than ``burst`` requests' worth ahead of the clock."""
    meter = _object(world)
    if isinstance(meter, LeakyBucketMeter) and meter.backlog() > meter.tau + meter.interval:
        return f"{NODE}'s meter schedules {meter.backlog()} ahead of its clock (at most {meter.tau + meter.interval})"
    return None


@invariant
def queue_within_capacity(world: World) -> str | None:
    """The leaky queue never holds more than its capacity."""
    queue = _object(world)
    if isinstance(queue, LeakyQueue) and len(queue) > queue.capacity:
        return f"{NODE}'s queue holds {len(queue)} requests (capacity {queue.capacity})"
    return None


@dataclass
class DepartureAudit:
    """The highest clock reading the node has shown (the clock is constant within a step, so reading it
    after every step sees every value) and how many departures were already checked."""

    peak: int = 0
    checked: int = 0
    readings: list[int] = field(default_factory=list)


@invariant
def departures_at_rate(world: World) -> str | None:
    """Departures ``j < k`` are at least ``(k-j)*interval`` apart on the queue's clock: the ``k``-th left
    at a clock no higher than the highest reading shown so far, the ``j``-th at one no lower than its
    recorded reading, so the highest reading minus the ``j``-th must be at least that."""
    node = world.node(NODE)
    audit: DepartureAudit = world.__dict__.setdefault("_departure_audit", DepartureAudit())
    audit.peak = max(audit.peak, world.clock(NODE).read(world.time))
    departures: list[int] = getattr(node, "departures", [])
    while audit.checked < len(departures):
        k = audit.checked
        for j, earlier in enumerate(departures[:k]):
            if audit.peak - earlier < (k - j) * QUEUE_INTERVAL:
                return (
                    f"departures {j} and {k} of {NODE}'s queue: {k - j} intervals of {QUEUE_INTERVAL} ticks need "
                    f"the clock to advance {(k - j) * QUEUE_INTERVAL}, but it read {earlier} at departure {j} and "
                    f"has shown at most {audit.peak} since"
                )
        audit.checked += 1
    return None


#: per variant: the faults and steps it is searched with (bug_zoo, tests); the correct versions are
#: tested under each configuration too
HEAVY_SKEW = FaultConfig(kinds=("skew",), weights={"skew": 80}, max_skew=40)
SEARCH: dict[str, tuple[FaultConfig, int]] = {
    "check-then-act": (FaultConfig(kinds=()), 120),
    "clock-backwards": (HEAVY_SKEW, 300),
}


# -- workloads -------------------------------------------------------------------------------------------
class _LimiterWorkload(Workload):
    node_count = 1
    disk = "durable"  # it never calls fsync: every storage write must be durable at once (a power loss = a crash)
    clients = 3
    op_timeout = 100
    backoff = 3
    delay = (1, 3)
    faults = CLOCK_FAULTS
    max_steps = 250

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("acquire")

    def history_checks(self) -> list[tuple[str, Any]]:
        def rate_limit(history: History) -> CheckOutcome:
            return check_rate_limit(history, rate=RATE, burst=BURST, clock=SkewedClockFrame(history, NODE))

        return [("rate-limit", rate_limit)]


class TokenBucketWorkload(_LimiterWorkload):
    """Three clients ``acquire`` from a token bucket of rate 1/4 per tick and burst 2 under clock skew."""

    name = "token-bucket"
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "rate-limit"
    variants = {
        "correct": TokenBucketNode, "check-then-act": CheckThenActTokenBucketNode,
        "clock-backwards": ClockBackwardsTokenBucketNode,
    }
    invariants = (tokens_within_burst,)


class LeakyBucketWorkload(_LimiterWorkload):
    """The same clients against the GCRA meter (rate 1/4 per tick, burst 2)."""

    name = "leaky-bucket"
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "rate-limit"
    variants = {
        "correct": LeakyBucketNode, "check-then-act": CheckThenActLeakyBucketNode,
        "clock-backwards": ClockBackwardsLeakyBucketNode,
    }
    invariants = (backlog_within_burst,)


class LeakyQueueWorkload(_LimiterWorkload):
    """Three clients ``enqueue`` into a queue of 2 drained one per 4 ticks."""

    name = "leaky-queue"
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "rate-limit"
    variants = {
        "correct": LeakyQueueNode, "check-then-act": CheckThenActLeakyQueueNode,
        "clock-backwards": ClockBackwardsLeakyQueueNode,
    }
    invariants = (queue_within_capacity, departures_at_rate)

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("enqueue")

    def history_checks(self) -> list[tuple[str, Any]]:
        def output_rate(history: History) -> CheckOutcome:
            frame = SkewedClockFrame(history, NODE)
            return check_admissions(history, rate=Fraction(1, QUEUE_INTERVAL), burst=1, f="enqueue", clock=frame)

        def room(history: History) -> CheckOutcome:
            return check_queue_rejections(history, capacity=QUEUE_CAPACITY)

        return [("rate-limit", output_rate), ("queue-rejections", room)]


