"""Small hand-written histories for every built-in model, checked by the linearizability checker.

Each case is a history with the verdict a person reasons out from Jepsen's semantics: ``fail`` did not
happen; ``info`` (or a call that never completed) may have happened at any point after its invoke, or
never; concurrent operations may be ordered either way; a completed operation precedes every operation
invoked after it returned.
"""

from __future__ import annotations

from typing import Any

import pytest

from splitbrain.checker.linearizability import check_linearizability
from splitbrain.histories import History, Op

Event = tuple[Any, ...]


def h(*events: Event) -> History:
    """A history from ``(process, type, f, value)`` or ``(process, type, f, value, key)`` tuples."""
    return History.from_ops(
        [Op(process=e[0], type=e[1], f=e[2], value=e[3], key=e[4] if len(e) > 4 else None) for e in events]
    )


def call(p: Any, f: str, value: Any = None, out: Any = None, key: Any = None) -> list[Event]:
    """A call that completes ``ok`` before anything else happens."""
    return [(p, "invoke", f, value, key), (p, "ok", f, out, key)]


def seq(*calls: list[Event]) -> History:
    return h(*(e for c in calls for e in c))


W_XY = (("w", "x", 1), ("w", "y", 1))
R_XY = (("r", "x", None), ("r", "y", None))


