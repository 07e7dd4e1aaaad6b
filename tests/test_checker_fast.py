"""The fast paths against the reference search.

* The compiled core without ``independence_key`` must visit exactly what the reference search
  (:mod:`splitbrain.checker.search`) visits: same verdict, witness, deepest prefix, blocked operation and
  per-operation longest prefixes, on random histories, valid and corrupted, and with nondeterministic
  and user models — and with the built-in kv model, which the core steps natively over interned strings
  (values chosen so that equal strings are built in different ways: "x" + "y" and "xy").
* The reduced search (partial-order reduction and per-key backjumping; Python and compiled) must give
  the verdict of the reference search over the whole history, and a witness that really is a
  linearization.
* ``SPLITBRAIN_PURE_PYTHON=1`` and a missing extension fall back to the pure searches; a memory budget
  gives ``unknown``.

The tests of the compiled core (``needs_core``) skip only where it cannot be built (no C compiler, or
``SPLITBRAIN_PURE_PYTHON=1`` chose the pure path); with a compiler, a missing extension fails them: the
build broke, and skipping would hide that the core is untested.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker_support import Flaky
from splitbrain import check
from splitbrain.checker import fast, reduced, search
from splitbrain.checker.linearizability import check_linearizability, prepare
from splitbrain.checker.search import Budget, Outcome
from splitbrain.histories import History, Op, Operation, read_history
from splitbrain.models import get_model
from splitbrain.models.kv import KV

#: the C compiler setup.py would build the core with, if any
COMPILER = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


@pytest.fixture(scope="module")  # module scope: Hypothesis's @given tests take no function-scoped fixture
def core() -> None:
    """Require the compiled core: skip where it cannot be built, fail where it should have been."""
    if fast._fastcore is not None:
        return
    if os.environ.get("SPLITBRAIN_PURE_PYTHON", "") not in ("", "0"):
        pytest.skip("SPLITBRAIN_PURE_PYTHON is set and the compiled core is not built")
    if COMPILER is None:
        pytest.skip("no C compiler (cc, gcc or clang) to build the compiled core with")
    pytest.fail(
        f"the compiled core (splitbrain.checker._fastcore) did not build although a C compiler is present "
        f"({COMPILER}): run `pip install -e .` in the repository and read the compiler's errors",
        pytrace=False,
    )


needs_core = pytest.mark.usefixtures("core")


def run(gen: Any) -> Outcome:
    while True:
        try:
            next(gen)
        except StopIteration as done:
            outcome: Outcome = done.value
            return outcome


# -- random histories: each operation takes effect at a point inside its interval ---------------------


@st.composite
def histories(draw: st.DrawFn, kind: str) -> History:
    """A history of ``kind`` ("cas", "kv" or "flaky"), linearizable by construction, then maybe corrupted.

    Operation ``i`` takes effect at time ``100 * i + 50``; its invoke and completion are drawn around it
    so that operations overlap. Some completions become ``info`` (it happened, outcome unknown) and
    some writes ``fail`` (it did not happen). With probability one half one completed output is changed.
    kv values include "" (a get of it may return nil), "xy" (equal to "x" + "y") and a non-ASCII one.
    """
    n = draw(st.integers(1, 18 if kind != "kv" else 24))
    procs = draw(st.integers(1, 5))
    keys = ["a", "b", "c"][: draw(st.integers(1, 3))]
    reg: Any = None
    kv: dict[str, str] = {}
    count = 0
    free_at = [0] * procs
    pid = list(range(procs))
    next_pid = procs
    events: list[tuple[int, Op]] = []
    for i in range(n):
        lin = 100 * i + 50
        slots = [s for s in range(procs) if free_at[s] < lin - 1]
        if not slots:
            continue
        slot = draw(st.sampled_from(slots))
        start = draw(st.integers(max(free_at[slot] + 1, lin - 300), lin - 1)) * 2
        end = draw(st.integers(lin + 1, lin + 300)) * 2 + 1
        key = None
        typ = "ok"
        if kind == "cas":
            f = draw(st.sampled_from(["read", "write", "cas"]))
            if f == "read":
                inv, out = None, reg
            elif f == "write":
                inv = out = draw(st.integers(0, 2))
                reg = inv
            else:
                inv = out = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
                if reg == inv[0]:
                    reg = inv[1]
                else:
                    typ = "fail"
        elif kind == "kv":
            f = draw(st.sampled_from(["get", "put", "append"]))
            key = draw(st.sampled_from(keys))
            if f == "get":
                inv, out = None, kv.get(key, "")
                if out == "" and draw(st.booleans()):
                    out = None
            else:
                inv = out = draw(st.sampled_from(["x", "y", "xy", "", "é"]))
                kv[key] = inv if f == "put" else kv.get(key, "") + inv
        else:
            f = draw(st.sampled_from(["inc", "read"]))
            if f == "inc":
                count += draw(st.sampled_from([1, 2]))
                inv = out = None
            else:
                inv, out = None, count
        if f not in ("read", "get") and typ == "ok" and draw(st.integers(0, 4)) == 0:
            typ = "info"
        p = pid[slot]
        events.append((start, Op(process=p, type="invoke", f=f, value=inv, key=key)))
        events.append((end, Op(process=p, type=typ, f=f, value=out, key=key)))
        free_at[slot] = end // 2 + 1
        if typ == "info":
            pid[slot] = next_pid
            next_pid += 1
    events.sort(key=lambda e: e[0])
    ops = [op for _, op in events]
    if draw(st.booleans()):
        done = [j for j, op in enumerate(ops) if op.type == "ok"]
        if done:
            j = draw(st.sampled_from(done))
            bad = {"cas": 7, "kv": "q", "flaky": 9}[kind]
            ops[j] = Op(process=ops[j].process, type="ok", f=ops[j].f, value=bad, key=ops[j].key)
    return History.from_ops(ops)


def is_linearization(history: History, model: Any, order: Sequence[Operation]) -> bool:
    """``order`` contains every completed operation once, keeps real-time order, and the model accepts
    it step by step (any successor, for nondeterministic models)."""
    ids = [op.id for op in order]
    if len(set(ids)) != len(ids):
        return False
    placed = set(ids)
    if any(op.status == "ok" and op.id not in placed for op in history.operations):
        return False
    for j, a in enumerate(order):  # no later operation returned before an earlier one was called
        for b in order[j + 1:]:
            if b.ret is not None and b.ret < a.call:
                return False
    states = {model.init()}
    for op in order:
        states = {s2 for s in states for s2 in model.step(s, op)}
        if not states:
            return False
    return True


def outcome_fields(o: Outcome) -> tuple[Any, ...]:
    return (o.valid, o.witness, o.deepest, o.blocked, o.longest, repr(o.deepest_state))


# -- the compiled core is the reference search, step for step --------------------------------------


@needs_core
@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["cas", "flaky"]).flatmap(lambda k: st.tuples(st.just(k), histories(k))))
def test_core_visits_what_the_reference_visits(case: tuple[str, History]) -> None:
    kind, history = case
    model = get_model("cas-register") if kind == "cas" else Flaky()
    ops = prepare(history, model)
    for track in (False, True):
        ref = search.search(ops, model, Budget(None, None), track)
        got = run(fast.searcher(ops, model, Budget(None, None), track))
        assert outcome_fields(got) == outcome_fields(ref)
        assert got.valid in (True, False)


@needs_core
def test_core_and_reference_agree_on_small_etcd_corpus(porcupine: Any) -> None:
    model = get_model("cas-register")
    for number in (0, 1, 3, 5, 10, 18, 31, 40):
        ops = prepare(read_history(porcupine / "jepsen" / f"etcd_{number:03d}.log"), model)
        ref = search.search(ops, model, Budget(None, None), True)
        got = run(fast.searcher(ops, model, Budget(None, None), True))
        assert outcome_fields(got) == outcome_fields(ref), number


@needs_core
@settings(max_examples=200, deadline=None)
@given(histories("kv"))
def test_native_kv_step_visits_what_the_reference_visits(history: History) -> None:
    """Per key (as the checker partitions kv), the core stepping kv itself matches the reference search
    with the Python model, and the core calling the Python model back, field for field."""
    model = get_model("kv")
    for group in model.partition(prepare(history, model)):
        assert fast.kv_encoding(group, model, None) is not None  # the native step is really used
        for track in (False, True):
            ref = search.search(group, model, Budget(None, None), track)
            native = run(fast.searcher(group, model, Budget(None, None), track))
            called_back = run(fast.searcher(group, model, Budget(None, None), track, native=False))
            assert outcome_fields(native) == outcome_fields(ref) == outcome_fields(called_back)
            assert (native.states, native.steps) == (called_back.states, called_back.steps)


def _kv(*calls: tuple[int, str, Any, Any]) -> History:
    """A sequential single-key kv history: each (process, f, input, output) returns before the next."""
    ops = []
    for p, f, inp, out in calls:
        ops.append(Op(process=p, type="invoke", f=f, value=inp, key="k"))
        ops.append(Op(process=p, type="ok", f=f, value=out, key="k"))
    return History.from_ops(ops)


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        # "x" + "y" reached by appends, then the same string put whole: one state, so both gets succeed
        ([(0, "append", "x", "x"), (0, "append", "y", "y"), (1, "get", None, "xy"), (0, "put", "xy", "xy"),
          (1, "get", None, "xy")], True),
        # the other way round: "xy" put first, then rebuilt by appends after a put of ""
        ([(0, "put", "xy", "xy"), (1, "get", None, "xy"), (0, "put", "", ""), (1, "get", None, None),
          (0, "append", "x", "x"), (0, "append", "yé", "yé"), (1, "get", None, "xyé")], True),
        ([(0, "put", "xy", "xy"), (0, "put", "", ""), (0, "append", "x", "x"), (0, "append", "y", "y"),
          (1, "get", None, "xy"), (1, "get", None, None)], False),
        ([(0, "append", "x", "x"), (0, "append", "y", "y"), (1, "get", None, "yx")], False),
    ],
)
def test_native_kv_equal_strings_built_differently(calls: list[Any], expected: bool) -> None:
    model = get_model("kv")
    history = _kv(*calls)
    ops = prepare(history, model)
    assert search.search(ops, model, Budget(None, None), False).valid is expected
    assert check(history, "kv").valid is expected
    if fast._fastcore is not None:
        assert fast.kv_encoding(ops, model, None) is not None
        assert run(fast.searcher(ops, model, Budget(None, None), True)).valid is expected


class CaseBlindKV(KV):
    """A user's kv whose get ignores case: its own ``step`` must be called, not the native one."""

    def step(self, state: Any, op: Operation) -> Any:
        if op.f == "get" and isinstance(op.output, str):
            current = dict(state).get(op.key, "")
            return (state,) if op.output.lower() == current.lower() else ()
        return super().step(state, op)


