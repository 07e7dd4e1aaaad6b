"""The primary-backup register under random schedules with every fault: the correct version is always
linearizable (a few hundred seeds by default, thousands with ``-m slow``); each bug variant is caught."""

from __future__ import annotations

import pytest

from splitbrain import load_workload
from splitbrain.checker.linearizability import check_linearizability
from splitbrain.histories import dumps_history
from splitbrain.impls.primary_backup.register import PrimaryBackup
from splitbrain.models import get_model
from splitbrain.sim import World, replay

WORKLOAD = load_workload("primary-backup")
MODEL = get_model(WORKLOAD.model)


def check(variant: str, seed: int) -> tuple[object, World]:
    result = World(WORKLOAD, variant, seed=seed).run()
    assert result.invariant_violation is None, (seed, result.invariant_violation)
    verdict = check_linearizability(result.history, MODEL, timeout=30)
    assert verdict.valid != "unknown", (variant, seed, verdict.explain())
    return verdict.valid, result.world


def first_failing_seed(variant: str, limit: int) -> int | None:
    for seed in range(limit):
        valid, _ = check(variant, seed)
        if valid is False:
            return seed
    return None


def test_registry() -> None:
    assert isinstance(load_workload("primary-backup"), type(WORKLOAD))
    assert WORKLOAD.model == "cas-register"
    assert WORKLOAD.bug_variants == ["early-ack", "local-read"]


def test_correct_version_is_linearizable_under_random_faults() -> None:
    oks = 0
    for seed in range(150):
        valid, world = check("correct", seed)
        assert valid is True, f"seed {seed}"
        oks += sum(op.type == "ok" for op in world.result().history.ops)
    assert oks > 150 * 5  # the runs did real work, not only timeouts


@pytest.mark.slow
def test_correct_version_is_linearizable_over_thousands_of_seeds() -> None:
    failures = [seed for seed in range(150, 3150) if check("correct", seed)[0] is not True]
    assert failures == []


@pytest.mark.parametrize("variant", ["early-ack", "local-read"])
def test_bug_variant_is_caught_within_a_few_hundred_seeds(variant: str) -> None:
    seed = first_failing_seed(variant, 300)
    assert seed is not None, f"{variant} was not caught in 300 seeds"
    # the failure reproduces from its trace alone
    original = World(WORKLOAD, variant, seed=seed).run()
    again = replay(original.trace, WORKLOAD)
    assert dumps_history(again.history) == dumps_history(original.history)
    assert check_linearizability(again.history, MODEL).valid is False


def test_correct_version_survives_each_fault_kind_alone() -> None:
    for kind in ("drop", "duplicate", "delay", "reorder", "partition", "oneway", "crash", "pause", "skew"):
        for seed in range(8):
            result = World(WORKLOAD, seed=seed, faults=[kind]).run()
            verdict = check_linearizability(result.history, MODEL, timeout=30)
            assert verdict.valid is True, (kind, seed)


def test_failover_elects_a_new_primary_that_keeps_acknowledged_writes() -> None:
    world = World(WORKLOAD, seed=0, faults=["crash"])  # driven by hand: no fault happens unless chosen
    world.start()
    world.step("invoke:0", f="write", value=3, node="n1")
    while any(slot.waiting for slot in world.clients):
        ready = [k for k, _ in world.enabled() if k.startswith(("deliver:", "timer:"))]
        world.step(ready[0] if ready else "advance")
    assert world.result().history.ops[-1].type == "ok"
    world.step("crash:n1")
    for _ in range(400):
        primaries = [n for n in world.live_nodes() if isinstance(n, PrimaryBackup) and n.role == "primary"]
        if primaries:
            break
        ready = [k for k, _ in world.enabled() if k.startswith(("deliver:", "timer:"))]
        world.step(ready[0] if ready else "advance")
    assert primaries and primaries[0].id != "n1" and primaries[0].view > 0
    assert world.storage(primaries[0].id)["value"] == 3
