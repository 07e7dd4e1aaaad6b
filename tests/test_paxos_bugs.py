"""Quality tests: the fuzzer finds both Paxos bug variants within a stated budget and shrinks them.

``ignore-accepted`` goes through ``hypothesis_search`` (Hypothesis generates and shrinks the choice
sequence) then the 1-minimal trace pass; ``forget-promise`` needs a crash between a promise and an
accept, so it is searched with seeded schedules under its crash-heavy ``SEARCH`` faults.
"""

from __future__ import annotations

import pytest

from splitbrain.fuzz.explore import hypothesis_search
from splitbrain.fuzz.schedule import ScheduleResult, run_schedule
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.impls import get_workload
from splitbrain.impls.paxos import SEARCH

WORKLOAD = get_workload("paxos")
CAUGHT_BY = {"invariant:one-value-per-slot", "invariant:learners-agree"}
FORGET_BUDGET = 250  # seeded schedules
FORGET_BOUND = 260  # shrunk steps after 1500 replays (slow)
IGNORE_EXAMPLES = 50  # Hypothesis examples
IGNORE_BOUND = 120  # shrunk steps after 150 Hypothesis shrink runs and 200 replays


def test_hypothesis_finds_and_shrinks_ignore_accepted() -> None:
    faults, steps = SEARCH["ignore-accepted"]
    outcome = hypothesis_search(
        WORKLOAD, "ignore-accepted", seed_value=0, examples=IGNORE_EXAMPLES, faults=faults, max_steps=steps,
        shrink_runs=150,
    )
    assert outcome.failure is not None
    signature = outcome.failure.verdict.signature
    assert signature in CAUGHT_BY
    small = shrink_trace(WORKLOAD, outcome.failure.trace, signature, max_replays=200)
    assert small.after <= IGNORE_BOUND, (small.before, small.after)


def forget_promise_failure() -> ScheduleResult:
    from splitbrain.sim import RandomSource

    faults, steps = SEARCH["forget-promise"]
    for seed in range(FORGET_BUDGET):
        result = run_schedule(WORKLOAD, "forget-promise", RandomSource(seed), faults=faults, max_steps=steps)
        if result.verdict.failed:
            assert result.verdict.signature in CAUGHT_BY, result.verdict.message
            return result
    raise AssertionError(f"forget-promise not found in {FORGET_BUDGET} schedules")


def test_fuzzing_finds_forget_promise_within_budget() -> None:
    forget_promise_failure()


@pytest.mark.slow
def test_forget_promise_shrinks() -> None:
    result = forget_promise_failure()
    signature = result.verdict.signature
    assert signature is not None
    small = shrink_trace(WORKLOAD, result.trace, signature, max_replays=1500)
    assert small.after <= FORGET_BOUND, (small.before, small.after)
