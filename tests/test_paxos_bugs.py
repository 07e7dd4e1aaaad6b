"""Quality tests: the default search (``splitbrain fuzz paxos --variant V``: the portfolio, the workload's
own faults and run length, nothing tuned per variant) finds both Paxos bug variants within a stated budget
and shrinks them to a trace a person can follow.

Budgets are schedule counts of a campaign from seed 1, stated from what campaign seeds 1-3 needed:
forget-promise (a crash between a promise and an accept) 132/225/352 — 532/97/more than 1,000 before an
Accept sent before the crash could reach the restarted acceptor (trace version 2) — ignore-accepted 1/1/2,
adopt-latest (two ballots' values each accepted somewhere, then a third proposer hearing of both)
11/125/107. The forget-promise failure seed 1 finds is a long one (405 steps over several slots) whose
1-minimal trace still has 126 steps; its shrink bounds say so. The default
run shrinks with a few hundred replays; the slow run shrinks each to a 1-minimal trace and holds it to the
variant's stated step bound.
"""

from __future__ import annotations

import pytest

from consensus_support import default_failures, shrinks_within
from splitbrain import load_workload

WORKLOAD = load_workload("paxos")
CAUGHT_BY = {"invariant:one-value-per-slot", "invariant:learners-agree"}
#: variant -> schedules budget from seed 1
FIND = {"forget-promise": 400, "ignore-accepted": 20, "adopt-latest": 300}
#: variant -> (shrink replays, bound on the shrunk trace's steps) in the default run
SHRINK = {"forget-promise": (800, 130), "ignore-accepted": (250, 100), "adopt-latest": (250, 100)}
#: variant -> (shrink replays, the stated step bound): each shrinks to a 1-minimal trace within them (slow)
MINIMAL = {"forget-promise": (800, 130), "ignore-accepted": (800, 50), "adopt-latest": (800, 85)}


#: the first failure the default search finds, per variant
failure = default_failures(WORKLOAD, {variant: (budget, CAUGHT_BY) for variant, budget in FIND.items()})


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


def test_every_bug_variant_is_searched() -> None:
    assert set(FIND) == set(WORKLOAD.bug_variants) == set(MINIMAL)
