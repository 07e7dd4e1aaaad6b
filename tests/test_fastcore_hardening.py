"""The compiled core refuses malformed calls with an exception, and ends "unknown" on any memory budget.

``splitbrain.checker.fast`` is the core's only legitimate caller, but the core is a public module: every
index it is handed (entries, operations, keys, lanes, crash and alike classes, read flags, the target,
state ids from the step callback, budgets) must be checked, because a bad one used to read or write out
of bounds. Each hostile call runs in a fresh
interpreter, so that a crash shows up as this test failing with the signal, not as pytest dying. The
calls in ``CRASHED_BEFORE`` killed the interpreter (SIGSEGV, rc 139 in a shell, or SIGABRT) before the
core was hardened.

The budget tests go through the public :func:`splitbrain.check` on the compiled path, and sweep the byte
budget over every growing table of the core (memo, transitions, successor pool, candidate stack,
path nodes, crash sequences, the kv strings): each budget gives the verdict or "unknown", never a crash.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from splitbrain import check
from splitbrain.checker import fast, search
from splitbrain.checker.linearizability import prepare
from splitbrain.checker.search import Budget, Outcome
from splitbrain.histories import History, Op
from splitbrain.models import get_model
from test_checker_fast import core  # noqa: F401  (the fixture: skip without a compiler, else fail unbuilt)

pytestmark = pytest.mark.usefixtures("core")

# The child loads the extension by its path (no splitbrain import: a tenth of the start-up time), builds
# the smallest well-formed search (operation 0: call entry 1, return entry 2), and runs the body with
# `search(**changes)` at hand; it prints what the body raised, or that it returned.
_CHILD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("_fastcore", sys.argv[1])
core = importlib.util.module_from_spec(spec)
spec.loader.exec_module(core)

def step(op, sid):
    return [sid]

GOOD = dict(kind=[0, 0, 1], opi=[0, 0, 0], match=[-1, 2, -1], okey=[0], olane=[0], oclass=[-1], osym=[0],
            oread=[0], nkeys=1, width=1, step=step, init_sid=0, max_states=1000, max_bytes=1 << 24, track=True,
            exact=False, target=0)
KV = ([2], [0], ["a"])  # operation 0 puts "a"
# two overlapping operations (calls 1, 2; returns 3, 4), in lanes 0 and 1
TWO = dict(kind=[0, 0, 0, 1, 1], opi=[0, 0, 1, 0, 1], match=[-1, 3, 4, -1, -1], okey=[0, 0], olane=[0, 1],
           oclass=[-1, -1], osym=[0, 1], oread=[0, 0])
# operation 0 completes (entries 1, 3); operations 1 and 2 crash (calls at entries 2 and 4), one class
CRASHED = dict(kind=[0, 0, 0, 1, 0], opi=[0, 0, 1, 0, 2], match=[-1, 3, -1, -1, -1], okey=[0, 0, 0],
               olane=[0, -1, -1], oclass=[-1, 0, 0], osym=[0, 1, 1], oread=[0, 0, 0])

def search(**changes):
    args = {**GOOD, **changes}
    kv = (args.pop("kv"),) if "kv" in args else ()
    return core.Search(*args.values(), *kv)

try:
    exec(sys.argv[2])
except BaseException as exc:
    print("raised", type(exc).__name__, exc)
else:
    print("returned")
"""


def _in_child(body: str) -> str:
    """What ``body`` printed (or raised) in a fresh interpreter; fails the test if the child crashed."""
    assert fast._fastcore is not None
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, fast._fastcore.__file__, body], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (
        f"the interpreter died (return code {done.returncode}"
        + (f", signal {-done.returncode}" if done.returncode < 0 else "")
        + f") running:\n{body}\n{done.stderr[-2000:]}"
    )
    return done.stdout.strip()


