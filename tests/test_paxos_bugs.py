"""Quality tests: the fuzzer finds both Paxos bug variants within a stated budget and shrinks them to a
trace a person can follow.

``ignore-accepted`` goes through ``hypothesis_search`` (Hypothesis generates the choice sequence) then
the trace shrinker; ``forget-promise`` needs a crash between a promise and an accept, so it is searched
with seeded schedules under its crash-heavy ``SEARCH`` faults. The default run shrinks with a few hundred
replays; the slow run shrinks each to a 1-minimal trace and holds it to the variant's stated step bound.
"""

from __future__ import annotations

import functools

import pytest

from consensus_support import shrinks_within
from splitbrain import load_workload
from splitbrain.fuzz.explore import hypothesis_search
from splitbrain.fuzz.schedule import ScheduleResult, run_schedule
from splitbrain.impls.paxos.register import SEARCH
from splitbrain.sim import RandomSource

WORKLOAD = load_workload("paxos")
CAUGHT_BY = {"invariant:one-value-per-slot", "invariant:learners-agree"}
FORGET_BUDGET = 250  # seeded schedules
IGNORE_EXAMPLES = 50  # Hypothesis examples
#: variant -> (shrink replays, bound on the shrunk trace's steps) in the default run
SHRINK = {"forget-promise": (250, 100), "ignore-accepted": (250, 100)}
#: variant -> (shrink replays, the stated step bound): each shrinks to a 1-minimal trace within them (slow)
MINIMAL = {"forget-promise": (800, 50), "ignore-accepted": (800, 80)}


@functools.cache
def failure(variant: str) -> ScheduleResult:
    """The first failure the search finds: seeded schedules for forget-promise, Hypothesis for the other.

    Hypothesis's own shrinker is off (``shrink_runs=0``): the trace shrinker takes the failure as found.
    From this search's find it reaches 74 steps; from Hypothesis's 150-run shrink of it, 103 steps."""
    faults, steps = SEARCH[variant]
    if variant == "ignore-accepted":
        outcome = hypothesis_search(
            WORKLOAD, variant, seed_value=0, examples=IGNORE_EXAMPLES, faults=faults, max_steps=steps,
            shrink_runs=0,
        )
        assert outcome.failure is not None, f"not found in {IGNORE_EXAMPLES} Hypothesis examples"
        result = outcome.failure
    else:
        for seed in range(FORGET_BUDGET):
            result = run_schedule(WORKLOAD, variant, RandomSource(seed), faults=faults, max_steps=steps)
            if result.verdict.failed:
                break
        else:
            raise AssertionError(f"{variant} not found in {FORGET_BUDGET} schedules")
    assert result.verdict.signature in CAUGHT_BY, result.verdict.message
    return result


@pytest.mark.parametrize("variant", sorted(SHRINK))
def test_fuzzing_finds_the_bug_within_budget(variant: str) -> None:
    failure(variant)


def shrinks(variant: str, replays: int, bound: int, *, minimal: bool) -> None:
    shrinks_within(WORKLOAD, failure(variant), replays, bound, minimal=minimal)


@pytest.mark.parametrize("variant", sorted(SHRINK))
def test_the_failure_shrinks_to_a_short_trace(variant: str) -> None:
    shrinks(variant, *SHRINK[variant], minimal=False)


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(MINIMAL))
def test_the_failure_shrinks_to_a_1_minimal_trace_within_its_bound(variant: str) -> None:
    shrinks(variant, *MINIMAL[variant], minimal=True)
