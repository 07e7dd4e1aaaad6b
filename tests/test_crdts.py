"""CRDTs: merge laws (Hypothesis), add-wins semantics, the value checks on hand-built histories, and the
crdt-counter / crdt-set workloads — correct versions pass campaigns, both bugs are found and shrunk."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus_support import first_default_failure, passes
from eventual_support import run_phase
from splitbrain import load_workload
from splitbrain.fuzz.schedule import ScheduleResult
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.histories import History, Op, dumps_history
from splitbrain.impls.eventual.crdt_workloads import (
    COUNTER_SEARCH,
    SET_SEARCH,
    CRDTCounterWorkload,
    CRDTSetWorkload,
    check_counter,
    check_set,
    subset_sums,
)
from splitbrain.impls.eventual.crdts import ElementTombstoneSet, GCounter, ORSet, PNCounter, SumMergePNCounter
from splitbrain.sim import FaultConfig, World, replay

COUNTER = load_workload("crdt-counter")
SET = load_workload("crdt-set")
SUM_BUDGET = 5  # schedules of the default search (from seed 1) to find sum-merge
TOMB_BUDGET = 20  # schedules of the default search (from seed 1) to find remove-unobserved
# shrunk trace lengths after 150 replays (sum-merge) and 300 (remove-unobserved, whose default-search find
# is longer): (whole trace, steps before quiesce); about 110 steps of every trace are the settling after
# quiesce, which anti-entropy needs and shrinking cannot remove
SUM_BOUND = (170, 25)
TOMB_BOUND = (170, 30)

NODES = st.sampled_from(("n1", "n2", "n3"))
g_counters = st.dictionaries(NODES, st.integers(0, 20)).map(lambda d: GCounter(tuple(sorted(d.items()))))
pn_counters = st.builds(PNCounter, g_counters, g_counters)
tags = st.tuples(NODES, st.integers(1, 4))
or_sets = st.builds(
    lambda added, removed: ORSet(tuple(sorted(set(added))), tuple(sorted(set(removed)))),
    st.lists(st.tuples(st.integers(0, 3), tags), max_size=8), st.lists(tags, max_size=5),
)
tombstone_sets = st.builds(
    lambda added, removed: ElementTombstoneSet(tuple(sorted(set(added))), tuple(sorted(set(removed)))),
    st.lists(st.tuples(st.integers(0, 3), tags), max_size=8), st.lists(st.integers(0, 3), max_size=3),
)


# -- merge laws --------------------------------------------------------------------------------------
@pytest.mark.parametrize("states", [g_counters, pn_counters, or_sets, tombstone_sets],
                         ids=["g-counter", "pn-counter", "or-set", "element-tombstone-set"])
def test_merge_is_commutative_associative_and_idempotent(states: st.SearchStrategy[Any]) -> None:
    @settings(max_examples=150, deadline=None)
    @given(states, states, states)
    def laws(a: Any, b: Any, c: Any) -> None:
        assert a.merge(b) == b.merge(a)
        assert a.merge(b).merge(c) == a.merge(b.merge(c))
        assert a.merge(a) == a
        assert a.merge(b).merge(a) == a.merge(b)  # merging moves up: what a knew stays known

    laws()


def test_sum_merge_is_not_idempotent() -> None:
    a = SumMergePNCounter().add("n1", 2).add("n2", -1)
    assert a.value == 1
    assert a.merge(a).value == 2  # the same state received twice counts twice
    assert PNCounter().add("n1", 2).add("n2", -1).merge(PNCounter().add("n1", 2)).value == 1


def test_g_counter_refuses_to_shrink() -> None:
    with pytest.raises(ValueError, match="only grows"):
        GCounter().increment("n1", -1)


# -- OR-set semantics ----------------------------------------------------------------------------------
def test_or_set_add_wins_over_a_concurrent_remove() -> None:
    a = ORSet().add(1, ("n1", 1))
    b = a.remove(1)  # n2 saw n1's add and removed it
    c = ORSet().add(1, ("n3", 1))  # n3 added 1 concurrently, unseen by the remove
    assert b.value == () and b.merge(c).value == (1,) and c.merge(b).merge(a).value == (1,)
    assert b.merge(a).value == ()  # the observed add stays removed
    assert b.add(1, ("n2", 1)).value == (1,)  # and adding again after a remove works


def test_element_tombstones_delete_adds_they_never_saw() -> None:
    a = ElementTombstoneSet().add(1, ("n1", 1))
    b = a.remove(1)
    c = ElementTombstoneSet().add(1, ("n3", 1))
    assert b.merge(c).value == ()  # the concurrent add is lost
    assert b.add(1, ("n2", 1)).value == ()  # and so is every later add


# -- the value checks on hand-built histories ----------------------------------------------------------
def call(p: Any, f: str, value: Any = None, out: Any = None, node: str = "n1", status: str = "ok") -> list[Op]:
    result = out if f in ("read", "final-read") else value
    return [Op(process=p, type="invoke", f=f, value=value, node=node),
            Op(process=p, type=status, f=f, value=result, node=node)]  # type: ignore[arg-type]


def finals(out: Any) -> list[Op]:
    return [op for n in ("n1", "n2") for op in call(n, "final-read", out=out, node=n)]


def test_subset_sums_match_brute_force() -> None:
    @settings(max_examples=100, deadline=None)
    @given(st.integers(-5, 5), st.lists(st.integers(-3, 3), max_size=6))
    def same(base: int, deltas: list[int]) -> None:
        brute = {base + sum(c) for r in range(len(deltas) + 1) for c in itertools.combinations(deltas, r)}
        assert subset_sums(base, deltas) == brute

    same()


def test_counter_check_allows_unknown_adds_either_way_and_nothing_else() -> None:
    ops = call(0, "add", 2) + call(1, "add", 3, status="info") + call(2, "add", 5, status="fail")
    for final, valid in ((2, True), (5, True), (7, False), (0, False)):
        verdict, text = check_counter(History.from_ops(ops + finals(final)))
        assert verdict is valid, (final, text)
    verdict, text = check_counter(History.from_ops(ops + finals(7)))
    assert "n1 ended with 7, but the 1 acknowledged adds sum to 2" in text
    assert "the 1 of unknown outcome (+3) allow only 2, 5" in text
    assert check_counter(History.from_ops(ops))[0] == "unknown"  # no final reads: cannot judge


def test_counter_check_holds_a_read_to_its_replicas_acknowledged_adds() -> None:
    ops = call(0, "add", 2, node="n1") + call(1, "read", out=0, node="n1") + finals(2)
    verdict, text = check_counter(History.from_ops(ops))
    assert verdict is False and "p1 read 0 at n1" in text
    elsewhere = call(0, "add", 2, node="n1") + call(1, "read", out=0, node="n2") + finals(2)
    assert check_counter(History.from_ops(elsewhere))[0] is True  # n2 may not have heard of it yet


def test_set_check_add_wins_rules() -> None:
    added = call(0, "add", 1, node="n1")
    # an acknowledged add that no remove could have observed must survive
    verdict, text = check_set(History.from_ops(added + finals(())))
    assert verdict is False and "lacks 1" in text
    # a remove that began before the add returned may have observed it: either outcome is fine
    concurrent = [*call(0, "add", 1)[:1], *call(1, "remove", 1, node="n2"), *call(0, "add", 1)[1:]]
    assert check_set(History.from_ops(concurrent + finals(())))[0] is True
    assert check_set(History.from_ops(concurrent + finals((1,))))[0] is True
    # removed afterwards through the replica that acknowledged the add: it must be gone
    gone = added + call(1, "remove", 1, node="n1")
    verdict, text = check_set(History.from_ops(gone + finals((1,))))
    assert verdict is False and "every add of it was removed afterwards" in text
    assert check_set(History.from_ops(gone + finals(())))[0] is True
    # nothing appears that no add added
    verdict, text = check_set(History.from_ops(added + finals((1, 2))))
    assert verdict is False and "holds 2, which no add added" in text


# -- the workloads ---------------------------------------------------------------------------------------
def test_correct_versions_pass_seeded_campaigns() -> None:
    assert passes(COUNTER, range(40)) > 500
    assert passes(SET, range(40)) > 500
    passes(COUNTER, range(100, 115), *COUNTER_SEARCH["sum-merge"])
    passes(SET, range(100, 115), *SET_SEARCH["remove-unobserved"])


def test_correct_versions_survive_heavy_duplication_and_drops() -> None:
    noisy = FaultConfig(kinds=("drop", "duplicate", "reorder", "crash"), weights={"drop": 40, "duplicate": 40})
    passes(COUNTER, range(200, 215), noisy)
    passes(SET, range(200, 215), noisy)


@pytest.mark.slow
def test_correct_versions_pass_long_campaigns() -> None:
    passes(COUNTER, range(1000, 2500))
    passes(SET, range(1000, 2500))
    passes(CRDTCounterWorkload(node_count=5), range(200))
    passes(CRDTSetWorkload(node_count=5), range(200))


def first_failure(workload: Any, variant: str, budget: int) -> ScheduleResult:
    """The first failure of the default search (the portfolio, the workload's own faults) from seed 1."""
    return first_default_failure(workload, variant, budget, caught_by={"checker:crdt-value"})[1]


def test_fuzzing_finds_and_shrinks_sum_merge() -> None:
    result = first_failure(COUNTER, "sum-merge", SUM_BUDGET)
    assert "wrong counter value" in result.verdict.message
    small = shrink_trace(COUNTER, result.trace, "checker:crdt-value", max_replays=150)
    assert small.after <= SUM_BOUND[0] and run_phase(small.trace) <= SUM_BOUND[1], small.trace.describe()


def test_fuzzing_finds_and_shrinks_remove_unobserved() -> None:
    result = first_failure(SET, "remove-unobserved", TOMB_BUDGET)
    assert "no remove of it could have observed that add" in result.verdict.message
    small = shrink_trace(SET, result.trace, "checker:crdt-value", max_replays=300)
    assert small.after <= TOMB_BOUND[0] and run_phase(small.trace) <= TOMB_BOUND[1], small.trace.describe()


def test_runs_replay_exactly() -> None:
    for workload, variant in ((COUNTER, "sum-merge"), (SET, "correct")):
        original = World(workload, variant, seed=8).run()
        again = replay(original.trace, workload)
        assert again.trace.dumps() == original.trace.dumps()
        assert dumps_history(again.history) == dumps_history(original.history)
