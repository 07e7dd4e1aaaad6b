"""The history timeline: the data the HTML view draws from a :class:`History` and its :class:`CheckResult`.

One lane per process; each operation a bar from its invoke to its completion (an ``info`` operation's bar
runs open to the end: it may take effect at any later point), coloured by outcome. Times are the events'
``time`` when every event has one, else their index in the history. For a valid history each operation
carries its place in the witness linearization; for an invalid one, its longest linearizable prefix
(``Counterexample.longest``, after Porcupine's visualizer) and the operation that cannot be placed. The
model states before and after each operation are computed here by replaying the model's ``step`` along
that order (a set of states, so nondeterministic models are followed exactly).

Replaying every prefix separately would be quadratic, so distinct prefixes are replayed in sorted order,
each resuming from the longest common prefix with the one before, under a step budget; operations past the
budget say their states were not computed rather than slowing the report down.

Times are stored relative to the first event (``origin`` keeps the raw value): a monotonic clock reads
trillions of nanoseconds, which say nothing to a reader and lose digits as JavaScript numbers. ``unit``
says how to read them: ``"ns"`` (a real clock — the axis shows s, ms or µs), ``"tick"`` (simulated time)
or ``"event"`` (no times: positions in the history). Values, errors and model states are shown whole up
to a few kilobytes, then cut with a marker giving their size (see :mod:`splitbrain.report.text`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from splitbrain.checker.result import CheckResult, Result, verdict_word
from splitbrain.errors import UsageError
from splitbrain.histories.history import UNKNOWN, History, Operation
from splitbrain.histories.op import Op
from splitbrain.report.text import clip, short, show, text_lines

__all__ = [
    "MAX_STATES",
    "NS_FROM",
    "REPLAY_BUDGET",
    "STATE_LIMIT",
    "TIME_UNITS",
    "build_timeline",
    "fault_periods",
    "time_unit",
]


#: most model states followed at once in a nondeterministic replay
MAX_STATES = 32
#: model steps spent replaying prefixes for one report, at most
REPLAY_BUDGET = 400_000
#: characters of one model state shown (each operation carries the states before and after it, so a
#: history of 10,000 operations over a large state must not embed 10,000 large texts)
STATE_LIMIT = 1000
#: the units a timeline's times can be in
TIME_UNITS = ("ns", "tick", "event")
#: times at least this large are taken for nanoseconds: 0.1 s of a real clock, far beyond any simulated
#: run's ticks (``time.monotonic_ns()`` is already past it a tenth of a second after boot)
NS_FROM = 100_000_000
#: characters of an operation's one-line label (drawn on its bar; the panel shows the whole values)
_LABEL = 160

_FAULT_START = {"partition", "oneway", "bridge", "start", "crash", "kill", "pause", "start-partition", "isolate"}
_FAULT_STOP = {"heal", "stop", "restart", "resume", "stop-partition"}
_NODE_FAULTS = {"crash": "restart", "kill": "restart", "pause": "resume"}


def build_timeline(
    history: History,
    result: Result | None,
    *,
    model: Any = None,
    faults: Sequence[dict[str, Any]] | None = None,
    title: str | None = None,
    unit: str | None = None,
) -> dict[str, Any]:
    """The JSON-able data of a timeline page (see the module docstring for what it holds).

    ``unit`` (``"ns"`` or ``"tick"``) says what the events' times count; by default it is guessed from
    their size (:func:`time_unit`). Without a time on every event, positions in the history are used.
    ``result`` may come from any checker: a linearizability :class:`CheckResult` adds its witness or
    counterexample; any other shows its verdict and explanation over the history.
    """
    use_time = bool(history.ops) and all(op.time is not None for op in history.ops)
    at = _clock(use_time)
    operations = history.operations
    lanes = _lanes(operations)
    lane_of = {p: i for i, p in enumerate(lanes)}
    t1 = max((at(op) for op in history.ops), default=0)
    t0 = min((at(op) for op in history.ops), default=0)

    def rel(op: Op) -> int:
        return at(op) - t0

    ops: list[dict[str, Any]] = []
    for o in operations:
        entry: dict[str, Any] = {
            "i": o.id, "l": lane_of[o.process], "s": rel(o.invoke),
            "e": None if o.completion is None or o.status == "info" else rel(o.completion),
            "st": o.status, "d": _label(o), "f": o.f, "in": show(o.input),
            "out": None if o.output is UNKNOWN else show(o.output),
            "ev": [o.call, o.ret if o.ret is not None else (o.completion.index if o.completion else None)],
        }
        node = (o.completion.node if o.completion is not None else None) or o.invoke.node
        if node is not None:
            entry["node"] = _text(node)
        error = o.completion.error if o.completion is not None and o.completion.error is not None else o.invoke.error
        if error is not None:
            entry["err"] = _text(error)
        ops.append(entry)
    periods = fault_periods(history.ops, rel, t1 - t0) if faults is None else [
        {**f, "s": f["s"] - t0, "e": f["e"] - t0} for f in faults
    ]
    data: dict[str, Any] = {
        "kind": "timeline",
        "title": title or (history.source or "history"),
        "unit": time_unit([t0, t1], unit) if use_time else "event",
        "origin": t0, "span": max(t1 - t0, 1),
        "lanes": [f"p{p}" if isinstance(p, int) else str(p) for p in lanes],
        "ops": ops,
        "faults": periods,
        "valid": None, "verdict": "not checked", "model": None, "explain": [], "blocked": None,
        "prefixes": [], "main": None, "counts": _counts(operations),
    }
    if result is None:
        return data
    data.update(valid=result.valid, verdict=str(getattr(result, "verdict", verdict_word(result.valid))),
                model=getattr(result, "model", None), explain=text_lines(result.explain(20)))
    if not isinstance(result, CheckResult):
        return data
    resolved = _model(model if model is not None else result.model)
    if result.valid is True and result.witness is not None:
        _add_orders(data, result.witness, resolved, operations, main=0)
    elif result.counterexample is not None:
        cx = result.counterexample
        members = {o.id for o in cx.operations}
        for op in ops:
            if op["i"] not in members:
                op["x"] = 1  # outside the failing sub-history (another key)
        groups: dict[tuple[int, ...], None] = {tuple(o.id for o in cx.prefix): None}
        for ids in cx.longest.values():
            groups.setdefault(tuple(ids), None)
        by_id = {o.id: o for o in operations}
        orders = [[by_id[i] for i in ids if i in by_id] for ids in groups]
        _add_orders(data, orders, resolved, operations, main=0, longest=cx.longest)
        if cx.blocked is not None:
            data["blocked"] = cx.blocked.id
            blocked = ops[cx.blocked.id]
            blocked["b"] = clip(str(cx.state), STATE_LIMIT)
            # refuted before any search: no prefix to step through, and the reason says why
            blocked["a"] = cx.reason if cx.reason is not None else _blocked_after(resolved, orders[0], cx.blocked)
            blocked["p"] = 0
        data["state"] = clip(str(cx.state), STATE_LIMIT)
        data["partition"] = None if cx.partition is None else short(cx.partition)
    return data


def time_unit(times: Sequence[int], unit: str | None = None) -> str:
    """``unit`` when given (checked), else ``"ns"`` when the times are as large as a real clock's
    nanoseconds (:data:`NS_FROM`) and ``"tick"`` otherwise (a simulated history)."""
    if unit is not None:
        if unit not in TIME_UNITS[:2]:
            raise UsageError(f"a timeline's time unit is 'ns' (a real clock) or 'tick' (simulated), not {unit!r}")
        return unit
    return "ns" if max((abs(t) for t in times), default=0) >= NS_FROM else "tick"


def _text(value: Any) -> str:
    """A node name or an error message as shown: text as it is, anything else rendered (both cut)."""
    return clip(value) if isinstance(value, str) else show(value)


def _label(o: Operation) -> str:
    """``Operation.describe()``, built from bounded renderings so that a huge value costs a few
    characters (``describe()`` itself would render the whole value first)."""
    key = "" if o.key is None else " " + show(o.key, 40)
    out = "?" if o.output is UNKNOWN else show(o.output, 60)
    return clip(f"p{o.process} {o.f}{key} {show(o.input, 60)} -> {out}", _LABEL)


def _clock(use_time: bool) -> Any:
    if use_time:
        return lambda op: op.time
    return lambda op: op.index


def _lanes(operations: Sequence[Operation]) -> list[int | str]:
    seen: dict[int | str, None] = {}
    for o in operations:
        seen.setdefault(o.process, None)
    return sorted(seen, key=lambda p: (isinstance(p, str), p if isinstance(p, int) else 0, str(p)))


def _counts(operations: Sequence[Operation]) -> dict[str, int]:
    counts = {"ok": 0, "fail": 0, "info": 0}
    for o in operations:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts


def fault_periods(events: Iterable[Op], at: Any, end: int) -> list[dict[str, Any]]:
    """Shaded periods from the history's ``nemesis`` events: a partition until the heal, a crash until
    the restart, a pause until the resume (per node); a fault never ended runs to ``end``. Instant
    faults (clock skew, anything unrecognised) become zero-length marks."""
    periods: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}
    for op in events:
        if not op.is_nemesis:
            continue
        f, t = op.f, at(op)
        node = op.value if isinstance(op.value, str) else None
        label = f if op.value is None else f"{f} {short(op.value, 80)}"
        if f in _NODE_FAULTS and node is not None:
            key = f"{f}:{node}"
            open_.setdefault(key, {"kind": f, "s": t, "e": None, "label": label, "node": node})
        elif f in _FAULT_START:
            open_.setdefault("net", {"kind": f, "s": t, "e": None, "label": label})
        elif f in _FAULT_STOP:
            keys = ["net"] if node is None or f not in _NODE_FAULTS.values() else [
                k for k in open_ if k.endswith(f":{node}")
            ]
            if f in ("stop", "heal") and node is None:
                keys = list(open_)
            for key in keys:
                period = open_.pop(key, None)
                if period is not None:
                    period["e"] = t
                    periods.append(period)
        else:
            periods.append({"kind": f, "s": t, "e": t, "label": label})
    for period in open_.values():
        period["e"] = end
        periods.append(period)
    periods.sort(key=lambda p: (p["s"], p["e"]))
    return periods


def _model(spec: Any) -> Any:
    if spec is None:
        return None
    try:
        from splitbrain.models import get_model

        return get_model(spec)
    except Exception:  # a report must not fail because the model is not importable here
        return None


def _describe(model: Any, states: Iterable[Any]) -> str:
    describe = getattr(model, "describe_state", None)
    # without describe_state the state is rendered by show(), which stops at the limit; a model's own
    # description is whatever text it returns, cut here
    texts = [clip(str(describe(s)), STATE_LIMIT) if describe else show(s, STATE_LIMIT) for s in states]
    if not texts:
        return "(no legal state)"
    return texts[0] if len(texts) == 1 else clip("one of: " + " | ".join(texts), STATE_LIMIT)


def _step_all(model: Any, states: Sequence[Any], op: Operation) -> list[Any]:
    after: dict[Any, None] = {}
    for state in states:
        for nxt in model.step(state, op):
            after.setdefault(nxt, None)
            if len(after) >= MAX_STATES:
                return list(after)
    return list(after)


def _add_orders(
    data: dict[str, Any],
    orders: Sequence[Sequence[Operation]],
    model: Any,
    operations: Sequence[Operation],
    *,
    main: int | None,
    longest: dict[int, list[int]] | None = None,
) -> None:
    """Record each order (a witness part or a prefix) and, per operation, the order it is drawn with,
    its position there and the model states before and after it."""
    ops = data["ops"]
    data["prefixes"] = [[o.id for o in order] for order in orders]
    data["main"] = main
    states_of = _replay_orders(model, orders) if model is not None else {}
    place: dict[int, tuple[int, int]] = {}
    for g, order in enumerate(orders):
        for pos, o in enumerate(order):
            place.setdefault(o.id, (g, pos))  # the witness part, or the main prefix, as a default
    if longest is not None:
        index = {tuple(p): g for g, p in enumerate(data["prefixes"])}
        for oid, ids in longest.items():
            found = index.get(tuple(ids))
            if found is not None and oid in ids:
                place[oid] = (found, ids.index(oid))
    for oid, (g, pos) in place.items():
        if 0 <= oid < len(ops):
            op = ops[oid]
            op["p"], op["o"] = g, pos
            if (g, pos) in states_of:
                op["b"], op["a"] = states_of[g, pos]
    data["lp"] = [_linearization_points(order, ops) for order in orders]


def _replay_orders(model: Any, orders: Sequence[Sequence[Operation]]) -> dict[tuple[int, int], tuple[str, str]]:
    """States before/after each position of each order, reusing the common prefix of consecutive orders."""
    out: dict[tuple[int, int], tuple[str, str]] = {}
    budget = REPLAY_BUDGET
    ranked = sorted(range(len(orders)), key=lambda g: [o.id for o in orders[g]])
    prev: list[Operation] = []
    stack: list[list[Any]] = []  # stack[k] = states after the first k operations of prev
    texts: list[str] = []
    for g in ranked:
        order = list(orders[g])
        common = 0
        while common < min(len(prev), len(order)) and prev[common].id == order[common].id:
            common += 1
        if not stack:
            stack, texts = [[model.init()]], [_describe(model, [model.init()])]
        del stack[common + 1:], texts[common + 1:]
        for k, o in enumerate(order):
            if k >= common:
                if budget <= 0:
                    break
                budget -= max(1, len(stack[k]))
                nxt = _step_all(model, stack[k], o) if stack[k] else []
                stack.append(nxt)
                texts.append(_describe(model, nxt))
            out[g, k] = (texts[k], texts[k + 1])
        prev = order[: len(stack) - 1]
    return out


def _blocked_after(model: Any, prefix: Sequence[Operation], blocked: Operation) -> str:
    if model is None:
        return "cannot be placed after this prefix"
    states: list[Any] = [model.init()]
    for o in prefix[:50_000]:
        states = _step_all(model, states, o)
    nxt = _step_all(model, states, blocked) if states else []
    if not nxt:
        return "no legal state: the model rejects this operation here"
    return _describe(model, nxt) + " (but an operation that must come first is still pending)"


def _linearization_points(order: Sequence[Operation], ops: list[dict[str, Any]]) -> list[float]:
    """An instant inside each operation's interval, non-decreasing along ``order`` (earliest-first greedy,
    which succeeds whenever the order respects real time)."""
    points: list[float] = []
    last = float("-inf")
    for o in order:
        op = ops[o.id]
        t = max(float(op["s"]), last)
        if op["e"] is not None:
            t = min(t, float(op["e"]))
        points.append(t)
        last = t
    return points
