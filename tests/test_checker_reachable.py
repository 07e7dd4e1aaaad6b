"""A completed operation no reachable state allows is refuted before the search
(:mod:`splitbrain.checker.reachable`): decided at once where the search would run out of budget, with an
explanation that names the operation and the states; and never where some order could explain it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from checker_support import cas_history
from splitbrain import check
from splitbrain.checker import linearizability
from splitbrain.checker.reachable import unreachable_result
from splitbrain.cli import main
from splitbrain.histories import History, Op
from splitbrain.models import Register
from splitbrain.models.base import Model


def ops_of(*events: tuple[Any, ...]) -> History:
    return History.from_ops([Op(process=p, type=t, f=f, value=v) for p, t, f, v in events])


#: fifty clients, two reads corrupted to 7, which nothing wrote
GARBAGE = History.from_ops(cas_history(2_000, 50, seed=1, corrupt=2))


@pytest.mark.parametrize("pure", ["0", "1"])
def test_a_read_of_a_value_nothing_wrote_is_refuted_with_no_search(monkeypatch: pytest.MonkeyPatch, pure: str) -> None:
    monkeypatch.setenv("SPLITBRAIN_PURE_PYTHON", pure)
    result = check(GARBAGE, "cas-register", max_states=100_000)
    assert result.valid is False
    cx = result.counterexample
    assert cx is not None and cx.blocked is not None and cx.prefix == []
    assert (cx.blocked.f, cx.blocked.output) == ("read", 7)
    first = min(op.id for op in GARBAGE.operations if op.f == "read" and op.output == 7)
    assert cx.blocked.id == first  # the earliest such read
    assert result.stats.states == 0  # no search ran
    text = result.explain()
    assert "cannot place" in text and "-> 7" in text
    assert "reaches 6 states from its initial one (nil, 0, 1, 2, 3, 4), and none allows it" in text


def test_without_the_refutation_the_search_gives_up_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the refutation is for: the search alone ends unknown at the same budget (and at the default
    one, measured in docs/explanation/checker-scale.md); the history as generated, reads uncorrupted, is
    decided valid."""
    monkeypatch.setattr(linearizability, "unreachable_result", lambda ops, model: None)
    assert check(GARBAGE, "cas-register", max_states=100_000).valid == "unknown"
    assert check(History.from_ops(cas_history(2_000, 50, seed=1)), "cas-register").valid is True


def test_a_value_only_a_crashed_write_wrote_is_not_refuted() -> None:
    """A write whose outcome is unknown may have happened: its value is reachable, and the read is fine."""
    history = ops_of((0, "invoke", "write", 3), (0, "info", "write", 3),
                     (1, "invoke", "read", None), (1, "ok", "read", 3))
    assert check(history, "register").valid is True
    failed = ops_of((0, "invoke", "write", 3), (0, "fail", "write", 3),
                    (1, "invoke", "read", None), (1, "ok", "read", 3))
    result = check(failed, "register")  # a failed write did not happen: nothing wrote 3
    assert result.valid is False and result.counterexample is not None
    assert result.counterexample.reason is not None


def test_an_order_problem_is_left_to_the_search() -> None:
    """Each value alone is reachable, so the refutation says nothing; the search finds the problem and
    gives its usual prefix."""
    history = ops_of((0, "invoke", "write", 1), (0, "ok", "write", 1), (0, "invoke", "write", 2),
                     (0, "ok", "write", 2), (1, "invoke", "read", None), (1, "ok", "read", 1))
    assert unreachable_result(list(history.operations), Register()) is None
    result = check(history, "register")
    assert result.valid is False and result.counterexample is not None
    assert result.counterexample.reason is None and len(result.counterexample.prefix) == 2


def test_an_unbounded_model_gives_up_and_the_search_decides() -> None:
    """kv's appends make ever longer strings: the closure stops at its bound and says nothing."""
    events = [(p, t, "append", f"v{p}") for p in range(6) for t in ("invoke", "ok")]
    history = History.from_ops([Op(process=p, type=t, f=f, key="k", value=v) for p, t, f, v in events]
                               + [Op(process=9, type="invoke", f="get", key="k"),
                                  Op(process=9, type="ok", f="get", key="k", value="nope")])
    assert unreachable_result([op for op in history.operations], _kv()) is None
    result = check(history, "kv")
    assert result.valid is False and result.counterexample is not None and result.counterexample.reason is None


def _kv() -> Any:
    from splitbrain.models import get_model

    return get_model("kv")


class Lock(Model):
    """A lock only its holder releases: ``step`` reads ``op.process`` (so it says ``symmetric = False``)."""

    name: ClassVar[str] = "owned-lock"
    functions: ClassVar[tuple[str, ...]] = ("acquire", "release")
    symmetric: ClassVar[bool] = False

    def init(self) -> Any:
        return None

    def step(self, state: Any, op: Any) -> tuple[Any, ...]:
        if op.f == "acquire":
            return (op.process,) if state is None else ()
        return (None,) if state == op.process else ()


def test_a_model_that_reads_the_process_is_stepped_per_operation() -> None:
    """Operations alike in f, input and output are told apart by process when the model reads it: p1's
    release is possible (p1 may hold the lock), p2's is not (p2 never acquires)."""
    fine = ops_of((1, "invoke", "acquire", None), (1, "ok", "acquire", None),
                  (1, "invoke", "release", None), (1, "ok", "release", None))
    assert check(fine, Lock()).valid is True
    bad = ops_of((1, "invoke", "acquire", None), (1, "ok", "acquire", None),
                 (2, "invoke", "release", None), (2, "ok", "release", None))
    result = check(bad, Lock())
    assert result.valid is False and result.counterexample is not None
    assert result.counterexample.blocked is not None and result.counterexample.blocked.process == 2
    assert result.counterexample.reason is not None


def test_the_command_line_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "garbage.edn"
    path.write_text("{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n"
                    "{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value 9}\n")
    with pytest.raises(SystemExit) as info:
        main(["check", str(path), "-m", "register"])
    out, _ = capsys.readouterr()
    assert info.value.code == 1
    assert "cannot place: [op 1, event 2]  p1 read nil -> 9" in out
    assert "reaches 2 states from its initial one (nil, 1), and none allows it" in out
    with pytest.raises(SystemExit):
        main(["check", str(path), "-m", "register", "--json"])
    row = json.loads(capsys.readouterr()[0])
    assert row["valid"] is False and "none allows it" in row["counterexample"]["reason"]


class Fragile(Model):
    """A model whose ``step`` assumes its state was reached in order: a write of ``"b"`` only ever follows
    one of ``"a"`` in a real history, and it crashes on any other state. The test before the search pairs
    states and operations out of order; the check must not crash for it."""

    name: ClassVar[str] = "fragile"
    functions: ClassVar[tuple[str, ...]] = ("write", "read")

    def init(self) -> Any:
        return ""

    def step(self, state: Any, op: Any) -> tuple[Any, ...]:
        if op.f == "write":
            if op.input == "b" and not state.endswith("a"):
                raise RuntimeError("never happens in a real order")
            return (state + op.input,)
        return (state,) if op.output == state else ()


def test_a_model_that_raises_out_of_order_leaves_the_verdict_to_the_search() -> None:
    history = ops_of((0, "invoke", "write", "a"), (0, "ok", "write", "a"), (0, "invoke", "write", "b"),
                     (0, "ok", "write", "b"), (1, "invoke", "read", None), (1, "ok", "read", "ab"))
    assert unreachable_result(list(history.operations), Fragile()) is None
    assert check(history, Fragile()).valid is True
