"""Try / confirm / cancel over the sharded bank (``bank-tcc``): the correct version survives late tries,
repeated confirms and coordinator crashes and is never flagged; both bug variants are found by fuzzing
within a stated budget and shrunk; every invariant fails on a hand-built bad state."""

from __future__ import annotations

import pytest

from bank_support import deliver, fire, sent_last, transfer
from consensus_support import first_default_failure, passes, shrinks_within, started
from splitbrain import load_workload
from splitbrain.fuzz.schedule import ScheduleResult, run_schedule
from splitbrain.histories import dumps_history
from splitbrain.impls.bank.accounts import TOTAL, atomic_outcome
from splitbrain.impls.bank.tcc import SEARCH, TCCNode, money_conserved, no_reservation_after_finish
from splitbrain.sim import RandomSource, World

WORKLOAD = load_workload("bank-tcc")

#: variant -> (seeded schedules from seed 0 within which it must be found, signatures that may catch it)
FIND = {
    "no-empty-rollback": (40, {"invariant:no-reservation-after-finish"}),
    "non-idempotent-confirm": (30, {"invariant:money-conserved"}),
}
#: variant -> (shrink replays, bound on the shrunk trace's steps, start and end included)
SHRINK = {"no-empty-rollback": (200, 40), "non-idempotent-confirm": (150, 25)}


def test_registry() -> None:
    assert isinstance(load_workload("bank-tcc"), type(WORKLOAD))
    assert WORKLOAD.bug_variants == ["no-empty-rollback", "non-idempotent-confirm"]
    assert set(SEARCH) == set(WORKLOAD.bug_variants) == set(FIND)
    assert WORKLOAD.history_checks() == []  # type: ignore[attr-defined]  # judged by invariants only


# -- the correct version ------------------------------------------------------------------------------
def test_correct_version_passes_random_schedules() -> None:
    oks = passes(WORKLOAD, range(30))
    for faults, steps in SEARCH.values():
        oks += passes(WORKLOAD, range(15), faults, steps)
    assert oks > 300  # hundreds of confirmed transfers


@pytest.mark.slow
def test_correct_version_passes_thousands_of_schedules() -> None:
    passes(WORKLOAD, range(1000, 2500))
    for faults, steps in SEARCH.values():
        passes(WORKLOAD, range(3000, 3800), faults, steps)


def test_same_seed_same_trace_and_history() -> None:
    first, second = (run_schedule(WORKLOAD, "correct", RandomSource(3)) for _ in range(2))
    assert first.trace.dumps() == second.trace.dumps()
    assert dumps_history(first.history) == dumps_history(second.history)


@pytest.mark.parametrize("variant", ["correct", "no-empty-rollback"])
def test_a_cancel_that_overtakes_its_try(variant: str) -> None:
    world = World(WORKLOAD, variant, seed=0, faults=["reorder"])  # links are not FIFO
    world.start()
    transfer(world, 0, "a", "b", 3)  # Try a -3 to n2 (held back), Try b +3 to n3
    deliver(world, "n1>n3#1")
    deliver(world, "n3>n1#1")
    fire(world, "n1", "try p0.1")  # n2 never answered: cancel
    assert sent_last(world) == ["n1>n2#2", "n1>n3#2", "n1>c0#1"]
    deliver(world, "n1>n2#2")  # the cancel reaches n2 before the try
    deliver(world, "n1>n2#1")  # the late try
    for msg in ("n1>n3#2", "n2>n1#1", "n3>n1#2"):  # n3 cancels; both acknowledge: finished
        deliver(world, msg)
    if variant == "correct":
        assert world.storage("n2")["settled"] == {"p0.1": "cancel"}  # the empty rollback, remembered
        assert world.storage("n2")["reserved"] == {} and world.storage("n2")["available"]["a"] == 10
        assert world.violation is None
    else:
        assert world.storage("n2")["reserved"] == {"p0.1": {"a": -3}}
        assert world.violation is not None and world.violation.name == "no-reservation-after-finish"
        assert "3 of a frozen" in world.violation.message


