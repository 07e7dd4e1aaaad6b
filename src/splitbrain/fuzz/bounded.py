"""Bounded exhaustive search: every schedule within ``B`` deviations of the default order, run once each.

Random and guided search say "these N schedules passed"; for a small configuration a stronger statement
is possible: *no* schedule of a given shape fails. The shape used here is delay bounding (Emmi, Qadeer and
Rakamarić, "Delay-Bounded Scheduling", POPL 2011), which generalises CHESS's preemption bounding
(Musuvathi and Qadeer, "Iterative Context Bounding for Systematic Testing of Multithreaded Programs",
PLDI 2007): a deterministic *default* scheduler — always the first enabled event in the world's
canonical order, so the oldest deliverable message first, then due timers, then clients, then time
advancing, and never a fault — and schedules that *deviate* from it at most ``B`` times, where a
deviation picks any other enabled event at one step (another message, a timer, a fault). Most bugs of
the zoo need a handful of deviations; the number of schedules grows as ``(steps x choices)^B``, so the
search is for small configurations: few nodes, a short run, a narrow fault set.

The search runs level by level: the default schedule, then every schedule with one deviation, then two.
A failure found is therefore one with the fewest deviations there are (reported with it: "default order
except 2 choices"). Every schedule is an ordinary run: its trace replays and shrinks like any other.

What the search does not vary is data: numbers the world draws (message delays, which operation a client
issues, a node's ``randint``) come from a seeded generator, the same sequence in every schedule, so the
statement is "for the data of seed S". A schedule whose check gives up (``unknown``) makes the whole
search ``unknown``, and so does a budget (``max_schedules``, ``timeout``) spent before the space was: a
bounded proof holds only when every schedule in the bound was run and passed.

The search keeps no state hashes: pruning by a summary of the state (the workload's ``abstract_state``)
would be unsound, and a sound hash of a whole world is not available for arbitrary user code. Each
schedule is replayed from the start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from splitbrain.errors import UsageError
from splitbrain.fuzz.deviations import default_choice, eligible
from splitbrain.fuzz.schedule import HistoryCheck, ScheduleResult, history_checks, run_schedule
from splitbrain.sim import ChoiceSource, FaultConfig, RandomSource, Workload
from splitbrain.sim.scheduler import Choice, Phase

__all__ = ["BoundedOutcome", "DeviationSource", "bounded_search"]

#: a deviation: at the ``index``-th choice of the run phase, take the ``option``-th eligible event
Deviation = tuple[int, int]


class DeviationSource(ChoiceSource):
    """The default scheduler with ``deviations`` applied: at run-phase choice ``i`` it takes eligible
    event ``deviations[i]`` instead of the first. Draws come from ``RandomSource(seed)``. ``options``
    records how many eligible events each run-phase choice had (what the search branches on)."""

    def __init__(self, deviations: Sequence[Deviation], seed: int) -> None:
        self.seed = seed
        self._data = RandomSource(seed)
        self._deviations = dict(deviations)
        self.options: list[int] = []

    def choose(self, enabled: Sequence[Choice], phase: Phase) -> str | None:
        if not enabled:
            return None
        if phase != "run":
            return default_choice(enabled)  # the frame steps, and the settle phase in default order
        keys = eligible(enabled)
        index = len(self.options)
        self.options.append(len(keys))
        option = self._deviations.get(index, 0)
        if option >= len(keys):  # cannot happen for a deterministic system: the prefix is the same
            raise UsageError(
                f"schedule did not repeat: choice {index} had {len(keys)} events this time, fewer than "
                f"before; the system under test is not deterministic (see splitbrain replay --check-determinism)"
            )
        return keys[option]

    def draw(self, lo: int, hi: int) -> int:
        return self._data.draw(lo, hi)


@dataclass(frozen=True)
class BoundedOutcome:
    """What a bounded search established.

    ``verdict`` is ``"failed"`` (``failure`` is the first failing schedule, with the fewest deviations),
    ``"passed"`` (every schedule within ``bound`` deviations ran and passed: a proof within the bound,
    for the data of ``seed``), or ``"unknown"`` (a budget ran out first, or some check gave up; ``reason``
    says which).
    """

    verdict: Literal["passed", "failed", "unknown"]
    bound: int
    seed: int
    schedules: int
    levels_done: int  # deviation counts whose every schedule ran (0 = the default schedule)
    seconds: float
    failure: ScheduleResult | None = None
    deviations: tuple[Deviation, ...] = ()
    reason: str = ""
    unknown_checks: int = 0

    def describe(self) -> str:
        """One paragraph for a person."""
        if self.verdict == "failed":
            n = len(self.deviations)
            how = "the default order" if n == 0 else f"the default order except {n} choice{'s' * (n != 1)}"
            return (f"FAILED after {self.schedules} schedule(s): {how} "
                    f"({self.failure.verdict.signature if self.failure else '?'}); no schedule with fewer "
                    f"deviations fails")
        if self.verdict == "passed":
            return (f"no violation in any of the {self.schedules} schedules within {self.bound} deviation(s) "
                    f"of the default order (data of seed {self.seed}): a proof within that bound")
        return f"UNKNOWN after {self.schedules} schedule(s): {self.reason}"


def bounded_search(
    workload: Workload,
    variant: str = "correct",
    *,
    bound: int = 2,
    seed: int = 0,
    faults: FaultConfig | Sequence[str] | None = None,
    max_steps: int | None = None,
    max_schedules: int | None = None,
    timeout: float | None = None,
    checks: Sequence[tuple[str, HistoryCheck]] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> BoundedOutcome:
    """Run every schedule of ``workload``/``variant`` within ``bound`` deviations of the default order,
    fewest deviations first; stop at the first failure.

    ``faults`` and ``max_steps`` default to the workload's (keep them small: the space grows as
    ``(steps x choices)^bound``). ``max_schedules`` and ``timeout`` (seconds) are budgets: spending one
    before the space is exhausted gives ``"unknown"``, never a pass. ``on_progress(schedules, level)`` is
    called after each schedule.
    """
    if not isinstance(bound, int) or isinstance(bound, bool) or bound < 0:
        raise UsageError(f"bound must be an int >= 0 (deviations), got {bound!r}")
    if max_schedules is not None and max_schedules < 1:
        raise UsageError(f"max_schedules must be >= 1, got {max_schedules}")
    if timeout is not None and not timeout > 0:
        raise UsageError(f"timeout must be a positive number of seconds, got {timeout}")
    fault_config = FaultConfig.coerce(faults) if faults is not None else None
    checks = list(checks) if checks is not None else history_checks(workload)
    started = time.monotonic()
    schedules = unknown = 0
    level: list[tuple[tuple[Deviation, ...], list[int]]] = []
    frontier: list[tuple[Deviation, ...]] = [()]

    def outcome(verdict: Literal["passed", "failed", "unknown"], done: int, **kw: object) -> BoundedOutcome:
        return BoundedOutcome(verdict, bound, seed, schedules, done, time.monotonic() - started,
                              unknown_checks=unknown, **kw)  # type: ignore[arg-type]

    for depth in range(bound + 1):
        level = []
        for deviations in frontier:
            if max_schedules is not None and schedules >= max_schedules:
                return outcome("unknown", depth, reason=f"the budget of {max_schedules} schedules ran out "
                               f"while running schedules with {depth} deviation(s)")
            if timeout is not None and time.monotonic() - started > timeout:
                return outcome("unknown", depth, reason=f"the time budget of {timeout:g} s ran out while running "
                               f"schedules with {depth} deviation(s)")
            source = DeviationSource(deviations, seed)
            result = run_schedule(workload, variant, source, faults=fault_config, max_steps=max_steps,
                                  checks=checks)
            schedules += 1
            if on_progress is not None:
                on_progress(schedules, depth)
            if result.verdict.failed:
                return outcome("failed", depth, failure=result, deviations=deviations)
            if result.verdict.unknown:
                unknown += 1
            if depth < bound:
                level.append((deviations, source.options))
        # the next level: one more deviation, after the last one (each set of deviations is made once)
        frontier = [
            (*deviations, (index, option))
            for deviations, options in level
            for index in range((deviations[-1][0] + 1) if deviations else 0, len(options))
            for option in range(1, options[index])
        ]
        if not frontier:
            break
    if unknown:
        return outcome("unknown", bound + 1, reason=f"{unknown} schedule(s) had a check that gave up")
    return outcome("passed", bound + 1)

