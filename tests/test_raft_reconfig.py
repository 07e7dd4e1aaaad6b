"""``raft-reconfig``: Raft with single-server membership changes (Ongaro's dissertation, 2014, section 4).

The correct version passes the default faults and reconfigures for real (the test is not vacuous); the
walk from one configuration to another is one server at a time; a truncated config entry gives the
previous configuration back; and the default search (``splitbrain fuzz raft-reconfig --variant V``: the
portfolio, the workload's own faults and run length) finds ``concurrent-config`` within a stated budget
and shrinks it to a trace that replays.

Budget, from the schedules the default search needed on campaign seeds 1-3 (``first_default_failure``):
concurrent-config 60/29/72 since the portfolio's kingmaker arm (16/30/26 before it; 4/2/1 before messages
outlived crashes; 17/2/1 before the moving-cut arm); config-before-noop 17/21/162. ``config-before-noop``
(Ongaro's 2015 bug) needs four coordinated events — a leader's change reaching only the added server, that
leader deposed, the new leader's change committed by a majority of the smaller configuration that leaves out
one voter of the old, and the deposed leader elected by that voter and the added server. No campaign found it
until the portfolio's kingmaker arm (which moves the voter that made a new leader to the other side of a cut);
it is also proven by a directed schedule (:func:`ongaro_2015`) that drives those four events by hand: the
variant breaks Leader Completeness, and the correct version, given the same schedule, refuses the change and
passes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from consensus_support import default_failures, passes, shrinks_within
from splitbrain import load_workload
from splitbrain.fuzz.schedule import history_checks, judge
from splitbrain.impls.raft.membership import config_of, initial_members, steps
from splitbrain.sim import RunResult, World, replay

WORKLOAD = load_workload("raft-reconfig")

#: variant -> (schedules budget from seed 1, checks that may catch it)
FIND = {
    "concurrent-config": (100, {"invariant:election-safety", "invariant:leader-completeness",
                                "invariant:state-machine-safety", "checker:linearizability"}),
    "config-before-noop": (60, {"invariant:leader-completeness", "invariant:state-machine-safety"}),
}
#: bug variants the default search does not find yet: each would be shown to fail by a directed schedule
#: instead (config-before-noop, found since the kingmaker arm, still has one: at the end of this file)
UNFOUND: set[str] = set()
#: variant -> (shrink replays, bound on the shrunk trace's steps)
SHRINK = {"concurrent-config": (150, 400)}  # measured: 751 -> 362 steps in 150 replays


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


first_failure = default_failures(WORKLOAD, FIND)


@pytest.mark.parametrize("variant", sorted(FIND))
def test_the_default_search_finds_the_bug_within_budget(variant: str) -> None:
    first_failure(variant)


def test_every_bug_variant_is_searched_or_listed_as_unfound() -> None:
    assert set(FIND) | UNFOUND == set(WORKLOAD.bug_variants)


@pytest.mark.parametrize("variant", sorted(SHRINK))
def test_the_failure_shrinks_to_a_trace_that_replays(variant: str) -> None:
    shrinks_within(WORKLOAD, first_failure(variant), *SHRINK[variant], minimal=False)


# -- config-before-noop, directed ----------------------------------------------------------------------
ALL = ["n1", "n2", "n3", "n4", "n5"]


def _drive(world: World, done: Callable[[World], bool], campaigner: str | None = None) -> None:
    """Run ``world`` until ``done(world)`` (or an invariant breaks), taking at each step the first
    deliverable message, else the first due timer, else ``advance``: every message arrives (unless a
    partition cuts its link), no client invokes anything, and only ``campaigner``'s election timer may
    fire — so who leads next is chosen, not drawn. (A due election timer of another node stays due; the
    next AppendEntries it hears resets it.)"""

    def allowed(key: str) -> bool:
        kind, _, rest = key.partition(":")
        if kind == "deliver":
            return True
        node, _, timer = rest.partition(":")
        return kind == "timer" and (timer != "election" or node == campaigner)

    for _ in range(3000):
        if world.violation is not None or done(world):
            return
        keys = world.enabled().keys()
        world.step(next((k for k in keys if allowed(k)), "advance"))
    raise AssertionError(f"the directed schedule got stuck at t={world.time}")


def _node(world: World, node_id: str) -> Any:
    return world.node(node_id)


def _leads(node_id: str) -> Callable[[World], bool]:
    return lambda world: _node(world, node_id) is not None and _node(world, node_id).role == "leader"


def ongaro_2015(variant: str, seed: int = 0) -> RunResult:
    """The schedule of Ongaro's raft-dev post (July 2015, "bug in single-server membership changes"),
    on n1-n4 voting and n5 spare:

    1. n1 leads term 1 and commits its no-op; cut ``{n1, n5} | {n2, n3, n4}``; n1 is asked to add n5:
       its config entry C = n1-n5 reaches n5 only. n1 crashes (C is on its disk).
    2. n2 is elected (term 2) by n2, n3, n4 in the old configuration, and appends its no-op; at once n4 is
       cut off too (``{n2, n3} | {n4}``), so n4 never hears of term 2's entries.
    3. n2 is asked to remove n1. The variant appends D = n2-n4 before its no-op commits and commits
       both with n2 and n3 — a majority of D, not of n1-n4. The correct version refuses: its no-op
       cannot commit without n1 or n4.
    4. n1 restarts, cut ``{n1, n4, n5} | {n2, n3}``: in C (five servers) n4 and n5 elect it (their logs
       are no newer than n1's), and it leads without the committed entries of term 2.

    Then the world quiesces (if nothing broke), so the correct run is judged in full."""
    world = World(WORKLOAD, variant, seed=seed)
    world.start()
    _drive(world, lambda w: _leads("n1")(w) and all(_node(w, i).commit >= 1 for i in ALL[:4]), "n1")
    world.step("partition", groups=[["n1", "n5"], ["n2", "n3", "n4"]])
    world.step("invoke:0", f="reconfigure", value=ALL, node="n1")
    _drive(world, lambda w: _node(w, "n5").config_index == 2)  # n5 holds C
    world.step("crash:n1")
    _drive(world, _leads("n2"), "n2")
    world.step("partition", groups=[["n1", "n5"], ["n2", "n3"], ["n4"]])  # n2's first appends to n4 are lost
    world.step("invoke:1", f="reconfigure", value=["n2", "n3", "n4"], node="n2")
    _drive(world, lambda w: w.clients[1].waiting is None)  # the removal is answered: ok, or refused
    world.step("restart:n1")
    world.step("partition", groups=[["n1", "n4", "n5"], ["n2", "n3"]])
    _drive(world, _leads("n1"), "n1")
    if world.violation is None:
        world.quiesce()
    return world.result()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_config_before_noop_loses_a_committed_entry_in_ongaros_schedule(seed: int) -> None:
    run = ongaro_2015("config-before-noop", seed)
    removal = [op for op in run.history.ops if op.process == 1 and op.f == "reconfigure"]
    assert [op.type for op in removal] == ["invoke", "ok"]  # the removal of n1 committed, and was acknowledged
    verdict = judge(run, history_checks(WORKLOAD))
    assert verdict.signature == "invariant:leader-completeness", verdict.message
    assert "leader n1 of term" in verdict.message
    again = replay(run.trace, WORKLOAD)  # an ordinary trace: it replays to the same violation
    assert again.invariant_violation == run.invariant_violation


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_correct_version_refuses_the_change_in_the_same_schedule(seed: int) -> None:
    run = ongaro_2015("correct", seed)
    removal = [op for op in run.history.ops if op.process == 1 and op.f == "reconfigure"]
    assert [op.type for op in removal] == ["invoke", "fail"]
    assert re.fullmatch(r"no entry of term \d+ is committed yet", removal[1].error or "")
    verdict = judge(run, history_checks(WORKLOAD))
    assert not verdict.failed and not verdict.unknown, verdict.message
