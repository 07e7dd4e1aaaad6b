"""Both engines against an oracle that shares none of their code: Wing & Gong's search as first written.

The searches of :mod:`splitbrain.checker.search` and the compiled core keep a configuration as (first
pending return, lanes, state, crash usage), linearize crashed calls only just before a completed
operation, treat alike operations as one and force legal reads: each of those reductions is argued
sound and complete in its docstring. This test does not trust the arguments: on small random histories
with many crashed calls, many processes and nondeterministic models, it compares the verdict with
the plainest search there is (Wing & Gong 1993): a set of linearized operations and a state, any
operation whose call precedes every pending return may go next, a crashed call at most once or never.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker_support import Flaky
from splitbrain.checker.linearizability import check_linearizability
from splitbrain.histories import History, Op
from splitbrain.models import get_model


def oracle(history: History, model: Any) -> bool:
    """Whether ``history`` is linearizable, by exhaustive search over sets of operations."""
    ops = [op for op in history.operations if op.status != "fail"]
    done = frozenset(i for i, op in enumerate(ops) if op.ret is not None)

    @cache
    def extend(linearized: frozenset[int], state: Any) -> bool:
        if done <= linearized:
            return True
        horizon = min(ops[i].ret for i in done - linearized)  # type: ignore[type-var]
        for i, op in enumerate(ops):
            if i in linearized or op.call > horizon:  # type: ignore[operator]
                continue
            if any(extend(linearized | {i}, s2) for s2 in set(model.step(state, op))):
                return True
        return False

    return extend(frozenset(), model.init())


@st.composite
def histories(draw: st.DrawFn, kind: str, most: int = 9) -> History:
    """Random histories of ``kind``: concurrent calls with outputs drawn at random (so both verdicts
    come up) and about a third of the calls crashed (``info``, or never completed)."""
    procs = draw(st.integers(1, 5))
    n = draw(st.integers(1, most))
    running: dict[int, Op] = {}
    events: list[Op] = []
    next_pid = procs
    pids = list(range(procs))
    started = 0
    values = st.integers(0, 2)
    while started < n or running:
        slot = draw(st.integers(0, procs - 1))
        pid = pids[slot]
        if pid in running:
            call = running.pop(pid)
            fate = draw(st.sampled_from(["ok", "ok", "ok", "info", "fail"]))
            if fate == "fail" and call.f in ("read", "get", "dequeue"):
                fate = "ok"
            out = call.value
            if call.f in ("read", "get", "dequeue"):
                out = draw(st.none() | values) if kind != "kv" else draw(st.sampled_from(["", "x", "xy", "y"]))
            if fate == "info":
                out = None
                pids[slot] = next_pid
                next_pid += 1
            events.append(Op(process=pid, type=fate, f=call.f, value=out, key=call.key))
        elif started < n:
            started += 1
            if kind == "cas":
                f = draw(st.sampled_from(["read", "write", "cas"]))
                value: Any = None if f == "read" else draw(values) if f == "write" else (draw(values), draw(values))
                key = None
            elif kind == "flaky":
                f = draw(st.sampled_from(["inc", "read"]))
                value, key = None, None
            elif kind == "queue":
                f = draw(st.sampled_from(["enqueue", "dequeue"]))
                value, key = (draw(values) if f == "enqueue" else None), None
            else:
                f = draw(st.sampled_from(["get", "put", "append"]))
                value = None if f == "get" else draw(st.sampled_from(["x", "y"]))
                key = draw(st.sampled_from(["a", "b"]))
            call = Op(process=pid, type="invoke", f=f, value=value, key=key)
            running[pid] = call
            events.append(call)
        elif draw(st.booleans()):  # leave the rest running: calls that never completed
            break
    return History.from_ops(events)


MODELS = {"cas": "cas-register", "flaky": Flaky(), "queue": "unordered-queue", "kv": "kv"}


def _verdicts(history: History, model: Any, monkeypatch: pytest.MonkeyPatch) -> set[Any]:
    got = set()
    for pure in ("0", "1"):
        with monkeypatch.context() as env:
            env.setenv("SPLITBRAIN_PURE_PYTHON", pure)
            got.add(check_linearizability(history, model, max_states=10**6).valid)
            if model == "kv":
                got.add(check_linearizability(history, model, partition=False, max_states=10**6).valid)
    return got


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_engines_agree_with_the_oracle(kind: str) -> None:
    monkeypatch = pytest.MonkeyPatch()

    @settings(max_examples=150, deadline=None)
    @given(histories(kind))
    def run(history: History) -> None:
        model = get_model(MODELS[kind])
        expected = oracle(history, model)
        assert _verdicts(history, MODELS[kind], monkeypatch) == {expected}

    run()


def test_oracle_sees_crashed_writes_take_effect_late() -> None:
    """The oracle itself: a crashed write may take effect after a later read and before another."""
    ops = [
        Op(process=0, type="invoke", f="write", value=1),
        Op(process=1, type="invoke", f="read", value=None), Op(process=1, type="ok", f="read", value=None),
        Op(process=2, type="invoke", f="read", value=None), Op(process=2, type="ok", f="read", value=1),
        Op(process=0, type="info", f="write", value=None),
    ]
    history = History.from_ops(ops)
    model = get_model("register")
    assert oracle(history, model) is True
    swapped = History.from_ops([*ops[:2], Op(process=1, type="ok", f="read", value=1), *ops[3:4],
                                Op(process=2, type="ok", f="read", value=None), ops[5]])
    assert oracle(swapped, model) is False
