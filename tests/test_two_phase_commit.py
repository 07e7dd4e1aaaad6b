"""Two-phase commit over the sharded bank (``bank-2pc``): the correct version blocks, recovers and is never
flagged; every bug variant is found by fuzzing within a stated budget and shrunk; every invariant and
history check fails on a hand-built bad state or history."""

from __future__ import annotations

import pytest

from bank_support import deliver, fire, sent_last, transfer
from consensus_support import first_default_failure, passes, shrinks_within, started
from splitbrain import load_workload
from splitbrain.fuzz.explore import hypothesis_search
from splitbrain.fuzz.schedule import ScheduleResult, run_schedule
from splitbrain.histories import History, Op, dumps_history
from splitbrain.impls.bank.accounts import TOTAL, atomic_outcome
from splitbrain.impls.bank.history_checks import check_read_totals, check_strict_serializable, txn_history
from splitbrain.impls.bank.two_phase_commit import SEARCH, WAIT, TwoPhaseNode, money_conserved
from splitbrain.sim import RandomSource, World

WORKLOAD = load_workload("bank-2pc")

#: variant -> (seeded schedules from seed 0 within which it must be found, signatures that may catch it)
FIND = {
    "early-release": (20, {"invariant:money-conserved", "checker:read-totals"}),
    "unilateral-commit": (30, {"invariant:money-conserved", "invariant:atomic-outcome"}),
    "no-decision-log": (60, {"invariant:atomic-outcome"}),
}
#: variant -> (shrink replays, bound on the shrunk trace's steps, start and end included). no-decision-log's
#: 1-minimal traces from campaign seeds 1-6 have 53, 50, 22, 22, 26 and 16 steps (400 replays): links are
#: FIFO, so a message late on a link brings the ones before it along
SHRINK = {"early-release": (150, 35), "unilateral-commit": (150, 20), "no-decision-log": (400, 55)}


def test_registry() -> None:
    assert isinstance(load_workload("bank-2pc"), type(WORKLOAD))
    assert WORKLOAD.bug_variants == ["unilateral-commit", "no-decision-log", "early-release"]
    assert set(SEARCH) == set(WORKLOAD.bug_variants) == set(FIND)
    names = [name for name, _ in WORKLOAD.history_checks()]  # type: ignore[attr-defined]
    assert names == ["read-totals", "strict-serializable"]


# -- the correct version ------------------------------------------------------------------------------
def test_correct_version_passes_random_schedules() -> None:
    oks = passes(WORKLOAD, range(30))
    for faults, steps in SEARCH.values():
        oks += passes(WORKLOAD, range(15), faults, steps)
    assert oks > 200  # the checks judged real work: hundreds of committed transfers and reads


@pytest.mark.slow
def test_correct_version_passes_thousands_of_schedules() -> None:
    passes(WORKLOAD, range(1000, 2500))
    for faults, steps in SEARCH.values():
        passes(WORKLOAD, range(3000, 3800), faults, steps)


def test_same_seed_same_trace_and_history() -> None:
    first, second = (run_schedule(WORKLOAD, "correct", RandomSource(7)) for _ in range(2))
    assert first.trace.dumps() == second.trace.dumps()
    assert dumps_history(first.history) == dumps_history(second.history)
    other = run_schedule(WORKLOAD, "correct", RandomSource(8))
    assert other.trace.dumps() != first.trace.dumps()


def _prepared_transfer(variant: str) -> World:
    """a -> b (shards n2, n3) with both prepared, votes not yet delivered to the coordinator."""
    world = World(WORKLOAD, variant, seed=0, faults=["drop", "crash"])
    world.start()
    transfer(world, 0, "a", "b", 3)
    deliver(world, "n1>n2#1")
    deliver(world, "n1>n3#1")
    return world


def test_a_prepared_shard_blocks_until_the_coordinator_answers_then_presumed_abort() -> None:
    world = _prepared_transfer("correct")
    world.step("drop:n2>n1#1")  # the votes to n1 are lost (a crash alone would keep them in flight)
    world.step("drop:n3>n1#1")
    world.step("crash:n1")
    for _ in range(4):  # long after the timeout, n2 still holds its locks and keeps asking
        fire(world, "n2", "wait p0.1")
        assert "p0.1" in world.storage("n2")["prepared"]
        assert world.storage("n2")["balances"]["a"] is None
    assert world.time >= 4 * WAIT
    world.step("restart:n1")
    fire(world, "n2", "wait p0.1")
    deliver(world, sent_last(world)[0])  # the inquiry: n1 never logged p0.1, so it answers abort
    deliver(world, sent_last(world)[0])
    assert "p0.1" not in world.storage("n2")["prepared"]
    assert world.storage("n2")["done"]["p0.1"] == "abort"
    assert world.violation is None