# id -> (body, the exception it must raise, a fragment of its message)
HOSTILE: dict[str, tuple[str, str, str]] = {
    # arguments of the wrong type or shape
    "kind-dict": ("search(kind={0: 0, 1: 0, 2: 1})", "TypeError", "kind must be a list"),
    "kind-generator": ("search(kind=(k for k in [0, 0, 1]))", "TypeError", "kind must be a list"),
    "kind-none": ("search(kind=None)", "TypeError", "kind must be a list"),
    "okey-str": ("search(okey='0')", "TypeError", "okey must be a list"),
    "kind-empty": ("search(kind=[], opi=[], match=[])", "ValueError", "head"),
    "opi-short": ("search(opi=[0, 0])", "ValueError", "opi has 2 entries"),
    "match-long": ("search(match=[-1, 2, -1, -1])", "ValueError", "match has 4 entries"),
    "olane-long": ("search(olane=[0, 1])", "ValueError", "olane has 2 entries"),
    "oclass-short": ("search(oclass=[])", "ValueError", "oclass has 0 entries"),
    "osym-dict": ("search(osym={0: 0})", "TypeError", "osym must be a list"),
    "oread-long": ("search(oread=[0, 0])", "ValueError", "oread has 2 entries"),
    "item-float": ("search(opi=[0, 0.0, 0])", "TypeError", "opi[1] must be an int"),
    "item-str": ("search(match=[-1, '2', -1])", "TypeError", "match[1] must be an int"),
    "item-huge": ("search(opi=[0, 2**70, 0])", "OverflowError", "opi[1]"),
    "item-past-int": ("search(okey=[2**31])", "OverflowError", "okey[0]"),
    "nkeys-huge": ("search(nkeys=2**40)", "OverflowError", ""),
    "nkeys-zero": ("search(nkeys=0)", "ValueError", "nkeys"),
    "nkeys-past-operations": ("search(nkeys=2)", "ValueError", "nkeys"),
    "width-zero": ("search(width=0)", "ValueError", "width"),
    "width-negative": ("search(width=-1)", "ValueError", "width"),
    "width-huge": ("search(width=10**8, max_bytes=1 << 40).run(100)", "ValueError", "width"),
    "init-negative": ("search(init_sid=-1)", "ValueError", "init_sid"),
    "max-states-negative": ("search(max_states=-1)", "ValueError", "max_states must not be negative"),
    "max-bytes-negative": ("search(max_bytes=-2**70)", "ValueError", "max_bytes must not be negative"),
    "max-bytes-huge": ("search(max_bytes=2**64)", "OverflowError", "max_bytes"),
    "max-bytes-float": ("search(max_bytes=1e9)", "TypeError", "max_bytes must be an int"),
    "step-not-callable": ("search(step=42)", "TypeError", "step must be callable"),
    "keyword-argument": ("core.Search(*GOOD.values(), kv=None)", "TypeError", "keyword"),
    "too-few-arguments": ("core.Search([0, 0, 1])", "TypeError", ""),
    "initialised-twice": ("search().__init__(*GOOD.values())", "RuntimeError", "twice"),
    # entries and operations whose indices the search would follow out of its arrays
    "opi-out-of-range": ("search(opi=[0, 0, 10**6]).run(100)", "ValueError", "match[1] = 2"),
    "opi-far-out-of-range": ("search(opi=[0, 10**9, 10**9]).run(100)", "ValueError", "opi[1]"),
    "opi-negative": ("search(opi=[0, -1, -1])", "ValueError", "opi[1] = -1"),
    "match-out-of-range": ("search(match=[-1, 10**9, -1]).run(100)", "ValueError", "match[1]"),
    "match-negative": ("search(match=[-1, -7, -1])", "ValueError", "match[1] = -7"),
    "match-names-a-call": ("search(**{**TWO, 'match': [-1, 2, 4, -1, -1]})", "ValueError", "match[1] = 2"),
    "match-backwards": ("search(kind=[0, 1, 0], match=[-1, -1, 1])", "ValueError", "match[2] = 1"),
    "return-with-a-match": ("search(match=[-1, 2, 1])", "ValueError", "match[2]"),
    "return-without-call": ("search(kind=[0, 1, 1], match=[-1, -1, -1]).run(100)", "ValueError", "return entries"),
    "second-call-of-an-operation": (
        "search(kind=[0, 0, 0, 1], opi=[0, 0, 0, 0], match=[-1, 3, -1, -1]).run(100)", "ValueError",
        "second call",
    ),
    "kind-two": ("search(kind=[0, 0, 2], match=[-1, -1, -1])", "ValueError", "kind[2] = 2"),
    "okey-out-of-range": ("search(okey=[10**9]).run(100)", "ValueError", "okey[0]"),
    "okey-negative": ("search(okey=[-1]).run(100)", "ValueError", "okey[0]"),
    "olane-out-of-range": ("search(olane=[10**9]).run(100)", "ValueError", "olane[0]"),
    "olane-negative": ("search(olane=[-1])", "ValueError", "olane[0]"),
    "olane-overlap": ("search(**{**TWO, 'olane': [0, 0]})", "ValueError", "open at once in one lane"),
    "olane-of-a-crashed-call": ("search(**{**CRASHED, 'olane': [0, 0, -1]})", "ValueError", "olane[1] = 0"),
    "oclass-of-a-completed-op": ("search(oclass=[0])", "ValueError", "oclass[0] = 0"),
    "oclass-missing": ("search(**{**CRASHED, 'oclass': [-1, 0, -1]})", "ValueError", "oclass[2] = -1"),
    "oclass-out-of-range": ("search(**{**CRASHED, 'oclass': [-1, 0, 10**6]}).run(100)", "ValueError", "oclass[2]"),
    "oclass-keys-differ": (
        "search(**{**CRASHED, 'okey': [0, 0, 1], 'nkeys': 2})", "ValueError", "the calls of a class share a key",
    ),
    "osym-out-of-range": ("search(osym=[10**6]).run(100)", "ValueError", "osym[0]"),
    "osym-negative": ("search(osym=[-1]).run(100)", "ValueError", "osym[0] = -1"),
    "oread-two": ("search(oread=[2])", "ValueError", "oread[0] = 2"),
    "target-a-call": ("search(target=1)", "ValueError", "target = 1"),
    "target-out-of-range": ("search(target=10**6).run(100)", "ValueError", "target"),
    "target-negative": ("search(target=-1)", "ValueError", "target = -1"),
    # the native kv step's arguments
    "kv-list": ("search(kv=list(KV))", "TypeError", "kv must be None or a tuple"),
    "kv-two-items": ("search(kv=KV[:2])", "TypeError", "kv must be None or a tuple"),
    "kv-codes-short": ("search(kv=([], [0], ['a']))", "ValueError", "kv codes"),
    "kv-codes-generator": ("search(kv=((c for c in [2]), [0], ['a']))", "TypeError", "kv codes"),
    "kv-code-unknown": ("search(kv=([9], [0], ['a']))", "ValueError", "kv codes[0] = 9"),
    "kv-text-out-of-range": ("search(kv=([2], [5], ['a'])).run(100)", "ValueError", "kv texts[0] = 5"),
    "kv-text-negative": ("search(kv=([2], [-1], ['a']))", "ValueError", "kv texts[0] = -1"),
    "kv-text-huge": ("search(kv=([2], [2**70], ['a']))", "OverflowError", "kv texts[0]"),
    "kv-string-bytes": ("search(kv=([2], [0], [b'a']))", "TypeError", "kv strings[0]"),
    "kv-string-surrogate": ("search(kv=([2], [0], ['\\ud800']))", "UnicodeEncodeError", ""),
    "kv-start-state": (  # a get reads the start state's string
        "search(init_sid=10**9, kv=([1], [0], ['a'])).run(100)", "ValueError", "init_sid = 1000000000",
    ),
    # methods of a search that is not (successfully) initialised
    "run-uninitialised": ("core.Search.__new__(core.Search).run(1)", "RuntimeError", "not initialised"),
    "witness-uninitialised": ("core.Search.__new__(core.Search).witness()", "RuntimeError", "not initialised"),
    "deepest-uninitialised": ("core.Search.__new__(core.Search).deepest()", "RuntimeError", "not initialised"),
    "longest-uninitialised": ("core.Search.__new__(core.Search).longest(100)", "RuntimeError", "not initialised"),
    "stats-uninitialised": ("core.Search.__new__(core.Search).stats()", "RuntimeError", "not initialised"),
    "run-after-failed-init": (
        "s = core.Search.__new__(core.Search)\n"
        "try:\n    s.__init__(*{**GOOD, 'okey': [5]}.values())\nexcept ValueError:\n    pass\n"
        "s.run(100)",
        "RuntimeError", "not initialised",
    ),
    # run's slice
    "run-zero": ("search().run(0)", "ValueError", "slice"),
    "run-negative": ("search().run(-5)", "ValueError", "slice"),
    "run-huge": ("search().run(2**70)", "OverflowError", ""),
    "run-str": ("search().run('1')", "TypeError", ""),
    "run-no-argument": ("search().run()", "TypeError", ""),
    # what the step callback returns
    "step-negative-id": ("search(step=lambda op, sid: [-1]).run(100)", "ValueError", "state id -1"),
    "step-id-past-int": ("search(step=lambda op, sid: [2**31]).run(100)", "OverflowError", "2**31 - 1"),
    "step-huge-id": ("search(step=lambda op, sid: [2**70]).run(100)", "OverflowError", "2**31 - 1"),
    "step-float-id": ("search(step=lambda op, sid: [0.0]).run(100)", "TypeError", "state ids are ints"),
    "step-str-id": ("search(step=lambda op, sid: ['0']).run(100)", "TypeError", "state ids are ints"),
    "step-returns-int": ("search(step=lambda op, sid: 5).run(100)", "TypeError", "list of state ids"),
    "step-returns-none": ("search(step=lambda op, sid: None).run(100)", "TypeError", "list of state ids"),
    "step-wrong-arity": ("search(step=lambda: [0]).run(100)", "TypeError", ""),
    "step-raises": ("search(step=lambda op, sid: 1 // 0).run(100)", "ZeroDivisionError", ""),
    "step-runs-its-search": (
        "box = []\ns = search(step=lambda op, sid: box[0].run(1))\nbox.append(s)\ns.run(100)",
        "RuntimeError", "its own step callback",
    ),
}

