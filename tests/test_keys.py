"""Keys handled everywhere (issue #23): a keyed history of a model that does not read keys is checked one
key at a time (Jepsen's ``independent``); a history that mixes keyed and unkeyed operations is refused;
``counter`` checks what ``add`` returns; the Recorder records keys."""

from __future__ import annotations

from typing import Any

import pytest

import splitbrain
from splitbrain import History, InvalidHistory, Op, Recorder


def h(*calls: tuple[int, str, Any, Any, Any]) -> History:
    """``(process, f, input, output, key)`` calls, each completed ok before the next is invoked."""
    ops = []
    for process, f, given, got, key in calls:
        ops += [Op(process=process, type="invoke", f=f, value=given, key=key),
                Op(process=process, type="ok", f=f, value=got, key=key)]
    return History.from_ops(ops)


def test_a_keyed_counter_is_a_counter_per_key() -> None:
    add_a_read_b = h((0, "add", 1, 1, "a"), (1, "read", None, 0, "b"))
    assert splitbrain.check(add_a_read_b, "counter").valid is True  # was a false alarm: b never changed
    stale = h((0, "add", 1, 1, "a"), (1, "read", None, 0, "a"))
    result = splitbrain.check(stale, "counter")
    assert result.valid is False and result.counterexample.partition == "a"


def test_a_keyed_register_is_a_register_per_key() -> None:
    assert splitbrain.check(h((0, "write", 1, 1, "x"), (1, "read", None, None, "y")), "register").valid is True
    assert splitbrain.check(h((0, "write", 1, 1, "x"), (1, "read", None, 2, "x")), "register").valid is False
    # with the partitioning switched off the keys are still separate objects: that is what the history means
    split_off = splitbrain.check(h((0, "write", 1, 1, "x"), (1, "read", None, None, "y")), "register", partition=False)
    assert split_off.valid is True


def test_a_history_mixing_keyed_and_unkeyed_operations_is_refused() -> None:
    with pytest.raises(InvalidHistory, match="has no key, but other operations have one"):
        splitbrain.check(h((0, "write", 1, 1, "x"), (1, "read", None, 1, None)), "register")


def test_kv_reads_its_keys_itself() -> None:
    history = h((0, "put", "a", "a", "x"), (1, "get", None, "", "y"), (2, "get", None, "a", "x"))
    assert splitbrain.check(history, "kv").valid is True
    assert splitbrain.check(h((0, "put", "a", "a", "x"), (1, "get", None, "b", "x")), "kv").valid is False


@pytest.mark.parametrize(("out", "valid"), [(1, True), (6, True), (None, True), (99, False)])
def test_counter_checks_what_add_returns(out: Any, valid: bool) -> None:
    """An add's result is its echo (Jepsen's clients) or the value after it (Redis INCRBY); nothing else."""
    history = h((0, "add", 5, 5, None), (0, "add", 1, out, None))
    assert splitbrain.check(history, "counter").valid is valid


def test_the_recorder_records_keys_and_its_history_is_checked_per_key() -> None:
    recorder = Recorder()
    worker = recorder.worker()
    with worker.call("write", 1, key="x") as call:
        call.ok(1)
    with worker.call("read", key="y") as call:
        call.ok(None)
    with worker.call("read", key="x") as call:
        call.ok(1)
    history = recorder.history()
    assert [op.key for op in history.ops] == ["x", "x", "y", "y", "x", "x"]
    assert splitbrain.check(history, "register").valid is True
