"""One schedule: build a world from a choice source, run it, judge it.

A schedule fails when an invariant is violated during the run (the world stops at the first one) or
when a checker rejects the final history. ``Verdict.signature`` names *how* it failed
(``invariant:one-primary-per-view``, ``checker:linearizability``): shrinking accepts only smaller
schedules that fail the same way, so a shrink never turns one bug into another.

A checker that gives up (``unknown``) is not a failure and not a pass: it is counted and reported.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from splitbrain.checker.linearizability import check_linearizability
from splitbrain.errors import NondeterminismError
from splitbrain.histories import History
from splitbrain.sim import ChoiceSource, FaultConfig, ReplaySource, RunResult, Trace, Workload, World
from splitbrain.sim.properties import watch_of

__all__ = [
    "DEFAULT_CHECK_TIMEOUT",
    "HistoryCheck",
    "ScheduleResult",
    "Verdict",
    "history_checks",
    "judge",
    "replay_trace",
    "run_schedule",
]


#: seconds the linearizability checker may spend on one schedule's history before saying unknown
DEFAULT_CHECK_TIMEOUT = 10.0

HistoryCheck = Callable[[History], tuple[Any, str]]
"""A checker bound to a workload: ``history -> (True | False | "unknown", explanation)``."""


@dataclass(frozen=True)
class Verdict:
    """How a schedule ended. ``signature`` is ``None`` when it passed."""

    signature: str | None
    message: str = ""
    unknown: bool = False

    @property
    def failed(self) -> bool:
        return self.signature is not None


@dataclass(frozen=True)
class ScheduleResult:
    run: RunResult
    verdict: Verdict

    @property
    def trace(self) -> Trace:
        return self.run.trace

    @property
    def history(self) -> History:
        return self.run.history


def history_checks(
    workload: Workload, check_timeout: float = DEFAULT_CHECK_TIMEOUT
) -> list[tuple[str, HistoryCheck]]:
    """The checks a workload's histories go through: its own ``history_checks()`` when it defines them
    (causality and transaction checkers plug in this way), else linearizability against its model."""
    custom = workload.history_checks()
    if custom is not None:
        return list(custom)

    def linearizable(history: History) -> tuple[Any, str]:
        result = check_linearizability(history, workload.model, timeout=check_timeout)
        return result.valid, result.explain()

    return [("linearizability", linearizable)]


def judge(run: RunResult, checks: Sequence[tuple[str, HistoryCheck]]) -> Verdict:
    """The verdict on a finished run: its invariant violation, else a liveness property left unmet
    (:mod:`splitbrain.sim.properties`: signature ``liveness:NAME``), else the first checker that rejects
    it. A liveness property the run ended too early to decide makes the verdict unknown, not a pass."""
    violation = run.invariant_violation
    watch = watch_of(run.world)
    if violation is not None:
        if watch is not None and violation.name in watch.names:
            return Verdict(f"liveness:{violation.name}", f"liveness property {violation.name} violated at step "
                           f"{violation.step}: {violation.message}")
        return Verdict(
            f"invariant:{violation.name}", f"invariant {violation.name} violated at step {violation.step}: "
            f"{violation.message}",
        )
    unknown = False
    if watch is not None:
        quiet = not run.world.enabled()
        unmet = watch.final(run.world, quiet=quiet)
        if unmet is not None:
            return Verdict(f"liveness:{unmet[0]}", f"liveness property {unmet[0]} violated: {unmet[1]}")
        unknown = bool(watch.undecided()) and not quiet
    for name, check in checks:
        valid, explanation = check(run.history)
        if valid is False:
            return Verdict(f"checker:{name}", explanation)
        if valid != True:  # noqa: E712 - "unknown" is truthy, so compare explicitly
            unknown = True
    return Verdict(None, unknown=unknown)


def run_schedule(
    workload: Workload,
    variant: str,
    source: ChoiceSource,
    *,
    faults: FaultConfig | None = None,
    max_steps: int | None = None,
    checks: Sequence[tuple[str, HistoryCheck]] | None = None,
) -> ScheduleResult:
    """Run one schedule of ``workload``/``variant`` with choices from ``source`` and judge it."""
    world = World(workload, variant, source=source, faults=faults, max_steps=max_steps)
    try:
        run = world.run()
    except NondeterminismError:
        raise  # not a bug of the system under test: the run cannot be reproduced, so it is not a verdict
    except Exception as exc:  # the implementation under test crashed: that is a failure too
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{frame.filename}:{frame.lineno} in {frame.name}"
        return ScheduleResult(
            world.result(),
            Verdict(f"crash:{type(exc).__name__}", f"node code raised {type(exc).__name__}: {exc} ({where})"),
        )
    return ScheduleResult(run, judge(run, checks if checks is not None else history_checks(workload)))


def replay_trace(
    workload: Workload, trace: Trace, *, checks: Sequence[tuple[str, HistoryCheck]] | None = None
) -> ScheduleResult:
    """Replay a recorded trace (possibly edited) and judge it again."""
    return run_schedule(
        workload, trace.variant, ReplaySource(trace), faults=trace.faults, max_steps=trace.max_steps,
        checks=checks,
    )
