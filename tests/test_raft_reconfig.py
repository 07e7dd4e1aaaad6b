"""``raft-reconfig``: Raft with single-server membership changes (Ongaro's dissertation, 2014, section 4).

The correct version passes the default faults and reconfigures for real (the test is not vacuous); the
walk from one configuration to another is one server at a time; a truncated config entry gives the
previous configuration back; and the default search (``splitbrain fuzz raft-reconfig --variant V``: the
portfolio, the workload's own faults and run length) finds ``concurrent-config`` within a stated budget
and shrinks it to a trace that replays.

Budget, from the schedules the default search needed on campaign seeds 1-3 (``first_default_failure``):
concurrent-config 17/2/1. ``config-before-noop`` (Ongaro's 2015 bug) needs four coordinated events — a
leader's change reaching only the added server, that leader deposed, the new leader's change committed
by a majority of the smaller configuration that leaves out one voter of the old, and the deposed leader
elected by that voter and the added server — and the default search has not found it yet (seed 1: none
in 1,000 schedules, 120 s); it is listed in ``UNFOUND`` so the gap stays visible.
"""

from __future__ import annotations

import functools

import pytest

from consensus_support import first_default_failure, passes, shrinks_within
from splitbrain import load_workload
from splitbrain.fuzz.schedule import ScheduleResult
from splitbrain.impls.raft.membership import config_of, initial_members, steps
from splitbrain.sim import World

WORKLOAD = load_workload("raft-reconfig")

#: variant -> (schedules budget from seed 1, checks that may catch it)
FIND = {
    "concurrent-config": (60, {"invariant:election-safety", "invariant:leader-completeness",
                               "invariant:state-machine-safety", "checker:linearizability"}),
}
#: bug variants the default search does not find yet (see the module docstring)
UNFOUND = {"config-before-noop"}
#: variant -> (shrink replays, bound on the shrunk trace's steps)
SHRINK = {"concurrent-config": (150, 400)}  # measured: 570 -> 339 steps in 150 replays (the CLI: 129)


def test_the_correct_version_passes_and_reconfigures() -> None:
    assert passes(WORKLOAD, range(30)) > 0
    changed = 0
    for seed in range(10):
        run = World(WORKLOAD, "correct", seed=seed).run()
        changed += sum(op.f == "reconfigure" and op.type == "ok" for op in run.history.ops)
    assert changed >= 5  # membership did change, so passing says something


@pytest.mark.slow
def test_the_correct_version_passes_a_few_hundred_schedules() -> None:
    passes(WORKLOAD, range(300))


def test_a_walk_changes_one_server_at_a_time() -> None:
    walk = steps(("n1", "n2", "n3", "n4"), ("n2", "n4", "n5"), "n1")
    assert walk == [("n1", "n2", "n3", "n4", "n5"), ("n1", "n2", "n4", "n5"), ("n2", "n4", "n5")]
    assert min(len(c) for c in walk) >= 3  # additions first: never below either size


def test_the_newest_config_entry_counts_and_truncating_it_restores_the_one_before() -> None:
    nodes = ("n1", "n2", "n3", "n4", "n5")
    assert config_of([], nodes) == (0, initial_members(nodes)) == (0, ("n1", "n2", "n3", "n4"))
    log = [(1, (-1, "noop", None, None)), (1, (7, "config", None, ("n1", "n2", "n3"))),
           (1, (8, "config", None, ("n1", "n2", "n3", "n5")))]
    assert config_of(log, nodes) == (3, ("n1", "n2", "n3", "n5"))  # uncommitted, in effect all the same
    assert config_of(log[:2], nodes) == (2, ("n1", "n2", "n3"))


@functools.cache
def first_failure(variant: str) -> ScheduleResult:
    budget, caught_by = FIND[variant]
    return first_default_failure(WORKLOAD, variant, budget, caught_by=caught_by)[1]


@pytest.mark.parametrize("variant", sorted(FIND))
def test_the_default_search_finds_the_bug_within_budget(variant: str) -> None:
    first_failure(variant)


def test_every_bug_variant_is_searched_or_listed_as_unfound() -> None:
    assert set(FIND) | UNFOUND == set(WORKLOAD.bug_variants)


@pytest.mark.parametrize("variant", sorted(SHRINK))
def test_the_failure_shrinks_to_a_trace_that_replays(variant: str) -> None:
    shrinks_within(WORKLOAD, first_failure(variant), *SHRINK[variant], minimal=False)