def test_native_kv_only_for_the_builtin_model_and_string_values() -> None:
    model = get_model("kv")
    shouted = _kv((0, "put", "a", "a"), (1, "get", None, "A"))
    ops = prepare(shouted, model)
    assert fast.kv_encoding(ops, model, None) is not None
    assert fast.kv_encoding(ops, CaseBlindKV(), None) is None
    assert check(shouted, CaseBlindKV()).valid is True
    assert check(shouted, "kv").valid is False
    numbers = _kv((0, "put", 1, 1), (0, "append", 2, 2), (1, "get", None, 3))  # 1 + 2: the Python model's
    assert fast.kv_encoding(prepare(numbers, model), model, None) is None
    assert check(numbers, "kv").valid is True
    surrogate = _kv((0, "put", "\ud800", "\ud800"), (1, "get", None, "\ud800"))  # has no UTF-8
    assert fast.kv_encoding(prepare(surrogate, model), model, None) is None
    assert check(surrogate, "kv").valid is True
    two_keys = History.from_ops([
        Op(process=0, type=t, f="put", value=v, key=k) for k, v in (("k", "a"), ("j", "b")) for t in ("invoke", "ok")
    ])
    both = prepare(two_keys, model)
    assert fast.kv_encoding(both, model, None) is None  # whole multi-key states: the Python model
    assert fast.kv_encoding(both, model, model.independence_key) is not None  # one string per key


