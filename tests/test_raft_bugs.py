"""Quality tests: the fuzzer finds every Raft bug variant within a stated budget of seeded schedules
(each variant with its search faults, ``SEARCH``), and shrinks it to a short trace.

Budgets are schedule counts from seed 0 (deterministic); bounds are shrunk trace lengths in steps
(start and quiesce included) for a stated number of shrink replays. ``benchmarks/bug_zoo.py`` measures
the same over several campaign seeds.
"""

from __future__ import annotations

import pytest

from splitbrain.fuzz.schedule import ScheduleResult, run_schedule
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.impls import get_workload
from splitbrain.impls.raft.workload import SEARCH
from splitbrain.sim import RandomSource

WORKLOAD = get_workload("raft-kv")

#: variant -> (schedules budget, checks that may catch it)
FIND = {
    "unpersisted-vote": (50, {"invariant:election-safety"}),
    "stale-read": (50, {"checker:linearizability"}),
    "truncate-on-append": (100, {"invariant:leader-completeness", "invariant:state-machine-safety"}),
    "no-step-down": (150, {"checker:linearizability", "invariant:election-safety"}),
    "commit-old-term": (150, {"invariant:leader-completeness", "invariant:state-machine-safety"}),
}
#: variant -> (shrink replays, bound on the shrunk trace's steps); the deep ones run with -m slow
SHRINK = {"unpersisted-vote": (300, 40), "stale-read": (300, 100), "truncate-on-append": (300, 130)}
SHRINK_SLOW = {"no-step-down": (1500, 450), "commit-old-term": (1500, 550)}


def first_failure(variant: str) -> ScheduleResult:
    budget, caught_by = FIND[variant]
    faults, steps = SEARCH[variant]
    for seed in range(budget):
        result = run_schedule(WORKLOAD, variant, RandomSource(seed), faults=faults, max_steps=steps)
        if result.verdict.failed:
            assert result.verdict.signature in caught_by, result.verdict.message
            return result
    raise AssertionError(f"{variant} not found in {budget} schedules")


@pytest.mark.parametrize("variant", sorted(FIND))
def test_fuzzing_finds_the_bug_within_budget(variant: str) -> None:
    first_failure(variant)


def shrinks(variant: str, replays: int, bound: int) -> None:
    result = first_failure(variant)
    signature = result.verdict.signature
    assert signature is not None
    small = shrink_trace(WORKLOAD, result.trace, signature, max_replays=replays)
    assert small.result.verdict.signature == signature
    assert small.after <= bound, (variant, small.before, small.after)


@pytest.mark.parametrize("variant", sorted(SHRINK))
def test_the_failure_shrinks_to_a_short_trace(variant: str) -> None:
    shrinks(variant, *SHRINK[variant])


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(SHRINK_SLOW))
def test_deep_failures_shrink_with_a_larger_budget(variant: str) -> None:
    shrinks(variant, *SHRINK_SLOW[variant])