@pytest.mark.parametrize("variant", ["correct", "no-decision-log"])
def test_a_restarted_coordinator_redrives_its_logged_commit(variant: str) -> None:
    world = _prepared_transfer(variant)
    deliver(world, "n2>n1#1")
    deliver(world, "n3>n1#1")  # both votes yes: n1 logs commit, answers the client, sends Decide
    assert sent_last(world) == ["n1>n2#2", "n1>n3#2", "n1>c0#1"]
    world.step("drop:n1>n3#2")
    deliver(world, "n1>n2#2")  # n2 commits
    world.step("crash:n1")
    world.step("restart:n1")
    if variant == "correct":
        assert sent_last(world) == ["n1>n2#3", "n1>n3#3"]  # the log re-driven
        deliver(world, "n1>n3#3")
        assert world.storage("n3")["balances"]["b"] == "p0.1:13"
        assert world.violation is None
    else:
        assert sent_last(world) == []  # nothing remembered
        fire(world, "n3", "wait p0.1")
        deliver(world, sent_last(world)[0])  # n1 has no record: presumed abort, for a committed transfer
        assert world.violation is not None and world.violation.name == "atomic-outcome"
        assert "p0.1 was committed by n1" in world.violation.message


@pytest.mark.parametrize("variant", ["correct", "early-release"])
def test_a_second_transfer_on_a_locked_account_is_refused(variant: str) -> None:
    world = World(WORKLOAD, variant, seed=0, faults=[])
    world.start()
    transfer(world, 0, "a", "b", 3)
    transfer(world, 1, "a", "d", 4)  # a and d are both on n2
    deliver(world, "n1>n2#1")
    deliver(world, "n1>n2#2")
    if variant == "correct":
        assert world.storage("n2")["done"] == {"p1.2": "abort"}
        return
    # without locks both prepared against a=10: a ends at 6 or 7, 3 or 4 of the bank's money lost
    for msg in ("n1>n3#1", "n2>n1#1", "n3>n1#1", "n2>n1#2", "n1>n2#3", "n1>n2#4"):
        deliver(world, msg)
    assert world.violation is not None and world.violation.name == "money-conserved"


# -- invariants on hand-built states --------------------------------------------------------------------
def node(world: World, node_id: str) -> TwoPhaseNode:
    found = world.node(node_id)
    assert isinstance(found, TwoPhaseNode)
    return found


def test_money_conserved_counts_committed_but_unapplied_changes_and_fails_on_lost_money() -> None:
    world = started(WORKLOAD)
    assert money_conserved.check(world) is None
    world.storage("n2")["balances"]["a"] = "p0.1:7"  # the debit applied
    world.storage("n3")["prepared"]["p0.1"] = {"read_only": False, "changes": {"b": [None, "p0.1:13"]}}
    assert "holds 57" in (money_conserved.check(world) or "")  # not committed: the credit is not owed
    node(world, "n1").journal.append(("p0.1", "commit"))
    assert money_conserved.check(world) is None  # committed: n3 owes b its +3
    world.storage("n3")["balances"]["e"] = "p9.9:12"
    assert f"holds 62, not {TOTAL}" in (money_conserved.check(world) or "")


def test_atomic_outcome_fails_when_one_node_commits_what_another_aborted() -> None:
    world = started(WORKLOAD)
    node(world, "n1").journal.append(("p0.1", "commit"))
    node(world, "n2").journal.append(("p0.1", "commit"))
    node(world, "n3").journal.append(("p0.2", "abort"))
    assert atomic_outcome.check(world) is None
    node(world, "n3").journal.append(("p0.1", "abort"))
    assert "p0.1 was committed by n1" in (atomic_outcome.check(world) or "")