@needs_core
def test_native_kv_matches_reference_on_corpus(porcupine: Any) -> None:
    """Every key of the c01 and c10 kv histories, field for field, and of c50-ok without the longest
    prefixes (the reference's O(depth) bookkeeping per backtrack would take most of a minute there)."""
    model = get_model("kv")
    for name, track in (("c01-ok", True), ("c01-bad", True), ("c10-ok", True), ("c10-bad", True),
                        ("c50-ok", False)):
        for group in model.partition(prepare(read_history(porcupine / "kv" / f"{name}.txt"), model)):
            ref = search.search(group, model, Budget(None, None), track)
            got = run(fast.searcher(group, model, Budget(None, None), track))
            assert outcome_fields(got) == outcome_fields(ref), name


# -- the reduced search gives the reference verdict, with a real witness ----------------------------


@settings(max_examples=300, deadline=None)
@given(histories("kv"))
def test_reduced_search_agrees_with_reference(history: History) -> None:
    model = get_model("kv")
    ops = prepare(history, model)
    expected = search.search(ops, model, Budget(None, None), False).valid
    engines = [reduced.searcher(ops, model, Budget(None, None), True, model.independence_key)]
    if fast._fastcore is not None:
        assert fast.kv_encoding(ops, model, model.independence_key) is not None  # stepped natively
        engines.append(fast.searcher(ops, model, Budget(None, None), True, model.independence_key))
    results = [run(engine) for engine in engines]
    for got in results:
        assert got.valid is expected
        if got.valid is True:
            assert is_linearization(history, model, [ops[i] for i in got.witness])
        else:
            assert got.blocked is not None and ops[got.blocked].status == "ok"
    if len(results) == 2:  # the compiled reduced search is the Python one, step for step
        assert outcome_fields(results[0]) == outcome_fields(results[1])
    # and the public API, partitioned or not
    assert check(history, "kv").valid is expected
    assert check(history, "kv", partition=False).valid is expected