# (model, name, history, expected verdict)
CASES: list[tuple[str, str, History, bool]] = [
    # -- register ---------------------------------------------------------------------------------
    ("register", "write then read", seq(call(0, "write", 1, 1), call(1, "read", None, 1)), True),
    ("register", "read nil before any write", seq(call(1, "read", None, None), call(0, "write", 1, 1)), True),
    ("register", "stale read after a completed write",
     seq(call(0, "write", 1, 1), call(0, "write", 2, 2), call(1, "read", None, 1)), False),
    ("register", "read nil after a completed write", seq(call(0, "write", 1, 1), call(1, "read")), False),
    ("register", "concurrent read sees the old value",
     h((0, "invoke", "write", 1), (1, "invoke", "read", None), (1, "ok", "read", None),
       (0, "ok", "write", 1)), True),
    ("register", "concurrent read sees the new value",
     h((0, "invoke", "write", 1), (1, "invoke", "read", None), (1, "ok", "read", 1), (0, "ok", "write", 1)),
     True),
    ("register", "failed write seen by a read",
     h((0, "invoke", "write", 5), (0, "fail", "write", 5), *call(1, "read", None, 5)), False),
    ("register", "info write seen by a later read",
     h((0, "invoke", "write", 5), (0, "info", "write", 5), *call(1, "read", None, None),
       *call(1, "read", None, 5)), True),
    ("register", "info write nobody observes",
     h((0, "invoke", "write", 5), (0, "info", "write", 5), *call(1, "read", None, None)), True),
    ("register", "info write observed, then un-observed",
     h((0, "invoke", "write", 5), (0, "info", "write", 5), *call(1, "read", None, 5),
       *call(1, "read", None, None)), False),
    ("register", "never-completed write seen",
     h((0, "invoke", "write", 7), *call(1, "read", None, 7)), True),
    # -- cas-register -----------------------------------------------------------------------------
    ("cas-register", "cas chain",
     seq(call(0, "write", 1, 1), call(1, "cas", (1, 2), (1, 2)), call(2, "read", None, 2)), True),
    ("cas-register", "cas on a value the register did not hold",
     seq(call(0, "write", 1, 1), call(1, "cas", (0, 2), (0, 2))), False),
    ("cas-register", "cas from nil",
     seq(call(1, "cas", (None, 3), (None, 3)), call(1, "read", None, 3)), True),
    ("cas-register", "failed cas seen by a read",
     h(*call(0, "write", 1, 1), (1, "invoke", "cas", (1, 2)), (1, "fail", "cas", (1, 2)),
       *call(2, "read", None, 2)), False),
    ("cas-register", "failed cas, read sees the old value",
     h(*call(0, "write", 1, 1), (1, "invoke", "cas", (1, 2)), (1, "fail", "cas", (1, 2)),
       *call(2, "read", None, 1)), True),
    ("cas-register", "info cas seen by a later read",
     h(*call(0, "write", 1, 1), (1, "invoke", "cas", (1, 2)), (1, "info", "cas", None),
       *call(2, "read", None, 1), *call(2, "read", None, 2)), True),
    ("cas-register", "info cas nobody observes",
     h(*call(0, "write", 1, 1), (1, "invoke", "cas", (1, 2)), (1, "info", "cas", None),
       *call(2, "read", None, 1)), True),
    ("cas-register", "info cas whose compare cannot match, seen anyway",
     h(*call(0, "write", 1, 1), (1, "invoke", "cas", (0, 2)), (1, "info", "cas", None),
       *call(2, "read", None, 2)), False),
    ("cas-register", "concurrent cas and write, either order",
     h(*call(0, "write", 1, 1), (1, "invoke", "cas", (1, 2)), (2, "invoke", "write", 1),
       (2, "ok", "write", 1), (1, "ok", "cas", (1, 2)), *call(3, "read", None, 1)), True),
    ("cas-register", "two cas from the same value both succeed",
     h(*call(0, "write", 1, 1), (1, "invoke", "cas", (1, 2)), (2, "invoke", "cas", (1, 3)),
       (1, "ok", "cas", (1, 2)), (2, "ok", "cas", (1, 3))), False),
    # -- kv ---------------------------------------------------------------------------------------
    ("kv", "put, append, get",
     seq(call(0, "put", "a", "a", "x"), call(0, "append", "b", "b", "x"), call(1, "get", None, "ab", "x")),
     True),
    ("kv", "missing key reads empty or nil",
     seq(call(0, "get", None, "", "x"), call(0, "get", None, None, "y")), True),
    ("kv", "stale get after a completed put",
     seq(call(0, "put", "a", "a", "x"), call(0, "put", "b", "b", "x"), call(1, "get", None, "a", "x")),
     False),
    ("kv", "keys are independent",
     seq(call(0, "put", "a", "a", "x"), call(1, "get", None, "", "y"), call(1, "get", None, "a", "x")),
     True),
    ("kv", "concurrent appends in either order",
     h((0, "invoke", "append", "a", "x"), (1, "invoke", "append", "b", "x"), (0, "ok", "append", "a", "x"),
       (1, "ok", "append", "b", "x"), *call(2, "get", None, "ba", "x")), True),
    ("kv", "concurrent appends, a value no order gives",
     h((0, "invoke", "append", "a", "x"), (1, "invoke", "append", "b", "x"), (0, "ok", "append", "a", "x"),
       (1, "ok", "append", "b", "x"), *call(2, "get", None, "b", "x")), False),
    ("kv", "info append seen",
     h((0, "invoke", "append", "a", "x"), (0, "info", "append", None, "x"), *call(1, "get", None, "a", "x")),
     True),
    ("kv", "info append nobody observes",
     h((0, "invoke", "append", "a", "x"), (0, "info", "append", None, "x"), *call(1, "get", None, "", "x")),
     True),
    ("kv", "failed put seen",
     h((0, "invoke", "put", "a", "x"), (0, "fail", "put", "a", "x"), *call(1, "get", None, "a", "x")), False),
    # -- multi-register ---------------------------------------------------------------------------
    ("multi-register", "write two, read two",
     seq(call(0, "txn", (("w", "x", 1), ("w", "y", 2)), (("w", "x", 1), ("w", "y", 2))),
         call(1, "txn", (("r", "x", None), ("r", "y", None)), (("r", "x", 1), ("r", "y", 2)))), True),
    ("multi-register", "read skew after the write completed",
     seq(call(0, "txn", (("w", "x", 1), ("w", "y", 1)), (("w", "x", 1), ("w", "y", 1))),
         call(1, "txn", (("r", "x", None), ("r", "y", None)), (("r", "x", 1), ("r", "y", None)))), False),
    ("multi-register", "concurrent read sees all of a txn",
     h((0, "invoke", "txn", W_XY), (1, "invoke", "txn", R_XY),
       (1, "ok", "txn", (("r", "x", 1), ("r", "y", 1))), (0, "ok", "txn", W_XY)), True),
    ("multi-register", "concurrent read sees half of a txn",
     h((0, "invoke", "txn", W_XY), (1, "invoke", "txn", R_XY),
       (1, "ok", "txn", (("r", "x", 1), ("r", "y", None))), (0, "ok", "txn", W_XY)), False),
    ("multi-register", "info txn seen",
     h((0, "invoke", "txn", (("w", "x", 1),)), (0, "info", "txn", None),
       *call(1, "txn", (("r", "x", None),), (("r", "x", 1),))), True),
    ("multi-register", "failed txn seen",
     h((0, "invoke", "txn", (("w", "x", 1),)), (0, "fail", "txn", None),
       *call(1, "txn", (("r", "x", None),), (("r", "x", 1),))), False),
    # -- mutex ------------------------------------------------------------------------------------
    ("mutex", "acquire, release, acquire",
     seq(call(0, "acquire"), call(0, "release"), call(1, "acquire")), True),
    ("mutex", "two holders at once", seq(call(0, "acquire"), call(1, "acquire")), False),
    ("mutex", "release of a free lock", seq(call(0, "release")), False),
    ("mutex", "concurrent acquire and release, either order",
     h(*call(0, "acquire"), (0, "invoke", "release", None), (1, "invoke", "acquire", None),
       (1, "ok", "acquire", None), (0, "ok", "release", None)), True),
    ("mutex", "info acquire that nobody depends on",
     h((0, "invoke", "acquire", None), (0, "info", "acquire", None), *call(1, "acquire")), True),
    ("mutex", "info acquire explains a later release",
     h((0, "invoke", "acquire", None), (0, "info", "acquire", None), *call(1, "release")), True),
    ("mutex", "failed acquire cannot explain a release",
     h((0, "invoke", "acquire", None), (0, "fail", "acquire", None), *call(1, "release")), False),
    # -- set --------------------------------------------------------------------------------------
    ("set", "adds then read", seq(call(0, "add", 1, 1), call(1, "add", 2, 2), call(2, "read", None, (2, 1))),
     True),
    ("set", "read misses a completed add",
     seq(call(0, "add", 1, 1), call(1, "add", 2, 2), call(2, "read", None, (1,))), False),
    ("set", "concurrent add, read without it",
     h(*call(0, "add", 1, 1), (0, "invoke", "add", 2), *call(1, "read", None, (1,)),
       (0, "ok", "add", 2)), True),
    ("set", "info add seen", h((0, "invoke", "add", 1), (0, "info", "add", 1), *call(1, "read", None, (1,))),
     True),
    ("set", "info add nobody observes",
     h((0, "invoke", "add", 1), (0, "info", "add", 1), *call(1, "read", None, ())), True),
    ("set", "failed add seen",
     h((0, "invoke", "add", 1), (0, "fail", "add", 1), *call(1, "read", None, (1,))), False),
    ("set", "an element disappears",
     seq(call(0, "add", 1, 1), call(1, "read", None, (1,)), call(1, "read", None, ())), False),
    # -- fifo-queue -------------------------------------------------------------------------------
    ("fifo-queue", "first in, first out",
     seq(call(0, "enqueue", 1, 1), call(0, "enqueue", 2, 2), call(1, "dequeue", None, 1),
         call(1, "dequeue", None, 2), call(1, "dequeue", None, None)), True),
    ("fifo-queue", "out of order",
     seq(call(0, "enqueue", 1, 1), call(0, "enqueue", 2, 2), call(1, "dequeue", None, 2)), False),
    ("fifo-queue", "empty while not empty", seq(call(0, "enqueue", 1, 1), call(1, "dequeue", None, None)),
     False),
    ("fifo-queue", "concurrent enqueues, either order",
     h((0, "invoke", "enqueue", 1), (1, "invoke", "enqueue", 2), (0, "ok", "enqueue", 1),
       (1, "ok", "enqueue", 2), *call(2, "dequeue", None, 2), *call(2, "dequeue", None, 1)), True),
    ("fifo-queue", "info enqueue dequeued",
     h((0, "invoke", "enqueue", 1), (0, "info", "enqueue", 1), *call(1, "dequeue", None, 1)), True),
    ("fifo-queue", "failed enqueue dequeued",
     h((0, "invoke", "enqueue", 1), (0, "fail", "enqueue", 1), *call(1, "dequeue", None, 1)), False),
    ("fifo-queue", "info dequeue took the head",
     h(*call(0, "enqueue", 1, 1), *call(0, "enqueue", 2, 2), (1, "invoke", "dequeue", None),
       (1, "info", "dequeue", None), *call(2, "dequeue", None, 2)), True),
    ("fifo-queue", "without the info dequeue, the head is skipped",
     h(*call(0, "enqueue", 1, 1), *call(0, "enqueue", 2, 2), *call(2, "dequeue", None, 2)), False),
    # -- unordered-queue --------------------------------------------------------------------------
    ("unordered-queue", "any order",
     seq(call(0, "enqueue", 1, 1), call(0, "enqueue", 2, 2), call(1, "dequeue", None, 2),
         call(1, "dequeue", None, 1), call(1, "dequeue", None, None)), True),
    ("unordered-queue", "dequeued twice",
     seq(call(0, "enqueue", 1, 1), call(1, "dequeue", None, 1), call(1, "dequeue", None, 1)), False),
    ("unordered-queue", "never enqueued", seq(call(0, "enqueue", 1, 1), call(1, "dequeue", None, 3)), False),
    ("unordered-queue", "info dequeue took one of them",
     h(*call(0, "enqueue", 1, 1), *call(0, "enqueue", 2, 2), (1, "invoke", "dequeue", None),
       (1, "info", "dequeue", None), *call(2, "dequeue", None, 1), *call(2, "dequeue", None, None)), True),
    ("unordered-queue", "without the info dequeue, an element is lost",
     h(*call(0, "enqueue", 1, 1), *call(0, "enqueue", 2, 2), *call(2, "dequeue", None, 1),
       *call(2, "dequeue", None, None)), False),
    ("unordered-queue", "failed enqueue dequeued",
     h((0, "invoke", "enqueue", 1), (0, "fail", "enqueue", 1), *call(1, "dequeue", None, 1)), False),
    # -- counter ----------------------------------------------------------------------------------
    ("counter", "adds then read", seq(call(0, "add", 1, 1), call(1, "add", 2, 2), call(2, "read", None, 3)),
     True),
    ("counter", "read misses a completed add",
     seq(call(0, "add", 1, 1), call(1, "add", 2, 2), call(2, "read", None, 1)), False),
    ("counter", "concurrent add, read either side",
     h(*call(0, "add", 1, 1), (0, "invoke", "add", 2), *call(1, "read", None, 1), *call(1, "read", None, 3),
       (0, "ok", "add", 2)), True),
    ("counter", "info add seen", h((0, "invoke", "add", 5), (0, "info", "add", 5), *call(1, "read", None, 5)),
     True),
    ("counter", "info add nobody observes",
     h((0, "invoke", "add", 5), (0, "info", "add", 5), *call(1, "read", None, 0)), True),
    ("counter", "failed add seen",
     h((0, "invoke", "add", 5), (0, "fail", "add", 5), *call(1, "read", None, 5)), False),
    ("counter", "read goes backwards",
     seq(call(0, "add", 1, 1), call(1, "read", None, 1), call(1, "read", None, 0)), False),
]


