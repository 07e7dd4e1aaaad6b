"""A thread-safe circuit breaker with bounded half-open probes, plus two classic concurrency bugs.

The pattern is Nygard's ("Release It!", 2007, ch. 5 "Stability Patterns"): a breaker sits in front of
a downstream call. *Closed*, it lets calls through and counts consecutive failures; the
``failure_threshold``-th failure trips it *open*, and it fails fast — rejecting calls without touching
the downstream — until ``cooldown`` has passed on its clock. The next call then *half-opens* it and goes
through as a probe; at most ``max_probes`` probes are in flight at once, everyone else is still rejected.
A probe's success closes the breaker, a probe's failure opens it again for another cool-down.

As in sony/gobreaker, every transition starts a new *generation*, each admitted call carries the
generation it was admitted in (its :class:`Permit`), and an outcome from an older generation is
ignored: a slow call admitted before the breaker tripped says nothing about the downstream *now*.

A guarded call is two atomic actions with the downstream call between them — :meth:`acquire` (may I
call?) and :meth:`record` (how did it go?) — so the breaker exposes both (:meth:`call` wraps them for
ordinary use). Each runs in one critical section of one lock and reads the clock inside it, which is
what the sequential specification, :mod:`splitbrain.impls.traffic.breaker.model`, assumes. The class is
written once against :class:`~splitbrain.sim.threads.Sync`: real locks and ``time.monotonic()`` by
default, the simulator's controlled threads and skewable clock under
:class:`~splitbrain.sim.threads.ThreadedNode`.

Bug variants (one switch each, both real-world mistakes):

* ``probe-stampede`` (:class:`StampedingBreaker`) — the half-open state exists but the probe count is
  never consulted: once the cool-down has passed, every caller that arrives before the first probe
  reports back goes through, and a service that is just recovering gets the whole backlog at once.
* ``reset-race`` (:class:`ResetRaceBreaker`) — a probe's success is a check-then-act across two critical
  sections: :meth:`record` checks under the lock that the probe belongs to the current half-open
  generation, releases the lock, then calls the public :meth:`reset`, which takes the lock again and
  closes the breaker unconditionally (the shape of breakers whose success path reuses the operator's
  manual reset). A concurrent probe's failure that lands between the two re-opens the breaker for a new
  cool-down; the late reset then closes it anyway. Both probes report a transition out of the same
  half-open generation — no sequential order allows that — and callers pass during the new cool-down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

import msgspec

from splitbrain.errors import UsageError
from splitbrain.impls.traffic.breaker.model import (
    CLOSED,
    CLOSED_BY_PROBE,
    COUNTED,
    HALF_OPEN,
    IGNORED,
    OPEN,
    PASS,
    PROBE,
    REJECT,
    REOPENED,
    TRIPPED,
)
from splitbrain.sim.threads import REAL_SYNC, Sync

__all__ = [
    "CircuitBreaker", "CircuitOpen", "Permit", "Recorded", "ResetRaceBreaker", "Snapshot", "StampedingBreaker",
]

_T = TypeVar("_T")


class Permit(msgspec.Struct, frozen=True):
    """The breaker's answer to :meth:`CircuitBreaker.acquire`: ``decision`` is ``"pass"`` (closed),
    ``"probe"`` (half-open) or ``"reject"``; ``generation`` the breaker's generation; ``at`` the clock
    reading it decided at."""

    decision: str
    generation: int
    at: float

    @property
    def admitted(self) -> bool:
        return self.decision != REJECT


class Recorded(msgspec.Struct, frozen=True):
    """What :meth:`CircuitBreaker.record` did (``ignored``, ``counted``, ``tripped``, ``closed`` or
    ``reopened``) and the clock reading it did it at."""

    effect: str
    at: float


class Snapshot(msgspec.Struct, frozen=True):
    phase: str
    generation: int
    failures: int
    opened_at: float
    probes: int


class CircuitOpen(Exception):
    """Raised by :meth:`CircuitBreaker.call` when the breaker rejects the call; carries the permit."""

    def __init__(self, permit: Permit) -> None:
        super().__init__(f"circuit breaker rejected the call (generation {permit.generation}, at {permit.at})")
        self.permit = permit


class CircuitBreaker:
    """The correct breaker (see the module docstring). Thread-safe; every method takes one lock."""

    #: False in the ``probe-stampede`` variant: half-open admits every caller
    limits_probes: ClassVar[bool] = True
    #: True in the ``reset-race`` variant: a probe's success closes in a second critical section
    resets_after_check: ClassVar[bool] = False

    def __init__(
        self, sync: Sync = REAL_SYNC, *, failure_threshold: int = 5, cooldown: float = 30.0, max_probes: int = 1
    ) -> None:
        if not isinstance(failure_threshold, int) or failure_threshold < 1:
            raise UsageError(f"failure_threshold must be an int >= 1, got {failure_threshold!r}")
        if not isinstance(max_probes, int) or max_probes < 1:
            raise UsageError(f"max_probes must be an int >= 1, got {max_probes!r}")
        if cooldown < 0:
            raise UsageError(f"cooldown must be >= 0, got {cooldown!r}")
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.max_probes = max_probes
        self._sync = sync
        self._lock = sync.lock()
        self._phase = CLOSED
        self._generation = 0
        self._failures = 0
        self._opened_at: float = 0
        self._probes = 0

    # -- the two actions of a guarded call ------------------------------------------------------------
    def acquire(self) -> Permit:
        """May a call go through now? Admitting a probe may half-open the breaker."""
        sync = self._sync
        with self._lock:
            sync.point("read state")
            now = sync.now()
            if self._phase == OPEN:
                if now - self._opened_at < self.cooldown:
                    return Permit(REJECT, self._generation, now)
                self._enter(HALF_OPEN)
            if self._phase == HALF_OPEN:
                if self.limits_probes and self._probes >= self.max_probes:
                    return Permit(REJECT, self._generation, now)
                sync.point("count probe")
                self._probes += 1
                return Permit(PROBE, self._generation, now)
            return Permit(PASS, self._generation, now)

    def record(self, permit: Permit, success: bool) -> Recorded:
        """Report how an admitted call went; returns what that did to the breaker."""
        if not isinstance(permit, Permit) or not permit.admitted:
            raise UsageError(f"record() takes the Permit of an admitted call, got {permit!r}")
        sync = self._sync
        with self._lock:
            sync.point("read state")
            now = sync.now()
            if permit.generation != self._generation:
                return Recorded(IGNORED, now)
            if self._phase == CLOSED:
                sync.point("count outcome")
                if success:
                    self._failures = 0
                    return Recorded(COUNTED, now)
                self._failures += 1
                if self._failures < self.failure_threshold:
                    return Recorded(COUNTED, now)
                self._trip(now)
                return Recorded(TRIPPED, now)
            # the generation matches and permits are issued only while closed or half-open: a probe
            if not success:
                self._trip(now)
                return Recorded(REOPENED, now)
            if not self.resets_after_check:
                self._enter(CLOSED)
                return Recorded(CLOSED_BY_PROBE, now)
        self.reset()  # reset-race: the check above and this transition are two critical sections
        return Recorded(CLOSED_BY_PROBE, now)

    # -- convenience and inspection -------------------------------------------------------------------
    def call(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` through the breaker: :class:`CircuitOpen` when rejected; an exception from ``fn``
        counts as a failure and propagates."""
        permit = self.acquire()
        if not permit.admitted:
            raise CircuitOpen(permit)
        try:
            result = fn()
        except Exception:
            self.record(permit, False)
            raise
        self.record(permit, True)
        return result

    def reset(self) -> None:
        """Close the breaker now, whatever its state (an operator's manual reset)."""
        with self._lock:
            self._sync.point("reset")
            self._enter(CLOSED)

    def snapshot(self) -> Snapshot:
        """The breaker's state, read under its lock."""
        with self._lock:
            return Snapshot(self._phase, self._generation, self._failures, self._opened_at, self._probes)

    @property
    def phase(self) -> str:
        return self._phase

    # -- transitions (called with the lock held) -------------------------------------------------------
    def _enter(self, phase: str) -> None:
        self._phase = phase
        self._generation += 1
        self._failures = 0
        self._probes = 0

    def _trip(self, now: float) -> None:
        self._enter(OPEN)
        self._opened_at = now

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._phase} generation {self._generation}>"


class StampedingBreaker(CircuitBreaker):
    """Bug ``probe-stampede``: half-open lets every caller through, not just ``max_probes``."""

    limits_probes = False


class ResetRaceBreaker(CircuitBreaker):
    """Bug ``reset-race``: a probe's success checks and closes in two separate critical sections."""

    resets_after_check = True