#: the calls that killed the interpreter before the core checked its arguments: SIGSEGV, and for
#: okey-negative SIGABRT ("free(): invalid next size": it wrote before its array). Many of the others
#: read or wrote out of bounds without dying, or passed silently. (olane was olocal then: each
#: operation's bit in its key's bitset.)
CRASHED_BEFORE = {
    "run-uninitialised", "width-huge", "opi-out-of-range", "opi-far-out-of-range", "match-out-of-range",
    "okey-out-of-range", "okey-negative", "olane-out-of-range", "kv-start-state",
}


@pytest.mark.parametrize("case", sorted(HOSTILE), ids=str)
def test_malformed_call_raises(case: str) -> None:
    body, exception, fragment = HOSTILE[case]
    printed = _in_child(body)
    assert printed.startswith(f"raised {exception} "), f"{case}: {printed}"
    assert fragment in printed, f"{case}: {printed}"


def test_crashing_cases_are_covered() -> None:
    assert set(HOSTILE) >= CRASHED_BEFORE


def test_the_well_formed_call_the_cases_break_runs() -> None:
    """The hostile cases change one argument of a search that is fine as it is (valid: status 1)."""
    printed = _in_child(
        "print(search().run(100), search(kv=KV).run(100), search(**TWO).run(100), search().witness(),\n"
        "      search(init_sid=3, step=lambda op, sid: [sid + 1]).run(100), search(**CRASHED).run(100),\n"
        "      search(**CRASHED, exact=True).run(100), search(target=2).run(100))"
    )
    assert printed.splitlines() == ["1 1 1 [] 1 1 1 1", "returned"]


