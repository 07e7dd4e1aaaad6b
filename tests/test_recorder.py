"""The recorder: Jepsen completion semantics, process retirement, thread safety, monotonic timestamps."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import pytest

from splitbrain import check
from splitbrain.errors import UsageError
from splitbrain.histories import UNKNOWN, Operation
from splitbrain.histories.recorder import DefiniteFailure, Recorder


class Counter:
    """A user model: a counter with ``add`` (returns nothing) and ``get``."""

    name = "test-counter"

    def init(self) -> int:
        return 0

    def step(self, state: int, op: Operation) -> Iterable[int]:
        if op.f == "add":
            return (state + op.input,)
        return (state,) if op.output is UNKNOWN or op.output == state else ()


def test_invoke_and_complete_record_events_in_order() -> None:
    rec = Recorder()
    p = rec.new_process()
    call = rec.invoke(p, "write", 3, node="n1")
    call.ok(3)
    rec.invoke(p, "cas", (3, 4), node="n2").fail("compare failed")
    rec.invoke(p, "write", 5).info(TimeoutError("timed out"))
    ops = rec.ops
    assert [(o.type, o.f, o.value) for o in ops] == [
        ("invoke", "write", 3), ("ok", "write", 3), ("invoke", "cas", (3, 4)), ("fail", "cas", (3, 4)),
        ("invoke", "write", 5), ("info", "write", 5),
    ]
    assert [o.node for o in ops[:4]] == ["n1", "n1", "n2", "n2"]
    assert ops[3].error == "compare failed" and ops[5].error == "TimeoutError: timed out"
    assert [o.index for o in ops] == list(range(6))
    times = [o.time for o in ops if o.time is not None]
    assert len(times) == len(ops) and times == sorted(times)
    assert rec.counts == {"ok": 1, "fail": 1, "info": 1}


def test_call_block_maps_exceptions_to_outcomes() -> None:
    rec = Recorder(readonly={"read"})
    with rec.call(rec.new_process(), "write", 1) as call:
        call.ok(1)
    with rec.call(rec.new_process(), "cas", (0, 1)):
        raise DefiniteFailure("value was not 0")
    with rec.call(rec.new_process(), "write", 2):
        raise ConnectionRefusedError("refused")  # nothing was sent: definite
    with rec.call(rec.new_process(), "write", 3):
        raise TimeoutError("no answer")  # may have happened
    with rec.call(rec.new_process(), "read", None):
        raise TimeoutError("no answer")  # a read has no effect: fail
    with rec.call(rec.new_process(), "write", 4):
        pass  # nothing recorded: unknown
    outcomes = [(o.f, o.value, o.type) for o in rec.ops if o.type != "invoke"]
    assert outcomes == [
        ("write", 1, "ok"), ("cas", (0, 1), "fail"), ("write", 2, "fail"), ("write", 3, "info"),
        ("read", None, "fail"), ("write", 4, "info"),
    ]


def test_exception_after_completion_propagates() -> None:
    rec = Recorder()
    with pytest.raises(KeyError), rec.call(rec.new_process(), "read") as call:
        call.ok(None)
        raise KeyError("a bug in the client, not an outcome")


def test_completing_twice_is_an_error() -> None:
    rec = Recorder()
    call = rec.invoke(0, "read")
    call.ok(None)
    with pytest.raises(UsageError, match="already complete"):
        call.fail()


def test_processes_are_sequential_and_retire_after_info() -> None:
    rec = Recorder()
    rec.invoke(7, "read")
    with pytest.raises(UsageError, match="still open"):
        rec.invoke(7, "write", 1)
    assert rec.new_process() == 8  # ids never collide with ones used explicitly
    rec.invoke(9, "write", 1).info()
    with pytest.raises(UsageError, match="retired"):
        rec.invoke(9, "write", 2)
    with pytest.raises(UsageError, match="ints"):
        rec.invoke("p1", "read")  # type: ignore[arg-type]


def test_worker_continues_under_a_fresh_process_after_info() -> None:
    rec = Recorder()
    worker = rec.worker()
    first = worker.process
    with worker.call("write", 1) as call:
        call.ok(1)
    assert worker.process == first
    with worker.call("write", 2):
        raise TimeoutError
    assert worker.process != first
    with worker.call("cas", (2, 3)):
        raise DefiniteFailure
    second = worker.process
    with worker.call("write", 4) as call:
        call.ok(4)
    assert worker.process == second
    history = rec.history()
    assert [op.process for op in history.operations] == [first, first, second, second]


def test_nemesis_events_are_kept_but_not_paired() -> None:
    rec = Recorder()
    rec.nemesis("start-partition", "n1")
    rec.invoke(0, "read").ok(None)
    rec.nemesis("stop-partition", "n1")
    history = rec.history()
    assert [op.f for op in history.faults] == ["start-partition", "stop-partition"]
    assert all(op.type == "info" and op.process == "nemesis" for op in history.faults)
    assert len(history.operations) == 1


def test_open_calls_are_unknown_in_a_snapshot() -> None:
    rec = Recorder()
    rec.invoke(0, "add", 1)
    (op,) = rec.history().operations
    assert op.status == "info" and op.output is UNKNOWN


def test_concurrent_clients_record_a_valid_linearizable_history() -> None:
    """Eight threads add to a shared counter under a lock and read it: the recording must be a valid
    history (sequential processes, ordered timestamps) that checks linearizable."""
    rec = Recorder()
    lock = threading.Lock()
    state = {"value": 0}

    def client() -> None:
        worker = rec.worker()
        for i in range(200):
            if i % 2:
                with worker.call("add", 1) as call:
                    with lock:
                        state["value"] += 1
                    call.ok()
            else:
                with worker.call("get") as call:
                    with lock:
                        value = state["value"]
                    call.ok(value)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    history = rec.history()
    assert len(history) == 8 * 200 * 2
    times = [op.time or 0 for op in history.ops]
    assert all(times) and times == sorted(times)
    assert len({op.process for op in history.operations}) == 8
    assert check(history, Counter()).valid is True


def test_a_stale_read_is_caught() -> None:
    rec = Recorder()
    rec.invoke(0, "add", 1).ok()
    rec.invoke(1, "get").ok(0)  # invoked after the add completed, yet misses it
    assert check(rec.history(), Counter()).valid is False
