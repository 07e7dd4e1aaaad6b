"""Workload ``rate-limit-cluster``: gateways that share one token bucket kept in a store node.

The shape of the usual distributed limiter — application servers that keep the bucket in Redis or etcd —
as plain simulator nodes: ``n1`` is the store, every other node a gateway that clients call. The store
holds the bucket (``tokens``, ``last``: the highest clock reading credited) with a ``version`` in durable
storage. To admit a request a gateway reads the state, refills it with its own clock
(``max(now, last)``: a clock behind the bucket credits nothing), and if a token is there writes the
state back with one token less, by **compare-and-set** on the version. A conflict (another gateway wrote
first) starts over with a fresh read; a request with no token is rejected. The store applies each
request's compare-and-set at most once (it remembers the request ids it applied, in storage), so a
duplicated message cannot take a second token, and a reply lost on the way back leaves the client to
time out (``info``: it may have been admitted).

Bug variant:

* ``non-atomic-increment`` — the gateway writes the new state back with a plain ``set`` instead of a
  compare-and-set: two gateways that read the same state both take "the last token" (a lost update,
  the classic get-then-set race on a shared counter).

The history goes to :func:`~splitbrain.checker.rate_limit.check_rate_limit` on the gateways' clocks
(:class:`SkewedClockFrame` over every gateway); the invariant checks the stored bucket after every step.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, ClassVar

import msgspec

from splitbrain.checker.rate_limit import RATE_LIMITED, CheckOutcome, check_rate_limit
from splitbrain.histories import History
from splitbrain.impls.traffic.rate_limit.clock_frame import SkewedClockFrame
from splitbrain.sim import ClientOp, FaultConfig, Node, Rand, Request, Workload, World, invariant

RATE = Fraction(1, 10)  # tokens per tick
BURST = 2
STORE = "n1"


class ReadState(msgspec.Struct, frozen=True):
    request: int
    attempt: int


class State(msgspec.Struct, frozen=True):
    request: int
    attempt: int
    tokens: Fraction
    last: int
    version: int


class CompareAndSet(msgspec.Struct, frozen=True):
    request: int
    attempt: int
    version: int
    tokens: Fraction
    last: int


class Write(msgspec.Struct, frozen=True):
    """The bug's blind write."""

    request: int
    attempt: int
    tokens: Fraction
    last: int


class Written(msgspec.Struct, frozen=True):
    request: int
    attempt: int
    ok: bool


class LimiterNode(Node):
    """``n1`` is the store; every other node is a gateway (the role follows from the id)."""

    non_atomic: ClassVar[bool] = False

    def on_start(self) -> None:
        if self.id == STORE:
            self.storage.setdefault("bucket", (Fraction(BURST), 0, 0))  # tokens, last, version
            self.storage.setdefault("applied", {})  # request id -> version it produced
        #: gateway: request id -> (request, attempt) still being decided
        self.pending: dict[int, tuple[Request, int]] = {}

    # -- gateway -------------------------------------------------------------------------------------
    def on_client(self, request: Request) -> None:
        if self.id == STORE:
            self.fail(request, "the store does not take client requests; call a gateway")
        elif request.f != "acquire":
            self.fail(request, f"unknown operation {request.f!r} (a rate limiter takes acquire)")
        else:
            self.pending[request.id] = (request, 0)
            self.send(STORE, ReadState(request.id, 0))

    def _decide(self, msg: State) -> None:
        request, _ = self.pending[msg.request]
        last = max(self.now(), msg.last)
        tokens = min(Fraction(BURST), msg.tokens + (last - msg.last) * RATE)
        if tokens < 1:
            del self.pending[msg.request]
            self.fail(request, RATE_LIMITED)
        elif self.non_atomic:
            self.send(STORE, Write(msg.request, msg.attempt, tokens - 1, last))
        else:
            self.send(STORE, CompareAndSet(msg.request, msg.attempt, msg.version, tokens - 1, last))

    def _written(self, msg: Written) -> None:
        request, attempt = self.pending[msg.request]
        if msg.ok:
            del self.pending[msg.request]
            self.reply(request, True)
        else:  # another gateway wrote first: read again
            self.pending[msg.request] = (request, attempt + 1)
            self.send(STORE, ReadState(msg.request, attempt + 1))

    # -- both ------------------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        if self.id == STORE:
            self._store(src, msg)
        elif isinstance(msg, (State, Written)):  # a tuple: `State | Written` here would build a union per message
            entry = self.pending.get(msg.request)
            if entry is None or entry[1] != msg.attempt:
                return  # a duplicate, or the answer to an attempt already abandoned
            if isinstance(msg, State):
                self._decide(msg)
            else:
                self._written(msg)

    # -- store ----------------------------------------------------------------------------------------
    def _store(self, src: str, msg: Any) -> None:
        tokens, last, version = self.storage["bucket"]
        applied: dict[int, int] = self.storage["applied"]
        if isinstance(msg, ReadState):
            self.send(src, State(msg.request, msg.attempt, tokens, last, version))
        elif isinstance(msg, CompareAndSet):
            if msg.request in applied:  # a duplicate of a write already applied
                self.send(src, Written(msg.request, msg.attempt, True))
            elif msg.version == version:
                self.storage["bucket"] = (msg.tokens, msg.last, version + 1)
                applied[msg.request] = version + 1
                self.send(src, Written(msg.request, msg.attempt, True))
            else:
                self.send(src, Written(msg.request, msg.attempt, False))
        elif isinstance(msg, Write):
            self.storage["bucket"] = (msg.tokens, msg.last, version + 1)
            self.send(src, Written(msg.request, msg.attempt, True))


class NonAtomicLimiterNode(LimiterNode):
    """Bug: writes the bucket back with a plain set (get then set, no compare-and-set)."""

    non_atomic = True


@invariant(state_only=True)  # reads node state and storage only
def stored_tokens_within_burst(world: World) -> str | None:
    """The store's bucket holds between 0 and ``burst`` tokens."""
    bucket = world.storage(STORE).get("bucket")
    if bucket is not None and not 0 <= bucket[0] <= BURST:
        return f"the store's bucket holds {bucket[0]} tokens (allowed: 0 to {BURST})"
    return None


#: per variant: the faults and steps it is searched with
SEARCH: dict[str, tuple[FaultConfig, int]] = {
    "non-atomic-increment": (FaultConfig(kinds=("delay", "reorder")), 200),
}


class RateLimitClusterWorkload(Workload):
    """A store and two gateways; four clients ``acquire`` through random gateways, every fault kind."""

    name = "rate-limit-cluster"
    disk = "durable"  # it never calls fsync: every storage write must be durable at once (a power loss = a crash)
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "rate-limit"
    variants = {"correct": LimiterNode, "non-atomic-increment": NonAtomicLimiterNode}
    node_count = 3
    clients = 4
    op_timeout = 100
    backoff = 5
    delay = (1, 5)
    faults = FaultConfig()
    max_steps = 400
    invariants = (stored_tokens_within_burst,)

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("acquire")

    def choose_node(self, rand: Rand, nodes: Any, process: int) -> str:
        return rand.choice([n for n in nodes if n != STORE])

    def history_checks(self) -> list[tuple[str, Any]]:
        gateways = [n for n in self.node_ids if n != STORE]

        def rate_limit(history: History) -> CheckOutcome:
            return check_rate_limit(history, rate=RATE, burst=BURST, clock=SkewedClockFrame(history, gateways))

        return [("rate-limit", rate_limit)]


