"""Aimed faults and client state.

An aim fires a fault at a role or on an event as an explicit trace step, which replays and shrinks like
any other; a test can aim where a bug lives ("crash the primary right after it acknowledges a write")
instead of waiting for the fault to be drawn. Each client slot has its own state and may fail over."""

from __future__ import annotations

from typing import Any

import pytest

from consensus_support import shrinks_within
from splitbrain import load_workload
from splitbrain.errors import UsageError
from splitbrain.fuzz.schedule import ScheduleResult, history_checks, judge
from splitbrain.histories import NEMESIS
from splitbrain.sim import (
    Aim,
    Client,
    ClientOp,
    Node,
    Rand,
    Request,
    Workload,
    World,
    after_deliver,
    after_reply,
    after_role_change,
    after_send,
    at,
    replay,
    when,
    when_role,
)

RAFT = load_workload("raft-kv")
PRIMARY_BACKUP = load_workload("primary-backup")

ACKED = after_reply(f="write")
#: early-ack's window, aimed at: the primary acknowledges a write, its Accepts are lost, and it crashes
LOSE_THE_WRITE = [
    Aim("crash", "replier", ACKED, name="crash the primary after it acks a write"),
    Aim("drop", "message", ACKED & after_send(kind="Accept"), times=2, name="lose the write's Accepts"),
]


def aimed_run(variant: str, seed: int) -> ScheduleResult:
    run = World(PRIMARY_BACKUP, variant, seed=seed, faults=[], aims=LOSE_THE_WRITE, max_steps=300).run()
    return ScheduleResult(run, judge(run, history_checks(PRIMARY_BACKUP)))


def test_an_aimed_fault_exposes_early_ack_with_no_fault_drawn_at_random() -> None:
    found = [seed for seed in range(20) if aimed_run("early-ack", seed).verdict.failed]
    assert len(found) >= 2
    assert not any(aimed_run("correct", seed).verdict.failed for seed in range(20))
    result = aimed_run("early-ack", found[0])
    aimed = [s for s in result.trace.steps if s.aim is not None]
    assert [s.kind for s in aimed] == ["crash", "drop", "drop"]
    assert aimed[0].aim == "crash the primary after it acks a write"
    # the faults are ordinary steps right after the acknowledgement, named in the readable trace
    assert "[aimed: crash the primary after it acks a write]" in result.trace.describe()


def test_an_aimed_failure_replays_step_for_step_and_shrinks_with_its_aimed_steps() -> None:
    seed = next(seed for seed in range(20) if aimed_run("early-ack", seed).verdict.failed)
    result = aimed_run("early-ack", seed)
    again = replay(result.trace, PRIMARY_BACKUP)  # no aims given: the trace alone carries them
    assert again.skipped == 0 and again.trace.dumps() == result.trace.dumps()
    small = shrinks_within(PRIMARY_BACKUP, result, 400, 40)
    assert [s.kind for s in small.trace.steps if s.aim] == ["crash", "drop", "drop"]


def test_crash_the_leader_as_soon_as_there_is_one() -> None:
    run = World(RAFT, seed=0, faults=[], aims=[Aim("crash", "leader", when_role("leader"))]).run()
    (step,) = [s for s in run.trace.steps if s.aim is not None]
    assert step.kind == "crash" and step.aim == "crash leader"
    before = run.trace.steps[step.step - 1]
    assert before.kind in ("deliver", "timer")  # it fired right after the step that made the leader
    assert any(op.process == NEMESIS and op.f == "crash" and op.value == step.node for op in run.history.ops)


def test_at_a_time_the_world_stops_there_and_isolates_a_node() -> None:
    run = World(RAFT, seed=3, faults=[], aims=[Aim("isolate", "n1", at(50))]).run()
    (step,) = [s for s in run.trace.steps if s.aim is not None]
    assert step.kind == "partition" and step.t == 50 and step.groups == [["n1"], ["n2", "n3"]]


def test_the_kingmaker_of_a_new_leader_crosses_the_cut_and_the_run_replays() -> None:
    cut = Aim("isolate", "leader", when_role("leader"), name="cut the first leader off")
    crossing = Aim("cross", "sender", after_role_change("leader"), times=3, name="kingmaker crosses")
    run = World(RAFT, seed=0, faults=[], aims=[cut, crossing], max_steps=600).run()
    steps = run.trace.steps
    aimed = [s for s in steps if s.aim is not None]
    assert [s.aim for s in aimed[:2]] == ["cut the first leader off", "kingmaker crosses"]
    first, crossed = aimed[0], aimed[1]
    (old,) = [g[0] for g in first.groups if len(g) == 1]
    # the crossing fired right after a vote from the kingmaker elected a leader on the majority's side
    vote = steps[crossed.step - 1]
    assert vote.kind == "deliver" and vote.src not in (old, vote.dst)
    # ... and it moved to the side of the leader it deposed, the new leader staying where it was
    assert sorted(map(sorted, crossed.groups)) == sorted([sorted([old, vote.src]), [vote.dst]])
    again = replay(run.trace, RAFT)
    assert again.skipped == 0 and again.trace.dumps() == run.trace.dumps()


