"""The disk model: a crash keeps every write, a power loss keeps what was synced and lands, loses or
tears the rest; the choice is recorded so a replay loses the same writes; the always-durable disk stays
available; and a Raft that forgets to sync its vote is caught under power-loss (only) and shrunk."""

from __future__ import annotations

from typing import Any

import pytest

from consensus_support import first_seeded_failure, passes, shrinks_within
from splitbrain import load_workload
from splitbrain.errors import UsageError
from splitbrain.fuzz.schedule import run_schedule
from splitbrain.impls.raft.workload import SEARCH
from splitbrain.sim import ClientOp, Disk, FaultConfig, Node, Rand, RandomSource, Request, Workload, World, replay

# -- the Disk on its own -------------------------------------------------------------------------------


def test_a_synced_write_survives_a_power_loss_and_an_unsynced_one_may_not() -> None:
    disk = Disk("fsync")
    disk.cache["vote"] = "n2"
    disk.sync()
    disk.cache["vote"] = "n3"
    assert disk.dirty() == ["vote"] and disk.durable == {"vote": "n2"}
    kept = disk.restart_after_power_loss(lambda key, grown: 0)  # every unsynced write lost
    assert kept == {} and disk.cache == {"vote": "n2"}


def test_sync_of_chosen_keys_leaves_the_others_unsynced() -> None:
    disk = Disk("fsync")
    disk.cache.update(term=3, vote="n2", log=[(1, "a")])
    disk.sync(("log",))
    assert disk.dirty() == ["term", "vote"]
    disk.restart_after_power_loss(lambda key, grown: -1 if key == "vote" else 0)  # a torn multi-key write
    assert disk.cache == {"log": [(1, "a")], "vote": "n2"}


def test_an_unsynced_append_can_tear_after_any_of_its_items() -> None:
    disk = Disk("fsync")
    disk.cache["log"] = [1, 2]
    disk.sync()
    disk.cache["log"].extend([3, 4, 5])  # mutated in place, as nodes do
    assert disk.appended("log") == 3
    kept = disk.restart_after_power_loss(lambda key, grown: 1)
    assert kept == {"log": 1} and disk.cache["log"] == [1, 2, 3]
    assert disk.dirty() == []  # what landed is durable now


def test_a_crash_keeps_every_write_and_detaches_the_dead_incarnation() -> None:
    disk = Disk("fsync")
    old = disk.cache
    old["log"] = [1]
    disk.restart_after_crash()
    old["log"].append(2)  # the dead incarnation still holds its dict
    assert disk.cache == {"log": [1]} and disk.dirty() == ["log"]  # unsynced still, and still there


def test_the_durable_disk_keeps_every_write_at_once() -> None:
    disk = Disk("durable")
    disk.cache["x"] = 1
    assert disk.dirty() == [] and disk.restart_after_power_loss(lambda key, grown: 0) == {}
    assert disk.cache == {"x": 1}


def test_a_synced_value_is_a_copy_that_later_changes_do_not_reach() -> None:
    disk = Disk("fsync")
    disk.cache["log"] = [(1, ("put", "x"))]
    disk.sync()
    disk.cache["log"][0] = (2, ("put", "y"))
    assert disk.durable == {"log": [(1, ("put", "x"))]}


# -- the power-loss fault in a world -------------------------------------------------------------------
class Ledger(Node):
    """Appends what clients send to ``storage["entries"]``; syncs only when ``sync`` is set."""

    sync = False

    def on_start(self) -> None:
        self.storage.setdefault("entries", [])

    def on_client(self, request: Request) -> None:
        self.storage["entries"].append(request.value)
        if self.sync:
            self.fsync()
        self.reply(request)


class SyncedLedger(Ledger):
    sync = True


class LedgerWorkload(Workload):
    name = "ledger"
    model = "register"
    variants = {"correct": SyncedLedger, "unsynced": Ledger}
    node_count = 1
    clients = 1
    faults = FaultConfig(kinds=("power-loss",), max_down=1)

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("write", rand.unique())


def written(variant: str, steps: list[str], **settings: Any) -> tuple[World, list[Any]]:
    world = World(LedgerWorkload(**settings), variant, seed=1)
    world.start()
    for key in steps:
        if key == "settle":
            while not any(k.startswith("deliver:") for k, _ in world.enabled()):
                world.step("advance")
            while any(k.startswith("deliver:") for k, _ in world.enabled()):
                world.step(next(k for k, _ in world.enabled() if k.startswith("deliver:")))
        else:
            world.step(key)
    return world, world.storage("n1").get("entries", [])


def test_power_loss_loses_what_was_not_synced_and_crash_does_not() -> None:
    steps = ["invoke:0", "settle", "settle"]
    _, entries = written("unsynced", [*steps, "power-loss:n1"], disk="fsync")
    assert entries in ([], [1])  # the write landed or not, as drawn
    world, _ = written("unsynced", [*steps, "power-loss:n1"], disk="fsync")
    step = world.steps[-1]
    assert step.kind == "power-loss" and step.kept is not None  # the outcome is recorded
    _, entries = written("correct", [*steps, "power-loss:n1"], disk="fsync")
    assert entries == [1]  # synced before the reply
    _, entries = written("unsynced", [*steps, "power-loss:n1"], disk="durable")
    assert entries == [1]  # today's always-durable storage, by setting


def test_a_replay_loses_exactly_the_writes_the_run_lost() -> None:
    often = FaultConfig(kinds=("power-loss",), max_down=1, weights={"power-loss": 300, "restart": 300})
    workload = LedgerWorkload(max_steps=80, faults=often)
    losses = 0
    for seed in range(8):
        run = World(workload, "unsynced", seed=seed).run()
        losses += sum(s.kind == "power-loss" and s.kept is not None for s in run.trace.steps)
        again = replay(run.trace, workload)
        assert again.trace.dumps() == run.trace.dumps()
        assert again.world.storage("n1") == run.world.storage("n1")
    assert losses >= 3  # power losses with unsynced writes did happen


def test_power_loss_is_opt_in_and_a_bad_disk_setting_is_refused() -> None:
    assert "power-loss" not in FaultConfig().kinds  # saved seeds keep meaning what they meant
    with pytest.raises(UsageError, match="disk must be one of fsync, durable"):
        LedgerWorkload(disk="ssd")


# -- Raft: a vote written but not synced ---------------------------------------------------------------
RAFT = load_workload("raft-kv")


def test_raft_that_does_not_sync_its_vote_is_caught_under_power_loss_and_shrunk() -> None:
    _, found = first_seeded_failure(RAFT, "unsynced-vote", 50, *SEARCH["unsynced-vote"],
                                       caught_by={"invariant:election-safety"})
    assert any(s.kind == "power-loss" for s in found.trace.steps)
    small = shrinks_within(RAFT, found, 150, 20)
    assert "power-loss" in [s.kind for s in small.trace.steps]
    assert "both leader of term" in small.result.verdict.message


def test_the_same_bug_survives_plain_crashes_and_correct_raft_survives_power_loss() -> None:
    faults, steps = SEARCH["unsynced-vote"]
    crash_only = FaultConfig(kinds=("drop", "crash"), weights={"crash": 60, "restart": 200, "drop": 10})
    for seed in range(25):
        result = run_schedule(RAFT, "unsynced-vote", RandomSource(seed), faults=crash_only, max_steps=steps)
        assert not result.verdict.failed, (seed, result.verdict.message)
    passes(RAFT, range(25), faults, steps)
