"""The leaky bucket, twice: as a meter (GCRA) that polices, and as a bounded queue that shapes.

**Meter.** The Generic Cell Rate Algorithm of ATM (ITU-T I.371; the ATM Forum's UNI 3.1), in its
"virtual scheduling" form: with emission interval ``T = 1/rate`` and tolerance ``tau = (burst-1)*T`` the
bucket keeps one number, the theoretical arrival time ``tat`` of the next request. A request at clock
reading ``now`` conforms when ``tat - now <= tau``; it then moves ``tat`` to ``max(tat, now) + T``.
It admits exactly what a token bucket of that rate and burst admits (Turner 1986), with one number of
state instead of two, which is why it is the limiter of choice in shared stores (a single compare-and-set).

**Queue.** Requests join a queue of at most ``capacity``; a drainer calls :meth:`LeakyQueue.leak`
periodically and lets the head out when at least ``interval`` of the clock has passed since the last
departure, so the output never exceeds one request per interval however the input bursts. A request
that finds the queue full is turned away at once.

Both read ``sync.now()`` and, like :class:`~splitbrain.impls.traffic.rate_limit.token_bucket.TokenBucket`, keep
the highest reading seen: a clock that steps backwards credits nothing until it passes that mark again.

Bug variants (class switches, as for the token bucket):

* ``check-then-act`` — the meter reads ``tat`` under the lock, decides outside it and writes ``tat``
  back under it again: two concurrent requests both schedule from the same ``tat`` and one update is
  lost. The queue checks its length and appends in two critical sections: it overfills.
* ``clock-backwards`` — on a reading below the highest one, the meter shifts ``tat`` (the queue its last
  departure) back by the step, re-basing its schedule on the new clock: once the clock runs forward
  again the same stretch of time is credited twice.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction
from typing import Any, ClassVar

from splitbrain.checker.rate_limit import Number
from splitbrain.errors import UsageError
from splitbrain.impls.traffic.rate_limit.token_bucket import validate_rate
from splitbrain.sim.threads import REAL_SYNC, Sync


def _inverse(rate: Number) -> Number:
    return Fraction(1) / rate if isinstance(rate, int | Fraction) else 1 / rate


class LeakyBucketMeter:
    """GCRA: ``try_acquire()`` admits a request when it conforms to ``rate`` with ``burst``."""

    check_then_act: ClassVar[bool] = False
    clock_backwards: ClassVar[bool] = False

    def __init__(self, rate: Number, burst: int, sync: Sync = REAL_SYNC) -> None:
        validate_rate(rate, burst)
        self.rate = rate
        self.burst = burst
        self.sync = sync
        self.interval = _inverse(rate)  # T: the clock time one request "costs"
        self.tau = (burst - 1) * self.interval  # how far ahead of the clock the schedule may run
        self._lock = sync.lock()
        self.high: Number = sync.now()  # the highest clock reading seen
        self.tat: Number = self.high  # theoretical arrival time of the next request

    def try_acquire(self) -> bool:
        """Admit (``True``) or reject (``False``) one request."""
        if self.check_then_act:
            return self._check_then_act()
        with self._lock:
            now = self._clock()
            self.sync.point("read tat")
            tat = max(self.tat, now)
            if tat - now > self.tau:
                return False
            self.sync.point("write tat")
            self.tat = tat + self.interval
            return True

    def _clock(self) -> Number:
        """The clock as the meter counts it: never below the highest reading (called under the lock)."""
        now = self.sync.now()
        if now >= self.high:
            self.high = now
        elif self.clock_backwards:
            self.tat -= self.high - now  # the bug: shift the schedule back with the clock
            self.high = now
        return self.high

    def _check_then_act(self) -> bool:
        with self._lock:
            now = self._clock()
            self.sync.point("read tat")
            tat = max(self.tat, now)
        if tat - now > self.tau:
            return False
        with self._lock:
            self.sync.point("write tat")
            self.tat = tat + self.interval
        return True

    def backlog(self) -> Number:
        """How far the schedule runs ahead of the clock; never more than ``tau + interval``."""
        return max(self.tat - self.high, 0)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} tat={self.tat} high={self.high}>"


class LeakyQueue:
    """A queue of at most ``capacity`` requests, let out one per ``interval`` of the clock by :meth:`leak`."""

    check_then_act: ClassVar[bool] = False
    clock_backwards: ClassVar[bool] = False

    def __init__(self, capacity: int, interval: Number, sync: Sync = REAL_SYNC) -> None:
        if capacity < 1:
            raise UsageError(f"a leaky queue needs capacity >= 1, got {capacity!r}")
        if not interval > 0:
            raise UsageError(f"a leaky queue needs interval > 0 clock units, got {interval!r}")
        self.capacity = capacity
        self.interval = interval
        self.sync = sync
        self._lock = sync.lock()
        self.items: deque[Any] = deque()
        self.high: Number = sync.now()
        self.last_departure: Number | None = None

    def offer(self, item: Any) -> bool:
        """Queue ``item`` (``True``) or turn it away because the queue is full (``False``)."""
        if self.check_then_act:
            with self._lock:
                self.sync.point("check length")
                room = len(self.items) < self.capacity
            if not room:
                return False
            with self._lock:
                self.sync.point("append")
                self.items.append(item)
            return True
        with self._lock:
            self.sync.point("check length")
            if len(self.items) >= self.capacity:
                return False
            self.sync.point("append")
            self.items.append(item)
            return True

    def leak(self) -> Any:
        """Let the head out if one ``interval`` has passed since the last departure; else ``None``.

        No scheduling point lies between reading the clock and letting the item out, so whoever calls
        this observes the departure at the clock reading it was decided on."""
        with self._lock:
            now = self._clock()
            last = self.last_departure
            if not self.items or (last is not None and now - last < self.interval):
                return None
            self.last_departure = now
            return self.items.popleft()

    def _clock(self) -> Number:
        now = self.sync.now()
        if now >= self.high:
            self.high = now
        elif self.clock_backwards:
            if self.last_departure is not None:
                self.last_departure -= self.high - now  # the bug: re-base the schedule on the new clock
            self.high = now
        return self.high

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {len(self.items)}/{self.capacity} queued>"


class CheckThenActMeter(LeakyBucketMeter):
    """Bug: reads and writes ``tat`` in separate critical sections (a lost update)."""

    check_then_act = True


class ClockBackwardsMeter(LeakyBucketMeter):
    """Bug: shifts its schedule back when the clock steps back, crediting that time twice."""

    clock_backwards = True


class CheckThenActQueue(LeakyQueue):
    """Bug: checks the length and appends in separate critical sections (the queue overfills)."""

    check_then_act = True


class ClockBackwardsQueue(LeakyQueue):
    """Bug: shifts its last departure back when the clock steps back (departures come too fast)."""

    clock_backwards = True


LEAKY_METERS: dict[str, type[LeakyBucketMeter]] = {
    "correct": LeakyBucketMeter, "check-then-act": CheckThenActMeter, "clock-backwards": ClockBackwardsMeter,
}
LEAKY_QUEUES: dict[str, type[LeakyQueue]] = {
    "correct": LeakyQueue, "check-then-act": CheckThenActQueue, "clock-backwards": ClockBackwardsQueue,
}