# -- history checks on hand-built histories --------------------------------------------------------------
def history(*ops: tuple[int, str, str, object, object]) -> History:
    """Events ``(process, type, f, value, error)``."""
    return History.from_ops(Op(process=p, type=t, f=f, value=v, error=e) for p, t, f, v, e in ops)  # type: ignore[arg-type]


ALL = ("a", "b", "c", "d", "e", "f")


def read_all(process: int, versions: dict[str, str | None]) -> list[tuple[int, str, str, object, object]]:
    mops = tuple(("r", a, versions.get(a)) for a in ALL)
    return [(process, "invoke", "read", ALL, None), (process, "ok", "read", mops, None)]


def test_read_totals_fail_when_a_read_sees_half_a_transfer() -> None:
    good = history(*read_all(0, {"a": "p1.1:7", "b": "p1.1:13"}))
    assert check_read_totals(good)[0] is True
    bad = history(*read_all(0, {"a": "p1.1:7"}))
    valid, text = check_read_totals(bad)
    assert valid is False and "57 in the bank" in text


def test_strict_serializability_catches_a_read_of_an_aborted_transfer() -> None:
    aborted = [
        (1, "invoke", "transfer", ("a", "b", 3), None),
        (1, "fail", "transfer", ("a", "b", 3), ("aborted", "p1.1", "n3 voted no")),
    ]
    valid, text = check_strict_serializable(history(*aborted, *read_all(0, {"a": "p1.1:7"})))
    assert valid is False and "G1a" in text


def test_an_unknown_transfer_whose_write_was_read_is_its_writer() -> None:
    unknown = [(1, "invoke", "transfer", ("a", "b", 3), None), (1, "info", "transfer", ("a", "b", 3), "timeout")]
    h = history(*unknown, *read_all(0, {"a": "p1.1:7", "b": "p1.1:13"}))
    assert txn_history(h).ops[0].value == (("w", "a", "p1.1:7"), ("w", "b", "p1.1:13"))
    assert check_strict_serializable(h)[0] is True
    stranger = history(*read_all(0, {"a": "p5.1:7", "b": "p5.1:13"}))  # no process 5 ever ran
    valid, text = check_strict_serializable(stranger)
    assert valid is False and "garbage-read" in text


def test_strict_serializability_catches_a_lost_update() -> None:
    def committed(p: int, src: str, dst: str, n: int, old: tuple[str | None, str | None], new: tuple[int, int]):
        tid = f"p{p}.{n}"
        mops = (("r", src, old[0]), ("r", dst, old[1]), ("w", src, f"{tid}:{new[0]}"), ("w", dst, f"{tid}:{new[1]}"))
        return [(p, "invoke", "transfer", (src, dst, 3), None), (p, "ok", "transfer", mops, None)]

    both_read_a = [*committed(0, "a", "b", 1, (None, None), (7, 13)), *committed(1, "a", "c", 2, (None, None), (7, 13))]
    valid, text = check_strict_serializable(history(*both_read_a))
    assert valid is False and "lost-update" in text


# -- the bugs, found and shrunk ---------------------------------------------------------------------------
def first_failure(variant: str) -> ScheduleResult:
    budget, caught_by = FIND[variant]
    return first_default_failure(WORKLOAD, variant, budget, caught_by=caught_by)[1]


@pytest.mark.parametrize("variant", sorted(FIND))
def test_fuzzing_finds_and_shrinks_the_bug(variant: str) -> None:
    shrinks_within(WORKLOAD, first_failure(variant), *SHRINK[variant])


def test_hypothesis_finds_early_release() -> None:
    outcome = hypothesis_search(WORKLOAD, "early-release", seed_value=0, examples=30, shrink_runs=50)
    assert outcome.failure is not None
    assert outcome.failure.verdict.signature in FIND["early-release"][1]


def test_without_invariants_the_history_checks_catch_the_bugs() -> None:
    """The history checks are not only a backstop: on their own they catch lost updates and aborted reads."""
    bare = type(WORKLOAD)(invariants=())
    for variant, expected in (("early-release", "checker:"), ("unilateral-commit", "checker:")):
        faults, steps = SEARCH[variant]
        caught = [
            run_schedule(bare, variant, RandomSource(seed), faults=faults, max_steps=steps).verdict.signature
            for seed in range(10)
        ]
        assert any(s is not None and s.startswith(expected) for s in caught), (variant, caught)