def test_step_error_leaves_the_search_resumable() -> None:
    """A callback that raises (an interrupt, say) records nothing: the next run() asks again."""
    printed = _in_child(
        "calls = []\n"
        "def flaky(op, sid):\n"
        "    calls.append(op)\n"
        "    if len(calls) == 1:\n"
        "        raise KeyboardInterrupt\n"
        "    return [sid]\n"
        "s = search(step=flaky)\n"
        "try:\n    s.run(100)\nexcept KeyboardInterrupt:\n    pass\n"
        "print(s.run(100), s.witness(), s.stats()[1], calls)"
    )
    assert printed.splitlines() == ["1 [0] 1 [0, 0]", "returned"]


# -- budgets: "unknown", never a crash and never a MemoryError ----------------------------------------


def _run(gen: Any) -> Outcome:
    while True:
        try:
            next(gen)
        except StopIteration as done:
            outcome: Outcome = done.value
            return outcome


def _unreadable(n: int, kv: bool = False) -> History:
    """``n`` concurrent writes (kv: appends), then a read of a value no order of them gives."""
    f, read, key = ("append", "get", "k") if kv else ("write", "read", None)
    value = (lambda p: f"v{p}") if kv else (lambda p: p + 1)
    events = [Op(process=p, type="invoke", f=f, value=value(p), key=key) for p in range(n)]
    events += [Op(process=p, type="ok", f=f, value=value(p), key=key) for p in range(n)]
    events += [Op(process=n, type="invoke", f=read, value=None, key=key),
               Op(process=n, type="ok", f=read, value="none" if kv else -1, key=key)]
    return History.from_ops(events)