def test_cross_waits_for_a_cut_and_never_heals_by_moving_a_lone_node() -> None:
    crossing = Aim("cross", "sender", after_role_change("leader"), name="kingmaker crosses")
    run = World(RAFT, seed=0, faults=[], aims=[crossing], max_steps=600).run()
    assert not [s for s in run.trace.steps if s.aim is not None]  # leaders were elected, but nothing cut
    alone = Aim("cross", "n1", at(30), name="n1 crosses")
    run = World(RAFT, seed=0, faults=[], aims=[Aim("isolate", "n1", at(20)), alone]).run()
    assert [s.aim for s in run.trace.steps if s.aim is not None] == ["isolate n1"]


def test_cross_joins_the_largest_other_side_of_a_three_way_partition() -> None:
    five = load_workload("raft-reconfig")
    three_ways = Aim("partition", when=at(10), params={"groups": [["n1"], ["n2", "n3"], ["n4", "n5"]]})
    run = World(five, seed=0, faults=[], aims=[three_ways, Aim("cross", "n2", at(20))], max_steps=300).run()
    groups = [s.groups for s in run.trace.steps if s.aim is not None]
    assert groups == [[["n1"], ["n2", "n3"], ["n4", "n5"]], [["n1"], ["n3"], ["n2", "n4", "n5"]]]


def test_after_send_drops_that_very_message_and_times_bounds_it() -> None:
    run = World(RAFT, seed=3, faults=[], aims=[Aim("drop", "message", after_send(kind="Vote"), times=2)]).run()
    drops = [s for s in run.trace.steps if s.aim is not None]
    assert [s.kind for s in drops] == ["drop", "drop"]
    for step in drops:  # each dropped message is a vote just sent by the step before
        assert step.msg in (run.trace.steps[step.step - 1].sent or [])


def test_after_deliver_and_when_fire_on_the_receiving_node() -> None:
    pause = Aim("pause", "receiver", after_deliver(kind="RequestVote", dst="n2"))
    resume = Aim("resume", "n2", when(lambda world: world.is_paused("n2"), "n2 is paused"))
    run = World(RAFT, seed=1, faults=[], aims=[pause, resume]).run()
    aimed = [s for s in run.trace.steps if s.aim is not None]
    assert [(s.kind, s.node) for s in aimed] == [("pause", "n2"), ("resume", "n2")]
    assert aimed[1].step == aimed[0].step + 1  # a condition is checked after every step
    delivered = run.trace.steps[aimed[0].step - 1]
    assert delivered.kind == "deliver" and delivered.dst == "n2"


def test_aims_say_what_is_wrong() -> None:
    with pytest.raises(UsageError, match="unknown fault 'explode'"):
        Aim("explode", "n1")
    with pytest.raises(UsageError, match="target='message'"):
        Aim("drop", "n1", after_send())
    with pytest.raises(UsageError, match="needs a target"):
        Aim("crash")
    with pytest.raises(UsageError, match="target 'primary' is not a node"):
        World(RAFT, seed=0, aims=[Aim("crash", "primary", when_role("leader"))])


# -- client state and failover -------------------------------------------------------------------------
class Picky(Node):
    """n1 refuses every request (definitely not done); the others serve them."""

    def on_client(self, request: Request) -> None:
        if self.id == "n1":
            self.fail(request, "not me")
        else:
            self.reply(request, self.id)


class FailingOver(Client):
    """Starts at n1; after a refusal, tries the next node and remembers who answered."""

    def on_start(self) -> None:
        self.answers: list[tuple[str, str | None]] = []
        self.good: str | None = None

    def choose_node(self, rand: Rand) -> str:
        return self.good or "n1"

    def on_answer(self, request: Request, kind: str, value: Any, node: str | None) -> None:
        self.answers.append((kind, node))
        if kind == "ok":
            self.good = node

    def retry(self, request: Request, kind: str, error: Any, node: str | None) -> str | None:
        return self.nodes[(self.nodes.index(node or "n1") + 1) % len(self.nodes)]


class PickyWorkload(Workload):
    name = "picky"
    model = "register"
    variants = {"correct": Picky}
    clients = 2
    faults = ()  # type: ignore[assignment]
    max_steps = 60

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("read")


def test_each_client_keeps_its_own_state_and_fails_over() -> None:
    run = World(PickyWorkload(client_class=FailingOver), seed=2).run()
    retries = [s for s in run.trace.steps if s.result == "retry"]
    assert retries and all(s.node == "n2" for s in retries)
    assert "retries at n2" in retries[0].describe()
    oks = [op for op in run.history.ops if op.type == "ok"]
    assert oks and {op.value for op in oks} == {"n2"}
    assert not [op for op in run.history.ops if op.type == "fail"]  # every refusal was retried elsewhere
    for slot in run.world.clients:
        client = slot.client
        assert isinstance(client, FailingOver) and client.good == "n2"
        assert ("fail", "n1") in client.answers
    assert replay(run.trace, PickyWorkload(client_class=FailingOver)).trace.dumps() == run.trace.dumps()


def test_without_a_client_class_nothing_is_retried() -> None:
    run = World(PickyWorkload(), seed=2).run()
    assert not [s for s in run.trace.steps if s.result == "retry"]
    assert [op for op in run.history.ops if op.type == "fail"]
