"""Shrinking a failing trace to a 1-minimal one: no single step can be removed and still fail the same way.

Hypothesis's shrinker works on the choice sequence and gets most of the way; this pass then works on the
explicit trace, where steps name stable ids (message 17, node n3), so deleting one step does not change
what the later ones mean. It tries chunks first and single steps last — the ``ddmin`` idea of Zeller &
Hildebrandt 2002 ("Simplifying and isolating failure-inducing input") — and accepts a smaller trace only
when its replay fails with the same signature. The trace kept is the one the replay *recorded*, so the
result replays exactly, step for step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from splitbrain.fuzz.schedule import HistoryCheck, ScheduleResult, history_checks, replay_trace
from splitbrain.sim import Trace, Workload

#: steps that frame a run and are never removed
_FRAME = frozenset({"start", "quiesce"})


@dataclass(frozen=True)
class ShrinkResult:
    trace: Trace
    result: ScheduleResult
    before: int  # steps before shrinking
    after: int  # steps after
    replays: int
    seconds: float


def _run_phase(trace: Trace) -> list[int]:
    """Indices of removable steps: everything in the run phase except the frame."""
    return [i for i, s in enumerate(trace.steps) if s.kind not in _FRAME]


def shrink_trace(
    workload: Workload,
    trace: Trace,
    signature: str,
    *,
    checks: Sequence[tuple[str, HistoryCheck]] | None = None,
    max_replays: int = 2000,
    on_progress: Callable[[int], None] | None = None,
) -> ShrinkResult:
    """Remove steps of ``trace`` while its replay still fails with ``signature``.

    ``max_replays`` bounds the work (a count, not seconds, so the result is the same on any machine); the
    best trace so far is returned when it runs out.
    """
    started = time.monotonic()
    checks = list(checks) if checks is not None else history_checks(workload)
    replays = 0
    best = replay_trace(workload, trace, checks=checks)
    replays += 1
    if best.verdict.signature != signature:
        # the trace does not reproduce (e.g. saved by another version): keep it as it is
        return ShrinkResult(trace, best, len(trace.steps), len(trace.steps), replays, 0.0)
    current = best.trace
    before = len(trace.steps)

    def attempt(candidate: Trace) -> ScheduleResult | None:
        nonlocal replays
        replays += 1
        outcome = replay_trace(workload, candidate, checks=checks)
        if outcome.verdict.signature == signature and len(outcome.trace.steps) < len(current.steps):
            return outcome
        return None

    chunk = max(1, len(_run_phase(current)) // 2)
    while chunk >= 1:
        progressed = False
        removable = _run_phase(current)
        start = 0
        while start < len(removable):
            if replays >= max_replays:
                return ShrinkResult(current, best, before, len(current.steps), replays,
                                    time.monotonic() - started)
            drop = set(removable[start:start + chunk])
            steps = [s for i, s in enumerate(current.steps) if i not in drop]
            outcome = attempt(msgspec.structs.replace(current, steps=steps))
            if outcome is not None:
                best, current = outcome, outcome.trace
                removable = _run_phase(current)
                progressed = True
                if on_progress is not None:
                    on_progress(len(current.steps))
                continue  # retry at the same position: later steps shifted into it
            start += chunk
        if chunk > 1:
            chunk //= 2
        elif not progressed:
            break  # a full pass of single-step removals changed nothing: 1-minimal
    return ShrinkResult(current, best, before, len(current.steps), replays, time.monotonic() - started)
