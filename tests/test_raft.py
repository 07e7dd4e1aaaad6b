"""Raft behind the ``raft-kv`` workload: the correct version is never flagged (about a hundred schedules by
default, thousands with ``-m slow``, 3 and 5 nodes); every invariant can fail on a hand-built bad state."""

from __future__ import annotations

from typing import Any

import pytest

from consensus_support import EVERY_FAULT, passes, passes_every_partition_shape, started
from splitbrain import load_workload
from splitbrain.impls.raft import RaftKVWorkload, RaftNode
from splitbrain.impls.raft.invariants import (
    election_safety,
    leader_completeness,
    log_matching,
    state_machine_safety,
)
from splitbrain.impls.raft.workload import SEARCH
from splitbrain.sim import World

WORKLOAD = load_workload("raft-kv")
FIVE = RaftKVWorkload(node_count=5)


def test_registry() -> None:
    assert isinstance(load_workload("raft-kv"), type(WORKLOAD))
    assert WORKLOAD.model == "kv"
    assert WORKLOAD.bug_variants == [
        "unpersisted-vote", "unsynced-vote", "commit-old-term", "stale-read", "truncate-on-append", "no-step-down",
        "vote-by-length", "truncate-off-by-one",
    ]
    assert set(SEARCH) < set(WORKLOAD.bug_variants)  # the newer variants are found by the defaults alone


def test_correct_version_passes_random_schedules() -> None:
    assert passes(WORKLOAD, range(80)) > 80 * 5  # the runs did real work, not only timeouts
    assert passes(FIVE, range(25)) > 25 * 4


def test_correct_version_passes_every_search_config() -> None:
    for faults, steps in SEARCH.values():
        passes(WORKLOAD, range(15), faults, steps)


def test_correct_version_passes_every_partition_shape_the_bridge_included() -> None:
    passes_every_partition_shape(WORKLOAD, FIVE)


@pytest.mark.slow
@pytest.mark.parametrize("nodes", [3, 5])
def test_correct_version_passes_thousands_of_schedules(nodes: int) -> None:
    workload = WORKLOAD if nodes == 3 else FIVE
    passes(workload, range(1000, 3000), unknown=10)
    passes(workload, range(3000, 3500), EVERY_FAULT, unknown=5)
    for faults, steps in SEARCH.values():
        passes(workload, range(5000, 5400), faults, steps, unknown=4)


# -- every invariant can fail --------------------------------------------------------------------------
def node(world: World, node_id: str) -> RaftNode:
    found = world.node(node_id)
    assert isinstance(found, RaftNode)
    return found


def cmd(rid: int, value: str = "a") -> tuple[int, str, str, str]:
    return (rid, "put", "x", value)


def test_election_safety_fails_on_two_leaders_of_one_term_even_at_different_times() -> None:
    world = started(WORKLOAD)
    n1, n2 = node(world, "n1"), node(world, "n2")
    n1.role, n1.term = "leader", 2
    assert election_safety.check(world) is None
    n1.role = "follower"  # n1 stepped down; n2 now claims the same term
    n2.role, n2.term = "leader", 2
    assert "both leader of term 2" in (election_safety.check(world) or "")


def test_log_matching_fails_when_equal_terms_hide_different_prefixes() -> None:
    world = started(WORKLOAD)
    world.storage("n1")["log"][:] = [(1, cmd(1)), (2, cmd(2))]
    world.storage("n2")["log"][:] = [(1, cmd(1)), (1, cmd(3))]
    assert log_matching.check(world) is None  # they differ only where the terms differ
    world.storage("n2")["log"][:] = [(1, cmd(9)), (2, cmd(2))]
    assert "differ at index 1" in (log_matching.check(world) or "")


def test_leader_completeness_fails_when_a_later_leader_lacks_a_committed_entry() -> None:
    world = started(WORKLOAD)
    n1, n2 = node(world, "n1"), node(world, "n2")
    n1.log[:] = [(1, cmd(1))]
    n1.term, n1.commit = 1, 1
    assert leader_completeness.check(world) is None
    n2.log[:] = [(2, cmd(2))]
    n2.role, n2.term = "leader", 2
    assert "lacks entry 1" in (leader_completeness.check(world) or "")


def test_state_machine_safety_fails_on_different_commands_at_one_index() -> None:
    world = started(WORKLOAD)
    node(world, "n1").applied.append(cmd(1))
    assert state_machine_safety.check(world) is None
    node(world, "n3").applied.append(cmd(2))
    assert "at index 1" in (state_machine_safety.check(world) or "")


# -- a scenario by hand: the bug of no-step-down, step by step ------------------------------------------
def drive(world: World, done: Any, limit: int = 3000) -> None:
    for _ in range(limit):
        if done():
            return
        ready = [k for k, _ in world.enabled() if k.startswith(("deliver:", "timer:", "timeout:"))]
        world.step(ready[0] if ready else "advance")
    raise AssertionError("the scenario did not converge")


def newest_leader(world: World) -> RaftNode | None:
    leaders = [n for n in world.live_nodes() if isinstance(n, RaftNode) and n.role == "leader"]
    return max(leaders, key=lambda n: n.term) if leaders else None


@pytest.mark.parametrize(("variant", "read"), [("correct", None), ("no-step-down", "a")])
def test_a_deposed_leader_confirms_reads_only_with_the_bug(variant: str, read: str | None) -> None:
    world = World(WORKLOAD, variant, seed=0, faults=["partition"])
    world.start()
    idle = lambda: all(slot.waiting is None for slot in world.clients)  # noqa: E731
    drive(world, lambda: newest_leader(world) is not None)
    old = newest_leader(world)
    assert old is not None
    world.step("invoke:0", f="put", value="a", op_key="x", node=old.id)
    drive(world, idle)
    others = [n for n in world.node_ids if n != old.id]
    world.step("partition", groups=[[old.id], others])
    drive(world, lambda: (leader := newest_leader(world)) is not None and leader.id != old.id)
    new = newest_leader(world)
    assert new is not None
    world.step("invoke:0", f="put", value="b", op_key="x", node=new.id)
    drive(world, idle)
    bridge = next(n for n in others if n != new.id)
    world.step("partition", groups=[[old.id, bridge], [new.id]])
    world.step("invoke:1", f="get", op_key="x", node=old.id)
    drive(world, idle)
    last = world.result().history.ops[-1]
    assert (last.type, last.value) == (("ok", read) if read else ("fail", None))
