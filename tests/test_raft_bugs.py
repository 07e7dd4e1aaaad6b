"""Quality tests: the default search (``splitbrain fuzz raft-kv --variant V``: the portfolio, the
workload's own faults and run length, nothing tuned per variant) finds every Raft bug variant within a
stated budget of schedules, and the failure shrinks to a trace a person can follow.

Budgets are schedule counts of a campaign from seed 1 (deterministic), stated from the schedules the
default search needed on campaign seeds 1-3 (``first_default_failure``): unpersisted-vote 168/19/53,
stale-read 4/4/2, truncate-on-append 19/27/3, unsynced-vote 17/435/344, no-step-down 1/132/124,
truncate-off-by-one 1/9/1; vote-by-length (250/65/233) is searched in the slow run with commit-old-term.
commit-old-term, Raft's Figure 8, needs hundreds (528, 1520, 1162, 905 and 123 schedules on seeds 1-5;
``docs/explanation/search.md``), so it is searched in the slow run (``-m slow``). Shrink bounds are shrunk
trace lengths in steps (start and quiesce included) for a stated number of shrink replays; the slow run
shrinks each to a 1-minimal trace (no single step can be removed) and holds it to the variant's stated
step bound.
"""

from __future__ import annotations

import functools

import pytest

from consensus_support import first_default_failure, shrinks_within
from splitbrain import load_workload
from splitbrain.fuzz.schedule import ScheduleResult

WORKLOAD = load_workload("raft-kv")

#: variant -> (schedules budget from seed 1, checks that may catch it)
FIND = {
    "unpersisted-vote": (250, {"invariant:election-safety"}),
    "unsynced-vote": (600, {"invariant:election-safety"}),  # under power loss: a crash keeps unsynced writes
    "stale-read": (20, {"checker:linearizability"}),
    "truncate-on-append": (50, {"invariant:leader-completeness", "invariant:state-machine-safety"}),
    "no-step-down": (200, {"checker:linearizability", "invariant:election-safety"}),
    "truncate-off-by-one": (30, {"invariant:log-matching", "invariant:leader-completeness",
                                 "invariant:state-machine-safety"}),
}
#: the deep ones, searched only in the slow run
DEEP = {
    "commit-old-term": (2000, {"invariant:leader-completeness", "invariant:state-machine-safety"}),
    "vote-by-length": (600, {"invariant:leader-completeness", "invariant:state-machine-safety"}),
}
#: variant -> (shrink replays, bound on the shrunk trace's steps) in the default run
SHRINK = {
    "unpersisted-vote": (250, 25),
    "unsynced-vote": (250, 25),
    "truncate-on-append": (250, 30),
    "stale-read": (250, 60),
    "no-step-down": (250, 25),
    "truncate-off-by-one": (250, 50),
}
#: variant -> (shrink replays, the stated step bound): each shrinks to a 1-minimal trace within them (slow)
MINIMAL = {
    "unpersisted-vote": (600, 25),
    "unsynced-vote": (600, 25),
    "truncate-on-append": (600, 30),
    "stale-read": (800, 55),
    "no-step-down": (600, 25),
    "commit-old-term": (1500, 90),
    "vote-by-length": (600, 40),
    "truncate-off-by-one": (600, 50),
}


@functools.cache
def first_failure(variant: str) -> ScheduleResult:
    budget, caught_by = FIND.get(variant) or DEEP[variant]
    return first_default_failure(WORKLOAD, variant, budget, caught_by=caught_by)[1]


@pytest.mark.parametrize("variant", sorted(FIND))
def test_the_default_search_finds_the_bug_within_budget(variant: str) -> None:
    first_failure(variant)


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(DEEP))
def test_the_default_search_finds_the_deep_bug_within_budget(variant: str) -> None:
    first_failure(variant)


def test_every_bug_variant_is_searched() -> None:
    assert set(FIND) | set(DEEP) == set(WORKLOAD.bug_variants) == set(MINIMAL)


def shrinks(variant: str, replays: int, bound: int, *, minimal: bool) -> None:
    shrinks_within(WORKLOAD, first_failure(variant), replays, bound, minimal=minimal)


@pytest.mark.parametrize("variant", sorted(SHRINK))
def test_the_failure_shrinks_to_a_short_trace(variant: str) -> None:
    shrinks(variant, *SHRINK[variant], minimal=False)


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(MINIMAL))
def test_the_failure_shrinks_to_a_1_minimal_trace_within_its_bound(variant: str) -> None:
    shrinks(variant, *MINIMAL[variant], minimal=True)
