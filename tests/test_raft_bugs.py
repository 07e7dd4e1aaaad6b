"""Quality tests: the fuzzer finds every Raft bug variant within a stated budget of seeded schedules
(each variant with its search faults, ``SEARCH``), and shrinks it to a trace a person can follow.

Budgets are schedule counts from seed 0 (deterministic); bounds are shrunk trace lengths in steps
(start and quiesce included) for a stated number of shrink replays. The default run shrinks each variant
with a few hundred replays; the slow run (``-m slow``) shrinks each to a 1-minimal trace (no single step
can be removed) and holds it to the variant's stated step bound. ``benchmarks/bug_zoo.py`` measures the
same over several campaign seeds; ``docs/explanation/shrinking.md`` has the figures.
"""

from __future__ import annotations

import functools

import pytest

from consensus_support import first_seeded_failure, shrinks_within
from splitbrain import load_workload
from splitbrain.fuzz.schedule import ScheduleResult
from splitbrain.impls.raft.workload import SEARCH

WORKLOAD = load_workload("raft-kv")

#: variant -> (schedules budget, checks that may catch it)
FIND = {
    "unpersisted-vote": (50, {"invariant:election-safety"}),
    "unsynced-vote": (50, {"invariant:election-safety"}),  # under power-loss: a crash keeps unsynced writes
    "stale-read": (50, {"checker:linearizability"}),
    "truncate-on-append": (100, {"invariant:leader-completeness", "invariant:state-machine-safety"}),
    "no-step-down": (150, {"checker:linearizability", "invariant:election-safety"}),
    "commit-old-term": (150, {"invariant:leader-completeness", "invariant:state-machine-safety"}),
}
#: variant -> (shrink replays, bound on the shrunk trace's steps) in the default run (no-step-down, the
#: slowest to replay, only in the slow run below)
SHRINK = {
    "unpersisted-vote": (150, 20),
    "unsynced-vote": (150, 20),
    "truncate-on-append": (250, 30),
    "stale-read": (250, 60),
    "commit-old-term": (250, 100),
}
#: variant -> (shrink replays, the stated step bound): each shrinks to a 1-minimal trace within them (slow)
MINIMAL = {
    "unpersisted-vote": (300, 20),
    "unsynced-vote": (300, 20),
    "truncate-on-append": (500, 30),
    "stale-read": (800, 55),
    "commit-old-term": (1000, 70),
    "no-step-down": (1200, 85),
}


@functools.cache
def first_failure(variant: str) -> ScheduleResult:
    budget, caught_by = FIND[variant]
    return first_seeded_failure(WORKLOAD, variant, budget, *SEARCH[variant], caught_by=caught_by)[1]


@pytest.mark.parametrize("variant", sorted(FIND))
def test_fuzzing_finds_the_bug_within_budget(variant: str) -> None:
    first_failure(variant)


def shrinks(variant: str, replays: int, bound: int, *, minimal: bool) -> None:
    shrinks_within(WORKLOAD, first_failure(variant), replays, bound, minimal=minimal)


@pytest.mark.parametrize("variant", sorted(SHRINK))
def test_the_failure_shrinks_to_a_short_trace(variant: str) -> None:
    shrinks(variant, *SHRINK[variant], minimal=False)


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(MINIMAL))
def test_the_failure_shrinks_to_a_1_minimal_trace_within_its_bound(variant: str) -> None:
    shrinks(variant, *MINIMAL[variant], minimal=True)
