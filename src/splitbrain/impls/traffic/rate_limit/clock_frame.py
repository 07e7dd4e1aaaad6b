"""The clock a simulated limiter reads, reconstructed from the history: a :class:`ClockFrame` for the checks.

A node's local clock at virtual time ``t`` is ``Clock(skew, drift).read(t)``, and every ``skew`` fault is
in the history as a nemesis event ``["n1", skew, drift]`` at the moment it struck. Replaying those events
gives, between any two history events, every clock reading the node could have shown: within one clock
setting the reading grows with time, so the lowest lies at the start of the stretch or just after a
skew, and the highest so far is a running maximum. That lets the rate-limit checks judge a limiter on
its own clock — the only clock it can be held to — even while skew faults step that clock backwards.

Several nodes may share one limiter (gateways updating a bucket in a store, each with its own clock): the
limiter's clock is then the highest reading any of them wrote, so the frame takes the lowest reading of
any of those nodes and the highest of all of them.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from splitbrain.checker.rate_limit import MissingTimes
from splitbrain.histories import History
from splitbrain.sim.clock import Clock


class SkewedClockFrame:
    """The local clock of ``nodes`` (one name or several) over ``history`` (see the module docstring)."""

    def __init__(self, history: History, nodes: str | Sequence[str]) -> None:
        self.nodes = (nodes,) if isinstance(nodes, str) else tuple(nodes)
        clocks = dict.fromkeys(self.nodes, Clock())
        peak = 0  # every object was created at the start, at virtual time 0, when every clock reads 0
        self._times: list[int] = []
        self._clocks: list[tuple[Clock, ...]] = []  # the nodes' clocks just after each event
        self._peaks: list[int] = []
        self._changes: list[int] = []  # indices of these nodes' skew events
        for op in history.ops:
            if op.time is None:
                raise MissingTimes(op.index)
            if op.is_nemesis and op.f == "skew" and op.value[0] in clocks:
                node = op.value[0]
                peak = max(peak, clocks[node].read(op.time))  # what the old setting showed up to now
                clocks[node] = Clock(op.value[1], op.value[2])
                self._changes.append(op.index)
            peak = max(peak, *(c.read(op.time) for c in clocks.values()))
            self._times.append(op.time)
            self._clocks.append(tuple(clocks.values()))
            self._peaks.append(peak)

    def readings(self, index: int) -> list[int]:
        """Each node's clock at event ``index``."""
        return [c.read(self._times[index]) for c in self._clocks[index]]

    def low(self, start: int, end: int) -> int:
        lowest = min(self.readings(start))
        first, last = bisect.bisect_right(self._changes, start), bisect.bisect_right(self._changes, end)
        for index in self._changes[first:last]:
            lowest = min(lowest, *self.readings(index))
        return lowest

    def high(self, end: int) -> int:
        return self._peaks[end]

    def describe(self, index: int) -> str:
        clocks = ", ".join(f"{n} {r}" for n, r in zip(self.nodes, self.readings(index), strict=True))
        return f"event {index} (t={self._times[index]}, clock {clocks})"
