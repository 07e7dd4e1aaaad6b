"""Checking a live run's history: per key for registers, by dependency cycles for transactions, and
*when* the first violation happened relative to the faults.

A keyed register history is checked one key at a time (each key is an independent register: Horn &
Kroening's P-compositionality, Jepsen's ``independent/checker``), so the verdict is reported per key and
the overall result is the first failing key's (the one whose violation completed earliest), with its
counterexample; the report then draws that key's timeline. Transactions go to the Elle-style checker
(:func:`~splitbrain.checker.transactions.check_transactions`) at the target's consistency model.

"The first violation" is the time of the event that made the history invalid: the completion of the
operation a linearizability counterexample cannot place, or the last event of a transaction cycle
(the cycle exists once all its transactions have completed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from splitbrain.checker.anomaly import AnomalyResult
from splitbrain.checker.result import CheckResult, Result, SearchStats
from splitbrain.histories.history import History

__all__ = ["Verdicts", "check_run", "first_fault_ns"]


@dataclass
class Verdicts:
    """The overall result, the verdict of every key (register runs), and when the first violation was
    recorded (monotonic ns; ``None`` when valid or unknown)."""

    result: Result
    keys: dict[Any, Any] = field(default_factory=dict)
    violation_ns: int | None = None
    failing_key: Any = None
    history: History | None = None  # the failing key's sub-history, for the report


def check_run(history: History, *, workload: str, model: Any, consistency: str, keyed: bool,
              timeout: float | None, max_states: int | None) -> Verdicts:
    if workload == "append":
        return _check_txn(history, consistency, timeout)
    if not keyed:
        return _check_register(history, model, timeout, max_states)
    deadline = None if timeout is None else time.monotonic() + timeout
    verdicts = Verdicts(result=CheckResult(valid=True, model=str(model), operations=0))
    found: list[tuple[int, Any, CheckResult, History]] = []
    unknown: CheckResult | None = None
    operations = 0
    totals = {"partitions": 0, "states": 0, "steps": 0, "backtracks": 0, "seconds": 0.0}
    for key, sub in history.by_key().items():
        if not any(op.status != "fail" for op in sub.operations):
            continue  # nothing on this key may have taken effect
        left = None if deadline is None else max(0.01, deadline - time.monotonic())
        one = _check_register(sub, model, left, max_states)
        result = one.result
        assert isinstance(result, CheckResult)
        verdicts.keys[key] = result.valid
        operations += result.operations
        for name in totals:
            totals[name] += getattr(result.stats, name)
        if result.valid is False:
            found.append((one.violation_ns or 0, key, result, sub))
        elif result.valid != True and unknown is None:  # noqa: E712 - valid is True | False | "unknown"
            unknown = result
    if found:
        ns, key, result, sub = min(found, key=lambda f: f[0])
        verdicts.result, verdicts.violation_ns, verdicts.failing_key, verdicts.history = result, ns, key, sub
    elif unknown is not None:
        verdicts.result = unknown
    elif operations == 0:
        verdicts.result = CheckResult(valid="unknown", model=str(model), operations=0,
                                      reason="nothing to check: no operation may have taken effect")
    else:
        stats = SearchStats(**totals)  # type: ignore[arg-type]
        verdicts.result = CheckResult(valid=True, model=str(model), operations=operations, stats=stats,
                                      source=history.source)
    return verdicts


def _check_register(history: History, model: Any, timeout: float | None, max_states: int | None) -> Verdicts:
    from splitbrain.checker.linearizability import check_linearizability

    result = check_linearizability(history, model, timeout=timeout, max_states=max_states)
    if result.valid is True and not any(op.status != "fail" for op in history.operations):
        result = CheckResult(valid="unknown", model=result.model, operations=0, source=history.source,
                             reason="nothing to check: no operation may have taken effect")
    verdicts = Verdicts(result=result, history=history)
    cx = result.counterexample
    if result.valid is False and cx is not None:
        ops = [cx.blocked] if cx.blocked is not None else list(cx.operations)
        times = [(op.completion or op.invoke).time for op in ops]
        verdicts.violation_ns = max((t for t in times if t is not None), default=None)
    return verdicts


def _check_txn(history: History, consistency: str, timeout: float | None) -> Verdicts:
    from splitbrain.checker.transactions import check_transactions

    result: AnomalyResult = check_transactions(history, consistency, timeout=timeout)
    verdicts = Verdicts(result=result, history=history)
    moments = []
    for anomaly in result.anomalies:
        times = [history.ops[i].time for i in anomaly.events if 0 <= i < len(history.ops)]
        known = [t for t in times if t is not None]
        if known:
            moments.append(max(known))
    verdicts.violation_ns = min(moments) if moments else None
    return verdicts


def first_fault_ns(history: History) -> int | None:
    """When the first fault started (monotonic ns), or None."""
    return next((op.time for op in history.faults if op.f.startswith("start-")), None)
