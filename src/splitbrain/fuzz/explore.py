"""Hypothesis-driven schedules: every choice the world makes is drawn from Hypothesis data.

A schedule is one ``@given(st.data())`` example: a run length and one integer per step, each read as a
position in the enabled events' cumulative weights (:class:`ChoiceListSource`). Hypothesis therefore
generates schedules *and* shrinks them: smaller integers pick earlier events in canonical order (oldest
delivery first, faults last) and a smaller length ends the run sooner. We chose a strategy over the
scheduler's choices rather than a ``RuleBasedStateMachine`` because the world already decides what is
enabled at each step; rules would duplicate that, and the choice sequence shrinks well on its own.

After the first failure, only failures with the same signature count, so Hypothesis's shrinker cannot
drift from one bug to another.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings, target
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from splitbrain.fuzz.schedule import HistoryCheck, ScheduleResult, run_schedule
from splitbrain.sim import ChoiceSource, FaultConfig, RandomSource, Workload
from splitbrain.sim.scheduler import Choice, total_weight, weighted
from splitbrain.sim.scheduler import Phase as WorldPhase

__all__ = [
    "CHOICE_SCALE",
    "ChoiceListSource",
    "ScheduleFailed",
    "SearchOutcome",
    "hypothesis_search",
    "spent",
]


#: resolution of a choice: each step draws an int in [0, CHOICE_SCALE) read as a fraction of the
#: enabled events' cumulative weight, so generation follows the weights like the seeded RNG does
CHOICE_SCALE = 1 << 16


class ChoiceListSource(ChoiceSource):
    """Choices from Hypothesis: a run length, then one 16-bit choice per step drawn as one byte string.

    Hypothesis shrinks the length toward short runs and the bytes toward zero: a lower value picks an
    earlier event in canonical order (the oldest delivery; faults come last).
    The quiesce phase and ``draw`` requests use a seeded RNG whose seed is drawn too.
    """

    def __init__(self, draw: Callable[[Any], Any], max_steps: int) -> None:
        steps = max(1, max_steps)
        self.length = int(draw(st.integers(1, steps)))
        # Bytes, not a list of integers: Hypothesis generates bytes near-uniformly (its integers lean
        # toward small values, which would starve the faults that come last in canonical order), and a
        # single draw keeps its overhead per schedule low. Two bytes make one choice.
        raw: bytes = draw(st.binary(min_size=2 * self.length, max_size=2 * self.length))
        self.choices = [raw[i] << 8 | raw[i + 1] for i in range(0, len(raw), 2)]
        self.rng = RandomSource(int(draw(st.integers(0, 2**32 - 1))))
        self.seed = None
        self.taken = 0

    def choose(self, enabled: Sequence[Choice], phase: WorldPhase) -> str | None:
        if not enabled:
            return None
        if phase != "run":
            return self.rng.choose(enabled, phase)
        if self.taken >= self.length:
            return None
        value = self.choices[self.taken]
        self.taken += 1
        total = total_weight(enabled)
        if total <= 0:
            return enabled[value * len(enabled) // CHOICE_SCALE][0]
        return weighted(enabled, value * total // CHOICE_SCALE)

    def draw(self, lo: int, hi: int) -> int:
        return self.rng.draw(lo, hi)


class ScheduleFailed(AssertionError):
    """Raised inside the Hypothesis test when a schedule fails with the signature being chased."""


def spent(deadline: float | None, stop: Callable[[], bool] | None) -> bool:
    """Whether a search must end before its next schedule: ``deadline`` (a ``time.time()`` value) has
    passed, or ``stop()`` (the campaign needs no more of this shard's schedules) says so."""
    return (deadline is not None and time.time() > deadline) or (stop is not None and stop())


@dataclass
class SearchOutcome:
    """What a Hypothesis search found: the number of schedules run and, if any, the shrunk failure."""

    schedules: int = 0
    unknown: int = 0
    failure: ScheduleResult | None = None
    first: ScheduleResult | None = None
    other_signatures: dict[str, ScheduleResult] = field(default_factory=dict)
    #: the portfolio arm that found the failure, and each arm's (schedules, new abstract states)
    arm: str | None = None
    arms: dict[str, tuple[int, int]] = field(default_factory=dict)


def hypothesis_search(
    workload: Workload,
    variant: str,
    *,
    seed_value: int,
    examples: int,
    faults: FaultConfig | None = None,
    max_steps: int | None = None,
    checks: Sequence[tuple[str, HistoryCheck]] | None = None,
    shrink_runs: int = 300,
    deadline: float | None = None,
    on_found: Callable[[ScheduleResult], None] | None = None,
    score: Callable[[ScheduleResult], float] | None = None,
    stop: Callable[[], bool] | None = None,
) -> SearchOutcome:
    """Run up to ``examples`` Hypothesis-generated schedules (fewer if ``deadline``, a ``time.time()``
    value, passes first, or ``stop()`` turns true: the campaign needs no more of them); on a failure,
    let Hypothesis shrink it with at most ``shrink_runs`` more schedules (0 disables Hypothesis's
    shrinker). Budgets are counts, not seconds, so that the same seed
    gives the same result on any machine.

    ``on_found`` is called once with the first (unshrunk) failure, before shrinking starts, so that the
    caller can save it at once. Hypothesis keeps a shrink only when the new example still fails, so the
    last failing schedule it ran is the smallest it found; once the budget is spent the test stops failing,
    which ends the shrink phase quickly (Hypothesis then reports the run as flaky, which we ignore).

    ``score`` (a schedule's result -> a number, e.g. the abstract states it reached first) is handed to
    ``hypothesis.target``, whose targeting phase then mutates the examples that scored highest.
    """
    outcome = SearchOutcome()
    steps = max_steps if max_steps is not None else workload.max_steps
    chased: list[str] = []

    phases = [Phase.generate, Phase.target] if score is not None else [Phase.generate]
    if shrink_runs > 0:
        phases.append(Phase.shrink)
    shrink_left = [shrink_runs]

    @settings(
        max_examples=examples, database=None, deadline=None, derandomize=False, phases=phases,
        suppress_health_check=list(HealthCheck), report_multiple_bugs=False, print_blob=False,
        verbosity=Verbosity.quiet,
    )
    @seed(seed_value)
    @given(st.data())
    def schedule(data: st.DataObject) -> None:
        if chased:
            if shrink_left[0] <= 0:
                return  # shrinking budget spent: stop failing so Hypothesis stops shrinking
            shrink_left[0] -= 1
        elif spent(deadline, stop):
            return  # the campaign's time is up: let the remaining examples pass without running
        source = ChoiceListSource(data.draw, steps)
        result = run_schedule(workload, variant, source, faults=faults, max_steps=steps, checks=checks)
        if score is not None and not chased:
            target(score(result), label="new abstract states")
        if outcome.first is None:
            outcome.schedules += 1
            outcome.unknown += int(result.verdict.unknown)
        signature = result.verdict.signature
        if signature is None:
            return
        if not chased:
            chased.append(signature)
            outcome.first = result
            if on_found is not None:
                on_found(result)
        if signature != chased[0]:
            outcome.other_signatures.setdefault(signature, result)
            return
        outcome.failure = result
        raise ScheduleFailed(signature)

    # the outcome already holds what was found (a "flaky" end after a budgeted shrink is expected)
    with contextlib.suppress(ScheduleFailed, HypothesisException, ExceptionGroup):
        schedule()
    return outcome
