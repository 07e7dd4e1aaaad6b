"""Tests of trace shrinking and of the replay semantics it relies on: an edited trace keeps its recorded
times and follows messages by the step that sent them; the shrinker is deterministic, keeps to its replay
budget, and what it calls 1-minimal is (no single step can go)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from splitbrain import load_workload
from splitbrain.fuzz.schedule import ScheduleResult, replay_trace, run_schedule
from splitbrain.fuzz.shrink import family, shrink_trace
from splitbrain.impls.raft.workload import SEARCH
from splitbrain.sim import ClientOp, Node, Rand, RandomSource, Request, Trace, Workload, World, replay


class Relay(Node):
    """n1 forwards each client value to n2 and answers; n2 keeps what arrives. n1 ticks every 10."""

    def on_start(self) -> None:
        self.got: list[Any] = []
        self.ticks: list[int] = []
        if self.id == "n1":
            self.set_timer(10, "tick")
        else:
            self.set_timer(1000, "idle")  # a far deadline, so that time can always advance

    def on_client(self, request: Request) -> None:
        self.send("n2", request.value)
        self.reply(request)

    def on_message(self, src: str, msg: Any) -> None:
        self.got.append(msg)

    def on_timer(self, name: str) -> None:
        if name == "tick":
            self.ticks.append(self.now())
            self.set_timer(10, "tick")


class RelayWorkload(Workload):
    name = "relay"
    model = "register"
    variants = {"correct": Relay}
    node_count = 2
    clients = 2
    delay = (1, 1)

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("write", rand.randint(0, 9))


RELAY = RelayWorkload()


def relay_world() -> World:
    world = World(RELAY, seed=0, faults=["reorder"])  # links are not FIFO: any message may go first
    world.start()
    return world


def without(trace: Trace, kind: str, nth: int = 0) -> Trace:
    """``trace`` without its ``nth`` step of ``kind``."""
    index = [i for i, s in enumerate(trace.steps) if s.kind == kind][nth]
    return msgspec.structs.replace(trace, steps=[s for i, s in enumerate(trace.steps) if i != index])


def two_forwards(world: World) -> None:
    """Clients 0 and 1 each write through n1, which forwards "a" as n1>n2#1 and "b" as n1>n2#2."""
    world.step("invoke:0", f="write", value="a", node="n1")
    world.step("invoke:1", f="write", value="b", node="n1")
    world.step("advance")
    world.step("deliver:c0>n1#1")
    world.step("deliver:c1>n1#1")
    world.step("advance")


def test_a_removed_sender_takes_its_messages_with_it() -> None:
    world = relay_world()
    two_forwards(world)
    world.step("deliver:n1>n2#1")  # "a"
    trace = world.trace()
    assert world.node("n2").got == ["a"]  # type: ignore[union-attr]
    again = replay(without(trace, "invoke", 0), RELAY)  # client 0 never wrote "a"
    # "b" is now the first message on n1>n2 (named n1>n2#1); the recorded delivery of "a" must not
    # deliver it in a's place
    assert again.world.node("n2").got == []  # type: ignore[union-attr]
    assert not [s for s in again.trace.steps if s.kind == "deliver" and s.dst == "n2" and s.t <= trace.steps[-1].t]


def test_a_later_message_is_followed_under_its_new_name() -> None:
    world = relay_world()
    two_forwards(world)
    world.step("deliver:n1>n2#2")  # "b"
    trace = world.trace()
    again = replay(without(trace, "invoke", 0), RELAY)
    assert again.world.node("n2").got[:1] == ["b"]  # type: ignore[union-attr]
    delivered = [s for s in again.trace.steps if s.kind == "deliver" and s.dst == "n2"]
    assert delivered[0].msg == "n1>n2#1"  # the replay recorded it under the name it has now


def test_replay_keeps_the_recorded_times_when_a_timer_step_is_removed() -> None:
    world = relay_world()
    for _ in range(3):
        world.step("advance")
        world.step("timer:n1:tick")
    trace = world.trace()
    assert [s.t for s in trace.steps if s.kind == "timer"] == [10, 20, 30]
    again = replay(without(trace, "timer", 0), RELAY)
    # the tick due at 10 waits; the recorded advances still go to 20 and 30, where the ticks ran
    assert [s.t for s in again.trace.steps if s.kind == "timer"][:2] == [20, 30]
    assert again.world.node("n1").ticks[:2] == [20, 30]  # type: ignore[union-attr]


def test_advance_to_a_given_time() -> None:
    world = relay_world()
    step = world.step("advance", to=7)  # before the first deadline: time just passes
    assert (step.to, world.time) == (7, 7)
    assert world.step("advance").to == 10  # without ``to``: the next deadline


def test_families_group_steps_by_actor_and_kind() -> None:
    world = relay_world()
    two_forwards(world)
    world.step("advance", to=10)
    world.step("timer:n1:tick")
    names = [family(s) for s in world.trace().steps]
    assert names == [None, "client c0", "client c1", None, "link c0>n1", "link c1>n1", None, None, "timer n1 tick"]


# -- shrinking a real failure -------------------------------------------------------------------------
RAFT = load_workload("raft-kv")


@pytest.fixture(scope="module")
def vote_failure() -> ScheduleResult:
    faults, steps = SEARCH["unpersisted-vote"]
    result = run_schedule(RAFT, "unpersisted-vote", RandomSource(3), faults=faults, max_steps=steps)
    assert result.verdict.signature == "invariant:election-safety"
    return result


def test_shrinking_is_deterministic_and_the_result_replays_exactly(vote_failure: ScheduleResult) -> None:
    signature = vote_failure.verdict.signature
    assert signature is not None
    first = shrink_trace(RAFT, vote_failure.trace, signature, max_replays=400)
    second = shrink_trace(RAFT, vote_failure.trace, signature, max_replays=400)
    assert first.trace.dumps() == second.trace.dumps()
    assert first.replays == second.replays and first.minimal
    again = replay(first.trace, RAFT)
    assert again.skipped == 0 and again.trace.dumps() == first.trace.dumps()
    assert sum(first.removed_by.values()) == first.before - first.after
    assert sum(first.replays_by.values()) + 1 == first.replays  # plus the replay of the original


def test_a_minimal_trace_has_no_step_that_can_go(vote_failure: ScheduleResult) -> None:
    signature = vote_failure.verdict.signature
    assert signature is not None
    small = shrink_trace(RAFT, vote_failure.trace, signature, max_replays=400)
    assert small.minimal and small.after < 30
    for index, step in enumerate(small.trace.steps):
        if step.kind in ("start", "quiesce"):
            continue
        steps = [s for i, s in enumerate(small.trace.steps) if i != index]
        outcome = replay_trace(RAFT, msgspec.structs.replace(small.trace, steps=steps))
        # going means failing the same way in fewer steps: without a step, the quiesce phase may run
        # longer (Raft's liveness property keeps it going until a leader is elected), which is no shrink
        shorter = len(outcome.trace.steps) < len(small.trace.steps)
        assert outcome.verdict.signature != signature or not shorter, f"step {index} ({step.describe()}) could go"


def test_the_replay_budget_is_kept(vote_failure: ScheduleResult) -> None:
    signature = vote_failure.verdict.signature
    assert signature is not None
    small = shrink_trace(RAFT, vote_failure.trace, signature, max_replays=25)
    assert small.replays <= 25 and not small.minimal
    assert small.after < small.before
    assert replay_trace(RAFT, small.trace).verdict.signature == signature
