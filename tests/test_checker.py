"""The linearizability checker on hand-written histories, budgets, and a property test.

The property test builds concurrent histories that are linearizable by construction (every operation
takes effect at a chosen point inside its invoke/return interval) and checks that the checker agrees;
then it corrupts one read and checks that the checker notices.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker_support import Flaky
from splitbrain import assert_linearizable, check
from splitbrain.errors import CheckIncomplete, InvalidHistory, NotLinearizable
from splitbrain.histories import UNKNOWN, History, Op, Operation


def h(*events: tuple[Any, ...]) -> History:
    """History from (process, type, f, value) tuples."""
    return History.from_ops([Op(process=p, type=t, f=f, value=v) for p, t, f, v in events])


class Register:
    """A user model written in plain Python, without subclassing anything."""

    name = "user-register"

    def init(self) -> int:
        return 0

    def step(self, state: int, op: Operation) -> Iterable[int]:
        if op.f == "write":
            return (op.input,)
        if op.output is UNKNOWN or op.output == state:
            return (state,)
        return ()


def test_sequential_valid_with_witness() -> None:
    r = check(h((0, "invoke", "write", 1), (0, "ok", "write", 1),
                (1, "invoke", "read", None), (1, "ok", "read", 1)), Register())
    assert r.valid is True
    assert [op.f for op in r.witness[0]] == ["write", "read"]


def test_stale_read_after_completed_write_is_invalid() -> None:
    hist = h(
        (0, "invoke", "write", 1), (0, "ok", "write", 1),
        (1, "invoke", "read", None), (1, "ok", "read", 0),
    )
    r = check(hist, Register())
    assert r.valid is False
    assert r.counterexample is not None
    assert r.counterexample.blocked is not None and r.counterexample.blocked.f == "read"
    assert "cannot place" in r.explain()


def test_concurrent_read_may_see_either_value() -> None:
    for seen in (0, 1):
        hist = h(
            (0, "invoke", "write", 1), (1, "invoke", "read", None),
            (1, "ok", "read", seen), (0, "ok", "write", 1),
        )
        assert check(hist, Register()).valid is True


def test_failed_write_did_not_happen() -> None:
    hist = h(
        (0, "invoke", "write", 5), (0, "fail", "write", 5),
        (1, "invoke", "read", None), (1, "ok", "read", 5),
    )
    assert check(hist, Register()).valid is False


def test_info_write_may_take_effect_later_or_never() -> None:
    seen_later = h(
        (0, "invoke", "write", 5), (0, "info", "write", 5),
        (1, "invoke", "read", None), (1, "ok", "read", 0),
        (2, "invoke", "read", None), (2, "ok", "read", 5),
    )
    assert check(seen_later, Register()).valid is True
    never = h((0, "invoke", "write", 5), (0, "info", "write", None))
    assert check(never, Register()).valid is True
    # but once observed, it cannot be un-happened
    flip_back = h(
        (0, "invoke", "write", 5), (0, "info", "write", 5),
        (1, "invoke", "read", None), (1, "ok", "read", 5),
        (2, "invoke", "read", None), (2, "ok", "read", 0),
    )
    assert check(flip_back, Register()).valid is False


def test_unfinished_call_is_treated_as_info() -> None:
    hist = h((0, "invoke", "write", 3), (1, "invoke", "read", None), (1, "ok", "read", 3))
    r = check(hist, Register())
    assert r.valid is True
    assert hist.operations[0].unknown


def test_nondeterministic_model_explores_every_successor() -> None:
    hist = h((0, "invoke", "inc", None), (0, "ok", "inc", None),
             (0, "invoke", "read", None), (0, "ok", "read", 2))
    assert check(hist, Flaky()).valid is True
    hist3 = h((0, "invoke", "inc", None), (0, "ok", "inc", None),
              (0, "invoke", "read", None), (0, "ok", "read", 3))
    assert check(hist3, Flaky()).valid is False


def _hard_history(n: int) -> History:
    """Many concurrent writes, then two reads no order can explain together (1, then 2, with no write
    between): the search must try every order of the writes. (Each value alone is one some order gives,
    so no check before the search refutes it.)"""
    events: list[tuple[Any, ...]] = [(p, "invoke", "write", p + 1) for p in range(n)]
    events += [(p, "ok", "write", p + 1) for p in range(n)]
    events += [(n, "invoke", "read", None), (n, "ok", "read", 1), (n, "invoke", "read", None), (n, "ok", "read", 2)]
    return h(*events)


def test_budget_gives_unknown_never_a_pass() -> None:
    r = check(_hard_history(14), Register(), max_states=50)
    assert r.valid == "unknown"
    assert "memory budget" in (r.reason or "")
    with pytest.raises(TypeError):
        bool(r)


def test_timeout_gives_unknown() -> None:
    r = check(_hard_history(18), Register(), timeout=1e-9)
    assert r.valid == "unknown"
    assert r.reason == "timed out"


def test_assert_linearizable_explains() -> None:
    bad = h((0, "invoke", "write", 1), (0, "ok", "write", 1), (1, "invoke", "read", None),
            (1, "ok", "read", 7))
    with pytest.raises(NotLinearizable, match="cannot place") as info:
        assert_linearizable(bad, Register())
    assert isinstance(info.value, AssertionError)
    with pytest.raises(CheckIncomplete):
        assert_linearizable(_hard_history(14), Register(), max_states=50)


def test_unknown_function_is_a_clear_error() -> None:
    hist = h((0, "invoke", "frobnicate", 1), (0, "ok", "frobnicate", 1))
    with pytest.raises(InvalidHistory, match=r"frobnicate.*cas-register"):
        check(hist, "cas-register")


# -- property: linearizable by construction ---------------------------------------------------------


@st.composite
def concurrent_register_histories(draw: st.DrawFn) -> tuple[History, list[int]]:
    """A cas-register history where each op takes effect at time 2*i inside its interval.

    Returns the history and the indices (in ``history.operations``) of completed reads.
    """
    n = draw(st.integers(1, 25))
    procs = draw(st.integers(1, 5))
    state: Any = None
    free_at = [0] * procs  # time each process's last call returned
    pid = list(range(procs))  # current process id in each slot (a slot gets a new id after info)
    next_pid = procs
    events: list[tuple[int, Op]] = []
    for i in range(n):
        lin = 100 * i + 50  # integer times: every event gets a distinct, exactly comparable time
        slots = [s for s in range(procs) if free_at[s] < lin - 1]
        if not slots:
            continue
        slot = draw(st.sampled_from(slots))
        start = draw(st.integers(max(free_at[slot] + 1, lin - 300), lin - 1)) * 2
        end = draw(st.integers(lin + 1, lin + 300)) * 2 + 1
        f = draw(st.sampled_from(["read", "write", "cas"]))
        p = pid[slot]
        if f == "read":
            inv, out, typ = None, state, "ok"
        elif f == "write":
            v = draw(st.integers(0, 3))
            inv, out, typ = v, v, "ok"
            state = v
        else:
            old, new = draw(st.integers(0, 3)), draw(st.integers(0, 3))
            inv = out = (old, new)
            if state == old:
                state, typ = new, "ok"
            else:
                typ = "fail"
        if f != "read" and typ == "ok" and draw(st.booleans()) and draw(st.booleans()):
            typ = "info"  # it happened, but the client never learned the outcome
        events.append((start, Op(process=p, type="invoke", f=f, value=inv)))
        events.append((end, Op(process=p, type=typ, f=f, value=out)))
        free_at[slot] = end // 2 + 1
        if typ == "info":
            pid[slot] = next_pid
            next_pid += 1
    events.sort(key=lambda e: e[0])
    history = History.from_ops([op for _, op in events])
    reads = [o.id for o in history.operations if o.f == "read" and o.status == "ok"]
    return history, reads


@settings(max_examples=150, deadline=None)
@given(concurrent_register_histories(), st.data())
def test_constructed_histories_are_linearizable_and_corruption_is_caught(
    case: tuple[History, list[int]], data: st.DataObject
) -> None:
    history, reads = case
    result = check(history, "cas-register")
    # a history whose every operation failed has nothing to check: unknown, never a pass
    if result.operations:
        assert result.valid is True
    else:
        assert result.valid == "unknown"
    if not reads:
        return
    target = data.draw(st.sampled_from(reads))
    call = history.operations[target].ret
    corrupted = [
        Op(process=op.process, type=op.type, f=op.f, value=99 if op.index == call else op.value)
        for op in history.ops
    ]
    assert check(History.from_ops(corrupted), "cas-register").valid is False
