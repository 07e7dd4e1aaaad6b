"""Multi-Paxos (one Synod instance per slot) behind the ``paxos`` cas-register workload: the correct
version is never flagged (3 and 5 nodes; thousands of schedules with ``-m slow``), and both invariants
can fail on a hand-built bad state."""

from __future__ import annotations

import pytest

from consensus_support import EVERY_FAULT, passes, passes_every_partition_shape, started
from splitbrain import load_workload
from splitbrain.impls.paxos.register import SEARCH, PaxosNode, PaxosWorkload, learners_agree, one_value_per_slot
from splitbrain.sim import World

WORKLOAD = load_workload("paxos")
FIVE = PaxosWorkload(node_count=5)


def test_registry() -> None:
    assert isinstance(load_workload("paxos"), type(WORKLOAD))
    assert WORKLOAD.model == "cas-register"
    assert WORKLOAD.bug_variants == ["forget-promise", "ignore-accepted", "adopt-latest"]
    assert set(SEARCH) < set(WORKLOAD.bug_variants)  # the newer variants are found by the defaults alone


def test_correct_version_passes_random_schedules() -> None:
    assert passes(WORKLOAD, range(100)) > 100 * 3
    assert passes(FIVE, range(25)) > 25 * 2
    for faults, steps in SEARCH.values():
        passes(WORKLOAD, range(10), faults, steps)


def test_correct_version_passes_every_partition_shape_the_bridge_included() -> None:
    passes_every_partition_shape(WORKLOAD, FIVE)


@pytest.mark.slow
@pytest.mark.parametrize("nodes", [3, 5])
def test_correct_version_passes_thousands_of_schedules(nodes: int) -> None:
    workload = WORKLOAD if nodes == 3 else FIVE
    passes(workload, range(1000, 3000), unknown=10)
    passes(workload, range(3000, 3500), EVERY_FAULT, unknown=5)
    for faults, steps in SEARCH.values():
        passes(workload, range(5000, 5500), faults, steps, unknown=5)


def node(world: World, node_id: str) -> PaxosNode:
    found = world.node(node_id)
    assert isinstance(found, PaxosNode)
    return found


def test_one_value_per_slot_fails_when_two_majorities_accept_different_values() -> None:
    world = started(WORKLOAD)
    a, b = (1, "write", 1), (2, "write", 2)
    node(world, "n1").journal.append((1, (1, 1), a))
    node(world, "n2").journal.append((1, (1, 1), a))
    assert one_value_per_slot.check(world) is None  # a is chosen at ballot (1, 1)
    node(world, "n2").journal.append((1, (2, 3), b))  # n2 later accepts b at a higher ballot
    assert one_value_per_slot.check(world) is None  # one acceptance is no choice
    node(world, "n3").journal.append((1, (2, 3), b))
    assert "slot 1" in (one_value_per_slot.check(world) or "")


def test_learners_agree_fails_when_two_nodes_learn_different_values() -> None:
    world = started(WORKLOAD)
    node(world, "n1").learned.append((1, (1, "write", 1)))
    assert learners_agree.check(world) is None
    node(world, "n2").learned.append((1, (2, "write", 2)))
    assert "slot 1" in (learners_agree.check(world) or "")