@pytest.mark.parametrize(("model", "history", "expected"), [(m, hist, exp) for m, _, hist, exp in CASES],
                         ids=[f"{m}: {name}" for m, name, _, _ in CASES])
def test_history_verdict(model: str, history: History, expected: bool) -> None:
    result = check_linearizability(history, model, timeout=10)
    assert result.valid is expected, result.explain()
    if expected:
        placed = {op.id for part in result.witness or [] for op in part}
        assert placed >= {op.id for op in history.operations if op.status == "ok"}


def test_every_model_has_valid_and_invalid_cases() -> None:
    from splitbrain.models import MODELS

    builtin = [name for name in MODELS if name in {m for m, _, _, _ in CASES}]
    assert len(builtin) == 9
    for name in builtin:
        verdicts = {exp for m, _, _, exp in CASES if m == name}
        assert verdicts == {True, False}, name


@pytest.mark.parametrize("partition", [True, False])
def test_kv_verdict_does_not_depend_on_partitioning(partition: bool) -> None:
    writes = [call(0, "put", "a", "a", "x"), call(1, "append", "b", "b", "y"), call(2, "get", None, "a", "x")]
    good = seq(*writes, call(2, "get", None, "b", "y"))
    bad = seq(*writes, call(2, "get", None, "", "y"))
    ok = check_linearizability(good, "kv", partition=partition)
    assert ok.valid is True and ok.stats.partitions == (2 if partition else 1)
    assert check_linearizability(bad, "kv", partition=partition).valid is False
