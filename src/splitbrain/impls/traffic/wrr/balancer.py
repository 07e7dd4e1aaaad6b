"""A thread-safe smooth weighted round-robin balancer with health marks, plus two classic bugs.

Smooth weighted round robin is nginx's (Maxim Dounin, 2012, "Upstream: smooth weighted round-robin
balancing", nginx 1.3.1 / 1.2.2; ``ngx_http_upstream_get_peer`` in ``ngx_http_upstream_round_robin.c``):
each backend has a weight ``w`` and a current weight ``c``, initially 0. A pick adds ``w`` to the ``c``
of every healthy backend, takes the backend with the largest ``c`` (the first in configured order on a
tie) and subtracts the sum of the healthy weights from it. Weights 5, 1, 1 give ``a a b a c a a``
instead of the naive ``a a a a a b c``: every backend gets its share, spread out. Why it is exact and
smooth is proved in :mod:`splitbrain.impls.traffic.wrr.model`, which states the properties checked.

Health: :meth:`mark` sets a backend up or down (a health checker calls it). Down backends are skipped.
Unlike nginx, which keeps the current weights across health changes, every change of the healthy set
here resets all current weights to 0 and bumps the *health version*: the guarantees then hold from the
first pick after every change, instead of after the disturbance a change leaves behind dies out.

Each pick reports the health version it saw and the healthy backends with their weights, so a client
can tell which segment of picks it belongs to (:class:`Pick`). Written once against
:class:`~splitbrain.sim.threads.Sync`: one lock guards the current weights, the health and the version.

Bug variants:

* ``bursty`` (:class:`NaiveRoundRobin`) — the naive algorithm: a cursor walks the healthy backends
  expanded by weight (``a a a b b c``), so the heaviest backend gets its whole share in one burst. Every
  window of ``sum(weights)`` picks still has exact shares; smoothness is what it breaks.
* ``shared-cursor-race`` (:class:`RacyCursorBalancer`) — the pick snapshots health under the lock, but
  the read-modify-write of the current weights runs outside it (the lock was added for the health
  marks, and the hot path was left lock-free for speed). Two concurrent picks read the same current
  weights, both take the same backend and both write back: one pick's update is lost, the backend gets
  more than its share, and the schedule drifts.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from splitbrain.errors import UsageError
from splitbrain.sim.threads import REAL_SYNC, Sync

__all__ = ["NaiveRoundRobin", "Pick", "RacyCursorBalancer", "SmoothWeightedRoundRobin"]


class Pick(msgspec.Struct, frozen=True):
    """A pick: the ``backend`` (``None`` when none is healthy), the health ``version`` it saw, and the
    healthy backends with their weights at that version, in configured order."""

    backend: str | None
    version: int
    healthy: tuple[tuple[str, int], ...]


class SmoothWeightedRoundRobin:
    """The correct balancer (see the module docstring). Thread-safe."""

    def __init__(self, weights: Mapping[str, int], sync: Sync = REAL_SYNC) -> None:
        if not isinstance(weights, Mapping) or not weights:
            raise UsageError(f"weights must be a non-empty mapping of backend -> weight, got {weights!r}")
        for backend, weight in weights.items():
            if not isinstance(backend, str) or not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
                raise UsageError(f"backend {backend!r} has weight {weight!r}; weights are ints >= 1 by name")
        self.weights = dict(weights)
        self._sync = sync
        self._lock = sync.lock()
        self._up = dict.fromkeys(self.weights, True)
        self._current = dict.fromkeys(self.weights, 0)
        self._version = 0

    def pick(self) -> Pick:
        """The next backend."""
        with self._lock:
            healthy = self._healthy()
            backend = self._choose(healthy)
            return Pick(backend, self._version, healthy)

    def mark(self, backend: str, up: bool) -> bool:
        """Mark ``backend`` up or down; returns whether that changed the healthy set."""
        if backend not in self.weights:
            raise UsageError(f"unknown backend {backend!r} (backends: {', '.join(self.weights)})")
        with self._lock:
            self._sync.point("read health")
            if self._up[backend] == up:
                return False
            self._up[backend] = up
            self._version += 1
            self._sync.point("reset current weights")
            self._current = dict.fromkeys(self.weights, 0)
            self._restart_round()
            return True

    def healthy(self) -> tuple[tuple[str, int], ...]:
        with self._lock:
            return self._healthy()

    # -- the algorithm (called with the lock held) ---------------------------------------------------------
    def _healthy(self) -> tuple[tuple[str, int], ...]:
        self._sync.point("read health")
        return tuple((b, w) for b, w in self.weights.items() if self._up[b])

    def _choose(self, healthy: tuple[tuple[str, int], ...]) -> str | None:
        self._sync.point("read current weights")
        current = dict(self._current)
        best = _smooth_step(current, healthy)
        self._sync.point("write current weights")
        self._current = current
        return best

    def _restart_round(self) -> None:
        """A hook for variants that keep other per-round state."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} version {self._version} current {self._current}>"


def _smooth_step(current: dict[str, int], healthy: tuple[tuple[str, int], ...]) -> str | None:
    """One step of smooth WRR on ``current`` (updated in place); the backend chosen."""
    total = 0
    best: str | None = None
    for backend, weight in healthy:
        current[backend] += weight
        total += weight
        if best is None or current[backend] > current[best]:
            best = backend
    if best is not None:
        current[best] -= total
    return best


class NaiveRoundRobin(SmoothWeightedRoundRobin):
    """Bug ``bursty``: a cursor over the healthy backends repeated by weight, ``a a a b b c``."""

    def __init__(self, weights: Mapping[str, int], sync: Sync = REAL_SYNC) -> None:
        super().__init__(weights, sync)
        self._cursor = 0

    def _choose(self, healthy: tuple[tuple[str, int], ...]) -> str | None:
        expanded = [b for b, w in healthy for _ in range(w)]
        if not expanded:
            return None
        self._sync.point("read cursor")
        backend = expanded[self._cursor % len(expanded)]
        self._sync.point("advance cursor")
        self._cursor += 1
        return backend

    def _restart_round(self) -> None:
        self._cursor = 0


class RacyCursorBalancer(SmoothWeightedRoundRobin):
    """Bug ``shared-cursor-race``: the current weights are read, updated and written back outside the lock."""

    def pick(self) -> Pick:
        with self._lock:
            healthy = self._healthy()
            version = self._version
        backend = self._choose(healthy)  # the read-modify-write of the current weights, unlocked
        return Pick(backend, version, healthy)
