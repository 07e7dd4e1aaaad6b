"""From guarded calls to breaker actions: the history the ``circuit-breaker`` model is checked against.

A client of the ``circuit-breaker`` workload sees one operation per guarded call, but the breaker acts
twice during it — admitting the call, then recording its outcome — with other callers acting in between.
So the thread that served the call reports both actions in its reply, each stamped by the node with a
counter read just before the breaker method was entered and just after it returned:

``{"decision": "probe", "generation": 3, "at": 41, "acquire": [1, 17, 18],
"outcome": "ok", "effect": "closed", "recorded_at": 45, "record": [1, 25, 26]}``

(``[incarnation, before, after]``; ``outcome``, ``effect``, ``recorded_at`` and ``record`` only for
admitted calls; a rejected call fails, with the report of its ``acquire`` as its error). The counter is
the node's and only one controlled thread runs at a time, so "B's stamp before > A's stamp after" means
A's action finished before B's began: the stamps give each action a real-time interval, as a client's
invoke and completion do for an operation, and the interval contains the action's critical section.
:func:`breaker_actions` turns the calls into one ``acquire`` and one ``record`` operation per call,
ordered by those stamps, ready for the linearizability checker.

A call that completed ``info`` (a client timeout, or its node crashed) may have done either action or
none: it becomes an ``acquire`` and a ``record`` with unknown inputs and outputs, invoked after every
action of the calls that had completed before it was invoked, and never completed. A crash rebuilds
the breaker from scratch: before the first action of each incarnation after the first comes a
``restart``, which the model reads as a fresh breaker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splitbrain.errors import InvalidHistory
from splitbrain.histories import History, Op

Key = tuple[float, float]


def breaker_actions(history: History) -> History:
    """The ``acquire`` / ``record`` / ``restart`` history of the guarded calls in ``history``."""
    events: list[tuple[Key, int, Op]] = []
    floor: Key = (0, 0)  # the last action stamp of every call completed so far
    floors: dict[Any, Key] = {}  # process -> floor when its open call was invoked
    incarnations: set[float] = set()

    def add(key: Key, op: Op) -> None:
        events.append((key, len(events), op))

    for op in history.ops:
        if op.is_nemesis or op.f != "call":
            continue
        if op.type == "invoke":
            floors[op.process] = floor
        elif op.type == "ok":
            floors.pop(op.process, None)
            last = _call_actions(op, add, op.value)
            incarnations.add(last[0])
            floor = max(floor, last)
        elif op.type == "info":
            _unknown_actions(op.process, floors.pop(op.process), add)
        else:  # fail: the call never reached the backend; when the breaker rejected it, say so
            floors.pop(op.process, None)
            if isinstance(op.error, Mapping):
                last = _call_actions(op, add, op.error)
                incarnations.add(last[0])
                floor = max(floor, last)
    for process, at in floors.items():  # invoked, never completed: unknown, like info
        _unknown_actions(process, at, add)
    for incarnation in sorted(incarnations):
        if incarnation > 1:
            process = f"restart-{incarnation:g}"
            add((incarnation, -2), Op(process=process, type="invoke", f="restart"))
            add((incarnation, -1), Op(process=process, type="ok", f="restart"))
    events.sort(key=lambda e: (e[0], e[1]))
    return History.from_ops([op for _, _, op in events], source=f"{history.source or 'history'} (breaker actions)")


def _call_actions(op: Op, add: Any, value: Any) -> Key:
    """Add the actions ``value`` reports for a completed call; return the stamp after its last one."""
    if not isinstance(value, Mapping) or not {"decision", "generation", "at", "acquire"} <= set(value):
        raise InvalidHistory(
            f"call by process {op.process} (event {op.index}) returned {value!r}; expected the breaker actions "
            "the workload's node reports ({'decision': ..., 'generation': ..., 'at': ..., 'acquire': [...]})"
        )
    p = op.process
    inc, before, after = _stamps(op, value["acquire"])
    add((inc, before), Op(process=p, type="invoke", f="acquire", value=value["at"]))
    add((inc, after), Op(process=p, type="ok", f="acquire", value=(value["decision"], value["generation"])))
    if "record" not in value:
        return (inc, after)
    inc, before, after = _stamps(op, value["record"])
    permit = (value["decision"], value["generation"], value["outcome"], value["recorded_at"])
    add((inc, before), Op(process=p, type="invoke", f="record", value=permit))
    add((inc, after), Op(process=p, type="ok", f="record", value=value["effect"]))
    return (inc, after)


def _unknown_actions(process: Any, floor: Key, add: Any) -> None:
    at = (floor[0], floor[1] + 0.5)
    add(at, Op(process=process, type="invoke", f="acquire", value=None))
    add(at, Op(process=f"{process}.record", type="invoke", f="record", value=None))


def _stamps(op: Op, stamps: Any) -> tuple[float, float, float]:
    try:
        inc, before, after = (float(s) for s in stamps)
    except (TypeError, ValueError):
        raise InvalidHistory(
            f"call by process {op.process} (event {op.index}) has stamps {stamps!r}; expected "
            "[incarnation before after]"
        ) from None
    return inc, before, after
