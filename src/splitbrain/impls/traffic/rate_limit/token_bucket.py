"""A thread-safe token bucket, written once against :class:`~splitbrain.sim.threads.Sync`.

The bucket holds up to ``burst`` tokens and gains ``rate`` tokens per unit of its clock; a request that
finds at least one token takes it and is admitted, any other is rejected at once (policing: nothing
waits). It is the token form of Turner's leaky bucket (1986, "New directions in communications (or
which way to the information age?)"). Refill is lazy — each call credits the time since the last
credited clock reading — so the whole state is two numbers, ``tokens`` and ``last``, and one lock keeps
them consistent.

Time is whatever ``sync.now()`` says: seconds of ``time.monotonic()`` with :data:`REAL_SYNC`,
nanoseconds in stress mode, the node's local ticks in the simulator, where a ``skew`` fault can step the
clock *backwards*. The correct bucket never credits negative elapsed time: ``last`` is the highest
reading it has credited, and a reading below it credits nothing until the clock passes it again.
Rates are plain numbers; give a :class:`~fractions.Fraction` (``Fraction(1, 4)`` tokens per tick) for
exact arithmetic.

Bug variants (subclasses, one switch each):

* ``check-then-act`` — the check ("is there a token?") and the act ("take it") are each made under the
  lock, but the lock is released in between: two callers both see the last token and both take it.
* ``clock-backwards`` — on a reading below ``last`` the bucket re-bases ``last`` on the new reading (as
  if resynchronising with the clock), so once the clock runs forward again the same stretch of time is
  credited a second time: a clock stepped back refills the bucket.
"""

from __future__ import annotations

from typing import ClassVar

from splitbrain.checker.rate_limit import Number
from splitbrain.errors import UsageError
from splitbrain.sim.threads import REAL_SYNC, Sync


def validate_rate(rate: Number, burst: Number) -> None:
    """A clear error for a rate or burst a limiter cannot work with."""
    if not rate > 0:
        raise UsageError(f"a rate limiter needs rate > 0 tokens per clock unit, got {rate!r}")
    if not burst >= 1:
        raise UsageError(f"a rate limiter needs burst >= 1 (one request must fit), got {burst!r}")


class TokenBucket:
    """``try_acquire()`` takes a token if there is one. Starts full; ``tokens`` never exceeds ``burst``."""

    check_then_act: ClassVar[bool] = False
    clock_backwards: ClassVar[bool] = False

    def __init__(self, rate: Number, burst: int, sync: Sync = REAL_SYNC) -> None:
        validate_rate(rate, burst)
        self.rate = rate
        self.burst = burst
        self.sync = sync
        self._lock = sync.lock()
        self.tokens: Number = burst
        self.last: Number = sync.now()  # the highest clock reading credited so far

    def try_acquire(self) -> bool:
        """Admit (``True``, one token taken) or reject (``False``) one request."""
        if self.check_then_act:
            return self._check_then_act()
        with self._lock:
            self._refill()
            self.sync.point("check tokens")
            if self.tokens < 1:
                return False
            self.sync.point("take token")
            self.tokens -= 1
            return True

    def _refill(self) -> None:
        """Credit the clock time since ``last``; called with the lock held."""
        now = self.sync.now()
        if now > self.last:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
        elif now < self.last and self.clock_backwards:
            self.last = now  # the bug: the stretch from now up to the old mark will be credited again

    def _check_then_act(self) -> bool:
        with self._lock:
            self._refill()
            self.sync.point("check tokens")
            available = self.tokens >= 1
        if not available:
            return False
        with self._lock:
            self.sync.point("take token")
            self.tokens -= 1
        return True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {float(self.tokens):.3g}/{self.burst} tokens, last={self.last}>"


class CheckThenActBucket(TokenBucket):
    """Bug: checks for a token and takes it in two separate critical sections."""

    check_then_act = True


class ClockBackwardsBucket(TokenBucket):
    """Bug: re-bases its last credited reading when the clock steps back, crediting that time twice."""

    clock_backwards = True


TOKEN_BUCKETS: dict[str, type[TokenBucket]] = {
    "correct": TokenBucket, "check-then-act": CheckThenActBucket, "clock-backwards": ClockBackwardsBucket,
}