@pytest.mark.parametrize("variant", ["correct", "non-idempotent-confirm"])
def test_a_duplicated_confirm(variant: str) -> None:
    world = World(WORKLOAD, variant, seed=0, faults=["duplicate"])
    world.start()
    transfer(world, 0, "a", "b", 3)
    for msg in ("n1>n2#1", "n1>n3#1", "n2>n1#1", "n3>n1#1"):
        deliver(world, msg)
    assert sent_last(world) == ["n1>n2#2", "n1>n3#2", "n1>c0#1"]  # confirmed
    world.step("duplicate:n1>n3#2")
    for msg in ("n1>n2#2", "n1>n3#2", "n1>n3#3"):
        deliver(world, msg)
    if variant == "correct":
        assert world.storage("n3")["available"]["b"] == 13
        assert world.violation is None
    else:
        assert world.storage("n3")["available"]["b"] == 16
        assert world.violation is not None and world.violation.name == "money-conserved"


def test_a_restarted_coordinator_cancels_what_it_had_not_decided() -> None:
    world = World(WORKLOAD, "correct", seed=0, faults=["crash"])
    world.start()
    transfer(world, 0, "a", "b", 3)
    deliver(world, "n1>n2#1")
    deliver(world, "n1>n3#1")
    assert world.storage("n2")["available"]["a"] == 7  # frozen
    world.step("crash:n1")  # the try answers are lost with it
    world.step("restart:n1")
    assert sent_last(world) == ["n1>n2#2", "n1>n3#2"]  # cancel, from the log
    deliver(world, "n1>n2#2")
    deliver(world, "n1>n3#2")
    assert world.storage("n2")["available"]["a"] == 10 and world.storage("n2")["reserved"] == {}
    assert world.violation is None


# -- invariants on hand-built states --------------------------------------------------------------------
def node(world: World, node_id: str) -> TCCNode:
    found = world.node(node_id)
    assert isinstance(found, TCCNode)
    return found


def test_money_conserved_counts_frozen_funds_and_confirmed_credits() -> None:
    world = started(WORKLOAD)
    assert money_conserved.check(world) is None
    world.storage("n2")["available"]["a"] = 7
    world.storage("n2")["reserved"]["p0.1"] = {"a": -3}
    world.storage("n3")["reserved"]["p0.1"] = {"b": 3}
    assert money_conserved.check(world) is None  # tried: 3 frozen
    node(world, "n1").journal.append(("p0.1", "commit"))
    assert money_conserved.check(world) is None  # confirmed: the frozen 3 is owed to b
    world.storage("n3")["available"]["b"] = 13  # b credited, but the reservation is still there
    assert f"holds 63, not {TOTAL}" in (money_conserved.check(world) or "")


def test_no_reservation_after_finish_fails_on_a_leftover_reservation() -> None:
    world = started(WORKLOAD)
    world.storage("n2")["reserved"]["p0.1"] = {"a": -3}
    node(world, "n1").journal.append(("p0.1", "abort"))
    assert no_reservation_after_finish.check(world) is None  # cancelled, not yet acknowledged
    node(world, "n1").journal.append(("p0.1", "finished"))
    assert "n2 holds a reservation" in (no_reservation_after_finish.check(world) or "")


def test_atomic_outcome_fails_when_a_confirmed_transfer_is_cancelled_elsewhere() -> None:
    world = started(WORKLOAD)
    node(world, "n1").journal.append(("p0.1", "commit"))
    assert atomic_outcome.check(world) is None
    node(world, "n3").journal.append(("p0.1", "abort"))
    assert "aborted by n3" in (atomic_outcome.check(world) or "")


# -- the bugs, found and shrunk ---------------------------------------------------------------------------
def first_failure(variant: str) -> ScheduleResult:
    budget, caught_by = FIND[variant]
    return first_default_failure(WORKLOAD, variant, budget, caught_by=caught_by)[1]


@pytest.mark.parametrize("variant", sorted(FIND))
def test_fuzzing_finds_and_shrinks_the_bug(variant: str) -> None:
    shrinks_within(WORKLOAD, first_failure(variant), *SHRINK[variant])
