"""Controlled threads: real threads interleaved by the world's choice source, found, shrunk, replayed."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from splitbrain.errors import UsageError
from splitbrain.fuzz.schedule import run_schedule
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.sim import ClientOp, FaultConfig, Rand, RandomSource, Request, Workload, World, replay
from splitbrain.sim.threads import REAL_SYNC, Rejected, Sync, ThreadedNode


class Counter:
    """A counter written against ``Sync``; ``racy`` reads and writes outside the lock."""

    def __init__(self, sync: Sync = REAL_SYNC, *, racy: bool = False) -> None:
        self.sync = sync
        self.lock = sync.lock()
        self.racy = racy
        self.value = 0

    def add(self, n: int) -> None:
        if self.racy:
            self.sync.point("read value")
            seen = self.value
            self.sync.point("write value")
            self.value = seen + n
            return
        with self.lock:
            self.sync.point("read value")
            seen = self.value
            self.sync.point("write value")
            self.value = seen + n

    def read(self) -> int:
        with self.lock:
            return self.value


class CounterNode(ThreadedNode):
    racy = False

    def create(self, sync: Sync) -> Counter:
        return Counter(sync, racy=self.racy)

    def call(self, obj: Counter, request: Request) -> Any:
        if request.f == "add":
            obj.add(request.value)
            return None
        if request.f == "read":
            return obj.read()
        raise Rejected(f"unknown operation {request.f}")


class RacyCounterNode(CounterNode):
    racy = True


class BrokenNode(CounterNode):
    def call(self, obj: Counter, request: Request) -> Any:
        obj.sync.point("before the bug")
        raise KeyError("boom")


class CounterWorkload(Workload):
    name = "threaded-counter"
    model = "counter"
    variants = {"correct": CounterNode, "racy": RacyCounterNode, "broken": BrokenNode}
    node_count = 1
    clients = 3
    faults = FaultConfig(kinds=())
    max_steps = 60

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("add", 1) if rand.randint(0, 2) else ClientOp("read")


WORKLOAD = CounterWorkload()


def first_failure(variant: str, budget: int = 200) -> Any:
    for seed in range(budget):
        result = run_schedule(WORKLOAD, variant, RandomSource(seed))
        if result.verdict.failed:
            return result
    return None


def test_the_locked_counter_passes_every_interleaving_tried() -> None:
    for seed in range(60):
        result = run_schedule(WORKLOAD, "correct", RandomSource(seed))
        assert not result.verdict.failed, (seed, result.verdict.message)
        assert not result.verdict.unknown
    # the threads did interleave: some resume stopped at a lock another thread held
    notes = [s.note for seed in range(20) for s in World(WORKLOAD, seed=seed).run().trace.steps if s.note]
    assert any(n.startswith("waits for") for n in notes), notes[:20]


def test_the_racy_counter_loses_an_add_and_shrinks_to_a_short_interleaving() -> None:
    result = first_failure("racy")
    assert result is not None, "the lost update was not found in 200 schedules"
    assert result.verdict.signature == "checker:linearizability"
    small = shrink_trace(WORKLOAD, result.trace, "checker:linearizability", max_replays=400)
    assert small.result.verdict.signature == "checker:linearizability"
    # two adds that both read before either writes, then a read of 1: the invokes, the four thread
    # steps that race, deliveries of requests and replies, and nothing else (23 steps, 1-minimal)
    assert small.minimal and small.after <= 25, small.trace.describe()
    text = small.trace.describe()
    assert "thread-p" in text and "-> at 'write value'" in text


def test_a_thread_schedule_replays_byte_for_byte() -> None:
    first = World(WORKLOAD, "racy", seed=11).run()
    again = replay(first.trace, WORKLOAD)
    assert again.trace.dumps() == first.trace.dumps()
    assert World(WORKLOAD, "racy", seed=11).run().trace.dumps() == first.trace.dumps()


def test_no_thread_outlives_its_run_even_across_crashes() -> None:
    crashy = CounterWorkload(faults=FaultConfig(kinds=("crash",), weights={"crash": 300}), node_count=1)
    before = threading.active_count()
    for seed in range(15):
        World(crashy, "correct", seed=seed, faults=FaultConfig(kinds=("crash",), max_down=1)).run()
    assert threading.active_count() == before


def test_an_exception_in_a_thread_is_a_crash_verdict_naming_the_code() -> None:
    result = run_schedule(WORKLOAD, "broken", RandomSource(0))
    assert result.verdict.signature == "crash:KeyError"
    assert "test_sim_threads.py" in result.verdict.message


def test_a_node_handler_cannot_wait_for_a_lock_a_thread_holds() -> None:
    world = World(WORKLOAD, seed=0, faults=[])
    world.start()
    node = world.node("n1")
    assert isinstance(node, CounterNode)
    lock = node.obj.lock
    lock.acquire()  # on the world's thread, free: taken at once
    with pytest.raises(UsageError, match="node handler tried to take lock L1"):
        lock.acquire()
    lock.release()
    world.close()


def test_real_sync_is_the_default_and_works_under_os_threads() -> None:
    counter = Counter()
    workers = [threading.Thread(target=lambda: [counter.add(1) for _ in range(500)]) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert counter.read() == 2000
