"""Deviations from the default order: how far a trace is from the schedule a calm network gives, and
fewer of them.

The *default order* takes the first enabled event in the world's canonical order at every step: the
oldest deliverable message, then due timers, then clients, then time advancing, never a fault. A trace's
*deviations* are the steps where it took something else. Shrinking (:mod:`splitbrain.fuzz.shrink`)
minimises steps; a reader also wants few deviations, because each one is a thing the network or the
scheduler did on purpose — "the default order except 2 choices" is how simloom reports a trace, and what
delay bounding (Emmi et al., POPL 2011) searches by (:mod:`splitbrain.fuzz.bounded`).

:func:`fewer_deviations` moves the trace toward the default order, one deviation at a time: at a
deviating step it runs the default event first and then follows the trace as before (by stable id, so
the recorded event is taken as soon as it is enabled again). The swap is kept when the replay still
fails the same way and has fewer deviations. Every budget is a count of replays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from splitbrain.fuzz.schedule import HistoryCheck, ScheduleResult, history_checks, judge
from splitbrain.sim import ReplaySource, RunResult, Trace, Workload, World
from splitbrain.sim.scheduler import Choice, Phase

__all__ = ["DeviationResult", "count_deviations", "default_choice", "eligible", "fewer_deviations"]


def eligible(enabled: Sequence[Choice]) -> list[str]:
    """The events a scheduler may pick, in canonical order: those with a positive weight (a weight of 0
    is never drawn by the other sources either), or all of them when none has one."""
    keys = [key for key, weight in enabled if weight > 0]
    return keys or [key for key, _ in enabled]


def default_choice(enabled: Sequence[Choice]) -> str:
    """The default order's choice among ``enabled`` (non-empty): the first eligible event."""
    for key, weight in enabled:
        if weight > 0:
            return key
    return enabled[0][0]


def _framed(key: str, phase: Phase) -> bool:
    return phase == "start" or key in ("start", "quiesce")


class _Follow(ReplaySource):
    """A replay that counts its deviations and, at choice ``swap_at``, runs the default event first."""

    def __init__(self, trace: Trace, swap_at: int | None = None) -> None:
        super().__init__(trace)
        self.swap_at = swap_at
        self.choices = 0
        self.deviating: list[int] = []  # choice numbers where the followed trace deviated

    def choose(self, enabled: Sequence[Choice], phase: Phase) -> str | None:
        if not enabled:
            return super().choose(enabled, phase)
        if self.choices == self.swap_at and not (len(enabled) == 1 and _framed(enabled[0][0], phase)):
            self.choices += 1
            self._step, self._draws, self._next_draw = None, [], 0
            return default_choice(enabled)
        key = super().choose(enabled, phase)
        if key is not None and not _framed(key, phase):
            if key != default_choice(enabled):
                self.deviating.append(self.choices)
            self.choices += 1
        return key


def _replay(workload: Workload, trace: Trace, swap_at: int | None = None) -> tuple[_Follow, RunResult]:
    source = _Follow(trace, swap_at)
    # a swap adds a step: room for it, so that the trace's last step is not cut off
    steps = trace.max_steps + (1 if swap_at is not None else 0)
    return source, World(workload, trace.variant, source=source, faults=trace.faults, max_steps=steps).run()


def count_deviations(workload: Workload, trace: Trace) -> int:
    """How many of ``trace``'s choices differ from the default order, counted on a replay. A fault is
    always one; so is a message taken before an older one, or time advanced while one was due."""
    source, _ = _replay(workload, trace)
    return len(source.deviating)


@dataclass(frozen=True)
class DeviationResult:
    """The trace with fewer deviations (as its replay recorded it, so it replays exactly), its judged
    result, and the counts before and after."""

    trace: Trace
    result: ScheduleResult | None  # None when nothing changed
    before: int
    after: int
    replays: int


def fewer_deviations(
    workload: Workload,
    trace: Trace,
    signature: str,
    *,
    checks: Sequence[tuple[str, HistoryCheck]] | None = None,
    max_replays: int = 200,
) -> DeviationResult:
    """Swap deviations of ``trace`` for the default event while the replay still fails with
    ``signature`` and has fewer deviations; at most ``max_replays`` replays. The result may be a step or
    two longer than ``trace``: it trades steps for choices a reader must follow."""
    checks = list(checks) if checks is not None else history_checks(workload)
    source, _ = _replay(workload, trace)
    before = len(source.deviating)
    best, best_result, deviating, replays = trace, None, source.deviating, 1
    improved = True
    while improved and replays < max_replays:
        improved = False
        for at in reversed(deviating):  # late deviations first: they disturb less of what follows
            if replays >= max_replays:
                break
            # the swapped run counts its own deviations: the recorded trace replays the same choices
            # among the same enabled events (the inserted default step is none)
            swapped, result = _replay(workload, best, swap_at=at)
            replays += 1
            verdict = judge(result, checks)
            if verdict.signature != signature:
                continue
            if len(swapped.deviating) < len(deviating):
                best, best_result, deviating = result.trace, ScheduleResult(result, verdict), swapped.deviating
                improved = True
                break
    return DeviationResult(best, best_result, before, len(deviating), replays)