@settings(max_examples=150, deadline=None)
@given(histories("cas"))
def test_witnesses_are_linearizations(history: History) -> None:
    result = check(history, "cas-register")
    if result.valid is True:
        assert result.witness is not None
        assert is_linearization(history, get_model("cas-register"), result.witness[0])


# -- fallbacks and budgets ---------------------------------------------------------------------------


def test_pure_python_switch(monkeypatch: pytest.MonkeyPatch, porcupine: Any) -> None:
    monkeypatch.setenv("SPLITBRAIN_PURE_PYTHON", "1")
    assert not fast.available()
    for name, expected in (("c10-ok", True), ("c10-bad", False)):
        history = read_history(porcupine / "kv" / f"{name}.txt")
        assert check_linearizability(history, "kv", partition=False, timeout=60).valid is expected
    history = read_history(porcupine / "jepsen" / "etcd_000.log")
    assert check_linearizability(history, "cas-register").valid is False


@needs_core
def test_counterexamples_same_on_both_engines(monkeypatch: pytest.MonkeyPatch, porcupine: Any) -> None:
    """The compiled path notes longest prefixes in its first pass; the pure one in a second pass."""
    for number in (0, 1, 3, 10):
        history = read_history(porcupine / "jepsen" / f"etcd_{number:03d}.log")
        compiled = check_linearizability(history, "cas-register").counterexample
        with monkeypatch.context() as env:
            env.setenv("SPLITBRAIN_PURE_PYTHON", "1")
            pure = check_linearizability(history, "cas-register").counterexample
        assert compiled is not None and pure is not None
        assert (compiled.prefix, compiled.blocked, compiled.state, compiled.longest) == (
            pure.prefix, pure.blocked, pure.state, pure.longest
        )


def test_missing_extension_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast, "_fastcore", None)
    assert not fast.available()
    hist = History.from_ops([
        Op(process=0, type="invoke", f="write", value=1), Op(process=0, type="ok", f="write", value=1),
        Op(process=1, type="invoke", f="read", value=None), Op(process=1, type="ok", f="read", value=0),
    ])
    assert check(hist, "register").valid is False


def _hard_history(n: int, model: str) -> History:
    """``n`` concurrent writes (or appends), then reads no order gives: for a register 1 and then 2 with
    no write between (each value alone is reachable, so only the search can refute them), for kv a value
    no append makes (kv's states grow without bound, so only the search can)."""
    f, read, key = ("write", "read", None) if model == "register" else ("append", "get", "k")
    value = (lambda p: p + 1) if model == "register" else (lambda p: f"v{p}")
    events = [Op(process=p, type="invoke", f=f, value=value(p), key=key) for p in range(n)]
    events += [Op(process=p, type="ok", f=f, value=value(p), key=key) for p in range(n)]
    for seen in ((1, 2) if model == "register" else ("none",)):
        events += [Op(process=n, type="invoke", f=read, value=None, key=key),
                   Op(process=n, type="ok", f=read, value=seen, key=key)]
    return History.from_ops(events)


@pytest.mark.parametrize("model", ["register", "kv"])
@pytest.mark.parametrize("pure", [False, True])
def test_memory_budget_gives_unknown(monkeypatch: pytest.MonkeyPatch, pure: bool, model: str) -> None:
    if pure:
        monkeypatch.setenv("SPLITBRAIN_PURE_PYTHON", "1")
    monkeypatch.setattr(search, "DEFAULT_MAX_BYTES", 1 << 20)
    result = check(_hard_history(16, model), model)
    assert result.valid == "unknown"
    assert "MiB exhausted" in (result.reason or "")


@needs_core
def test_native_kv_any_budget_gives_the_verdict_or_unknown() -> None:
    """From a budget too small for the values alone up to enough: never a wrong verdict, never a crash."""
    model = get_model("kv")
    for history, expected in ((_hard_history(7, "kv"), False), (_kv(*[(0, "append", f"v{i}", f"v{i}")
                              for i in range(40)], (1, "get", None, "".join(f"v{i}" for i in range(40)))), True)):
        ops = prepare(history, model)
        verdicts = []
        for shift in range(8, 24):
            budget = Budget(None, None, 1 << shift)
            got = run(fast.searcher(ops, model, budget, True))
            assert got.valid in (expected, "unknown")
            assert (got.valid == "unknown") == (budget.reason is not None)
            verdicts.append(got.valid)
        assert verdicts[0] == "unknown" and verdicts[-1] is expected
