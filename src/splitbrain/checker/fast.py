"""The compiled path: the search of :mod:`splitbrain.checker.search` run by a C core over integers.

The core (``_fastcore.c``, built by ``setup.py`` when a compiler is present) never sees a model state:
this module numbers the states it meets (interning: equal states get one id) and hands the core a
callback ``step(op, state id) -> successor ids``, which the core calls only the first time it meets an
(operation, state id) pair and then keeps in its own table. So any model with hashable states, built-in
or a user's, runs on the fast path; the model's own ``step`` is the only Python code in the loop, and
it is called a few hundred times where the search takes hundreds of thousands of steps.

One model is stepped by the core itself: the built-in ``kv`` (``_kvstep.h``), one key at a time. Its
states are strings that grow with every append, so on a history of many concurrent appends nearly every
(operation, state) pair is new — c50-ok meets 600,000 of them, and a Python call for each cost the
whole check's time. Here each operation is encoded once, as what it does (get, put, append) and its
value; the core interns the strings and steps over their ids. Only the exact built-in class qualifies
(a subclass that overrides ``step``/``init`` gets the callback), and only when every value is a string
or nil, so the native step is the Python one, state for state.

The core visits exactly the configurations the reference (:mod:`splitbrain.checker.search`) visits, in
the same order — the same candidates, crash sequences and memo — so it gives the same verdict, witness
and counterexample; with ``independence_key``, the per-key reduction of
:mod:`splitbrain.checker.reduced` as well. Both read the history through one
:class:`~splitbrain.checker.layout.Layout`, and :func:`~splitbrain.checker.search.phases` runs the
relaxed and exact searches on either engine.

The pure-Python searches stay the reference and the fallback: ``available()`` is false when the
extension is missing or ``SPLITBRAIN_PURE_PYTHON=1`` is set.

The core checks every argument this module hands it (and each id ``step`` returns), so a bug here is a
Python exception, not a crash; its budgets are clamped to what it accepts (:func:`_core_count`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

from splitbrain.checker.layout import Layout, layout
from splitbrain.checker.prefixes import LONGEST_CAP
from splitbrain.checker.reduced import replay
from splitbrain.checker.search import TOO_MANY_SEQUENCES, Budget, Outcome, phases
from splitbrain.histories.history import UNKNOWN, Operation
from splitbrain.models.kv import KV

try:
    from splitbrain.checker import _fastcore  # type: ignore[attr-defined]
except ImportError:  # no compiler when installed: the pure-Python search does the work
    _fastcore = None

__all__ = [
    "available",
    "kv_encoding",
    "searcher",
]


_RUNNING, _VALID, _INVALID, _OVER_STATES, _OVER_BYTES, _OVER_SEQUENCES = range(6)
#: backtracks the core runs between looks at the clock (and turns between partitions): about a millisecond
_SLICE = 1 << 14
#: what one interned state costs the Python side, roughly (the state object, its dict and list slots)
_BYTES_PER_STATE = 300
#: how the native kv step reads each operation (the codes of ``_kvstep.h``)
_KV_GET_ANY, _KV_GET, _KV_PUT, _KV_APPEND, _KV_ILLEGAL = range(5)


class _TooManyStates(Exception):
    """Raised from the step callback when the interned states outgrow the memory budget."""


def _core_count(n: int) -> int:
    """A budget as the core takes it, 0 to 2**64 - 1 (it rejects anything else): a negative budget is
    already spent, and one past 2**64 bytes or states is no limit at all."""
    return min(max(n, 0), 2**64 - 1)


def available() -> bool:
    """True when the compiled core is importable and not disabled by ``SPLITBRAIN_PURE_PYTHON``."""
    return _fastcore is not None and os.environ.get("SPLITBRAIN_PURE_PYTHON", "") in ("", "0")


def kv_encoding(
    ops: Sequence[Operation], model: Any, key_of: Callable[[Operation], Any] | None
) -> tuple[list[int], list[int], list[str]] | None:
    """For the core's native kv step: what each operation does, the index of its value among the
    distinct values, and those values; ``None`` when the model or the history does not qualify (then the
    model's own ``step`` is called back)."""
    cls = type(model)
    if not (isinstance(model, KV) and cls.step is KV.step and cls.init is KV.init and model.init() == ()):
        return None  # a subclass's own step, or a store that does not start empty: the Python model
    if key_of is None:  # the search sees whole states: native only when they hold one key
        if len({op.key for op in ops}) > 1:
            return None
    elif cls.independence_key is not KV.independence_key or key_of != model.independence_key:
        return None  # each key's part of the state is one string only when the parts are keys
    codes: list[int] = []
    texts: list[int] = []
    distinct: dict[str, int] = {}
    for op in ops:
        f = op.f
        if f == "get":
            value, code = op.output, _KV_GET
            if value is UNKNOWN:
                value, code = "", _KV_GET_ANY
        elif f == "put" or f == "append":
            value, code = op.input, (_KV_PUT if f == "put" else _KV_APPEND)
        else:
            value, code = "", _KV_ILLEGAL
        if value is None:
            value = ""
        index = distinct.get(value) if type(value) is str else None
        if index is None:
            if type(value) is not str:
                return None  # numbers, lists, ...: the Python model's own equality and concatenation
            if not value.isascii():
                try:
                    value.encode("utf-8")  # the core keeps UTF-8; a lone surrogate has none
                except UnicodeEncodeError:
                    return None
            index = distinct[value] = len(distinct)
        codes.append(code)
        texts.append(index)
    return codes, texts, list(distinct)


def searcher(
    ops: Sequence[Operation],
    model: Any,
    budget: Budget,
    track_longest: bool,
    key_of: Callable[[Operation], Any] | None = None,
    native: bool = True,
) -> Generator[None, None, Outcome]:
    """Search ``ops`` in the compiled core; a generator like the pure searches (yields between slices).

    ``native=False`` calls the model's ``step`` back even for the built-in kv model (for tests)."""
    assert _fastcore is not None
    lay = layout(ops, model, key_of)
    # states are interned once for every search of the check (relaxed, exact, prefix): ids stay valid
    states: list[Any] = [model.init()]
    index: dict[Any, int] = {states[0]: 0}
    model_step = model.step
    max_interned = max(1, budget.max_bytes // 2 // _BYTES_PER_STATE)

    def step(i: int, sid: int) -> list[int]:
        ids = []
        for s in model_step(states[sid], ops[i]):
            j = index.get(s)
            if j is None:
                j = index[s] = len(states)
                states.append(s)
                if j > max_interned:
                    raise _TooManyStates
            ids.append(j)
        return ids

    encoded = kv_encoding(ops, model, key_of) if native else None

    def engine(exact: bool, target: int, budget: Budget, spent: int) -> Generator[None, None, Outcome]:
        return _run(lay, ops, model, budget, track_longest, exact, target, spent, step, states, encoded, key_of)

    return (yield from phases(engine, lay, budget))


def _run(
    lay: Layout, ops: Sequence[Operation], model: Any, budget: Budget, track: bool, exact: bool, target: int,
    spent: int, step: Callable[[int, int], list[int]], states: list[Any], encoded: Any,
    key_of: Callable[[Operation], Any] | None,
) -> Generator[None, None, Outcome]:
    """One search of the core (see :func:`splitbrain.checker.search._search` for the arguments)."""
    assert _fastcore is not None
    out = Outcome()
    core = _fastcore.Search(
        lay.kind, lay.opi, lay.match, lay.okey, lay.olane, lay.oclass, lay.osym, lay.oread, lay.nkeys, lay.width,
        step, 0,
        _core_count(budget.max_states - spent), _core_count(budget.max_bytes // 2), track, exact, target, encoded,
    )
    deadline = budget.deadline
    status = _RUNNING
    while True:
        try:
            status = core.run(_SLICE)
        except _TooManyStates:
            budget.reason = budget.out_of_memory("model states")
            break
        if status != _RUNNING:
            break
        if deadline is not None and time.monotonic() > deadline:
            budget.reason = "timed out"
            break
        yield
    out.deepest, out.blocked, sid, out.culprit = core.deepest()
    if out.blocked is not None:
        if key_of is None and encoded is None:
            out.deepest_state = states[sid]
        else:  # kv is deterministic: replaying the prefix gives exactly the state the search held
            out.deepest_state = replay(model, [ops[i] for i in out.deepest])
    out.states, out.steps, out.backtracks, _, over = core.stats()
    if status == _VALID:
        out.valid = True
        out.witness = core.witness()
        out.realized = over == 0
    elif status == _INVALID:
        out.valid = False
        if track:
            out.longest = core.longest(LONGEST_CAP)
    elif status == _OVER_STATES:
        budget.reason = f"memory budget of {budget.max_states:,} search states exhausted"
    elif status == _OVER_BYTES:
        budget.reason = budget.out_of_memory()
    elif status == _OVER_SEQUENCES:
        budget.reason = TOO_MANY_SEQUENCES
    return out