def _sequential(n: int) -> History:
    """``n`` writes, each read back, one after another: valid, with no backtracking at all."""
    events = []
    for i in range(n):
        for f in ("write", "read"):
            events += [Op(process=0, type="invoke", f=f, value=i if f == "write" else None),
                       Op(process=0, type="ok", f=f, value=i)]
    return History.from_ops(events)


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPLITBRAIN_PURE_PYTHON", raising=False)
    assert fast.available()


@pytest.mark.usefixtures("compiled")
def test_tiny_state_budget_gives_unknown_through_check() -> None:
    """400 concurrent writes: the search would take forever; 1,000 memo entries end it, as "unknown"."""
    result = check(_unreadable(400), "register", max_states=1000)
    assert result.valid == "unknown"
    assert "1,000 search states exhausted" in (result.reason or "")


@pytest.mark.usefixtures("compiled")
@pytest.mark.parametrize(("history", "model"), [
    (_sequential(3000), "register"), (_unreadable(400), "register"), (_unreadable(400, kv=True), "kv"),
])
def test_tiny_memory_budget_gives_unknown_through_check(
    monkeypatch: pytest.MonkeyPatch, history: History, model: str
) -> None:
    """A 32 KiB budget (16 KiB for the core) on 3,000 to 6,000 operations: even the valid history, which
    needs no memo at all, is "unknown", because the core's tables alone do not fit."""
    monkeypatch.setattr(search, "DEFAULT_MAX_BYTES", 1 << 15)
    result = check(history, model)
    assert result.valid == "unknown"
    assert result.reason is not None and "MiB exhausted" in result.reason
    assert "model states" not in result.reason  # the core's own budget, not the Python side's


@pytest.mark.parametrize(("history", "model", "expected"), [
    (_unreadable(9), "cas-register", False),  # memo, transitions, pool, candidates, snapshots
    (_unreadable(7, kv=True), "kv", False),  # the same with the interned strings
    (History.from_ops([Op(process=p % 3, type=t, f="append", value=f"{p}", key="k")
                       for p in range(60) for t in ("invoke", "ok")]), "kv", True),  # a long valid search
])
def test_every_byte_budget_gives_the_verdict_or_unknown(history: History, model: str, expected: bool) -> None:
    """From 256 bytes to 64 MiB, on both ways of stepping the model and with and without the longest
    prefixes: each budget gives the verdict or "unknown" (with its reason), the smallest "unknown" and
    the largest the verdict."""
    m = get_model(model)
    ops = prepare(history, m)
    for native in (True, False):
        for track in (True, False):
            verdicts = []
            for shift in range(8, 27, 2):
                budget = Budget(None, None, 1 << shift)
                got = _run(fast.searcher(ops, m, budget, track, native=native))
                assert got.valid in (expected, "unknown"), (native, track, shift)
                assert (got.valid == "unknown") == (budget.reason is not None), (native, track, shift)
                verdicts.append(got.valid)
            assert verdicts[0] == "unknown" and verdicts[-1] is expected, (native, track, verdicts)
