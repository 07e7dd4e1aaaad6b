"""What a check returns: a verdict that can be ``unknown``, an explanation, and the data behind it.

Following Porcupine, a verdict is one of three: valid, invalid, or unknown (the search ran out of time or
memory). Unknown is never reported as a pass. Every checker's result has the shape :class:`Result`
describes — ``valid``, ``explain()``, ``to_json()`` — whatever else it carries: :class:`CheckResult`
(linearizability: a witness or a counterexample), :class:`~splitbrain.checker.anomaly.AnomalyResult`
(causality and transactions: named anomalies) and :class:`PropertyResult` (a property of the history,
such as a rate limit, with its explanation).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from splitbrain.histories.history import Operation

__all__ = ["CheckResult", "Counterexample", "PropertyResult", "Result", "SearchStats", "Verdict", "verdict_word"]

Verdict = bool | Literal["unknown"]


@runtime_checkable
class Result(Protocol):
    """What every checker returns: ``valid`` (``True``, ``False`` or ``"unknown"``), a human explanation,
    and a JSON-able object (what ``splitbrain check --json`` prints)."""

    @property
    def valid(self) -> Verdict: ...

    def explain(self, limit: int = ...) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


def verdict_word(valid: Any) -> str:
    """``"valid"``, ``"invalid"`` or ``"unknown"``."""
    return "valid" if valid is True else "invalid" if valid is False else "unknown"


@dataclass(frozen=True, kw_only=True)
class PropertyResult:
    """The verdict of a property of a whole history (a rate limit, a workload's own check) and why.

    It also unpacks as ``(valid, explanation)``, the pair a workload's ``history_checks`` may return.
    """

    valid: Verdict
    explanation: str
    checker: str = "property"
    source: str | None = None

    def __bool__(self) -> bool:
        raise TypeError("a result is not a bool because it can be 'unknown': test `result.valid is True`")

    def __iter__(self) -> Iterator[Any]:
        yield self.valid
        yield self.explanation

    def explain(self, limit: int = 12) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{verdict_word(self.valid)} ({self.checker}): {self.explanation}"

    def to_json(self) -> dict[str, Any]:
        return {"file": self.source, "valid": self.valid, "checker": self.checker, "explanation": self.explanation}


@dataclass(frozen=True)
class Counterexample:
    """Why a sub-history cannot be linearized.

    ``operations`` is the failing sub-history (one partition, e.g. one key); ``prefix`` is the longest
    linearization the search reached, ``state`` the model state after it (described), and ``blocked`` the
    operation whose completion came before it could be placed: every order of the pending operations
    fails at this point. ``longest`` maps each operation id to the longest linearizable prefix (a list of
    operation ids) that contains it — the data a timeline view draws; an id absent from it was never
    placed in any linearizable prefix. ``reason`` is set instead of a prefix when ``blocked`` was refuted
    before any search: no state the model can reach allows its result (:mod:`.reachable`).
    """

    operations: list[Operation]
    prefix: list[Operation]
    state: str
    blocked: Operation | None
    longest: dict[int, list[int]] = field(default_factory=dict)
    partition: Any = None
    #: set when no search was needed: why ``blocked`` cannot be placed anywhere (``prefix`` is then empty)
    reason: str | None = None


@dataclass(frozen=True)
class SearchStats:
    """How much searching the verdict took."""

    partitions: int = 0
    states: int = 0  # distinct (linearized set, state) pairs memoised
    steps: int = 0  # candidate linearization steps tried
    backtracks: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class CheckResult:
    """The verdict of a linearizability check.

    ``valid`` is ``True``, ``False`` or ``"unknown"``. When valid, ``witness`` holds one linearization
    per partition (lists of operations in linearization order; ``info`` operations that need not have
    happened are left out). When invalid, ``counterexample`` explains the smallest failing partition.
    When unknown, ``reason`` says which budget ran out.
    """

    valid: Verdict
    model: str
    operations: int
    witness: list[list[Operation]] | None = None
    counterexample: Counterexample | None = None
    reason: str | None = None
    stats: SearchStats = field(default_factory=SearchStats)
    source: str | None = None

    def __bool__(self) -> bool:
        raise TypeError(
            "a CheckResult is not a bool because it can be 'unknown': test `result.valid is True`"
        )

    @property
    def checker(self) -> str:
        return "linearizable"

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` object: ``file, valid, checker, model, operations, seconds, partitions,
        states``, plus ``reason`` when unknown and ``counterexample`` when invalid (``partition``,
        ``prefix``, ``state``, ``blocked``, and ``reason`` when it was refuted before any search)."""
        data: dict[str, Any] = {
            "file": self.source,
            "valid": self.valid,
            "checker": self.checker,
            "model": self.model,
            "operations": self.operations,
            "seconds": round(self.stats.seconds, 6),
            "partitions": self.stats.partitions,
            "states": self.stats.states,
        }
        if self.reason:
            data["reason"] = self.reason
        cx = self.counterexample
        if cx is not None:
            data["counterexample"] = {
                "partition": cx.partition,
                "prefix": [op.id for op in cx.prefix],
                "state": cx.state,
                "blocked": None if cx.blocked is None else {
                    "op": cx.blocked.id, "event": cx.blocked.call, "text": cx.blocked.describe(),
                },
            }
            if cx.reason is not None:
                data["counterexample"]["reason"] = cx.reason
        return data

    @property
    def verdict(self) -> str:
        if self.valid is True:
            return "linearizable"
        if self.valid is False:
            return "not linearizable"
        return "unknown"

    def explain(self, limit: int = 12) -> str:
        """A short human explanation of the verdict."""
        where = f"{self.source}: " if self.source else ""
        head = (
            f"{where}{self.verdict} ({self.model}, {self.operations} operations, "
            f"{self.stats.seconds:.3f} s)"
        )
        if self.valid == "unknown":
            return f"{head}\n  gave up: {self.reason}"
        if self.valid is True or self.counterexample is None:
            return head
        return head + "\n" + _explain_counterexample(self.counterexample, limit)


def _explain_counterexample(cx: Counterexample, limit: int) -> str:
    lines = []
    if cx.partition is not None:
        lines.append(f"  in the sub-history for key {cx.partition!r} ({len(cx.operations)} operations)")
    if cx.reason is not None and cx.blocked is not None:
        lines.append(f"  cannot place: {_where(cx.blocked)}  {cx.blocked.describe()}")
        lines.append(f"    {cx.reason}")
        return "\n".join(lines)
    shown = cx.prefix[-limit:]
    skipped = len(cx.prefix) - len(shown)
    lines.append(f"  longest linearizable prefix: {len(cx.prefix)} operations" + (
        f" (last {len(shown)} shown)" if skipped else ""))
    for op in shown:
        lines.append(f"    {_where(op)}  {op.describe()}")
    lines.append(f"  model state after it: {cx.state}")
    if cx.blocked is not None:
        lines.append(
            f"  cannot place: {_where(cx.blocked)}  {cx.blocked.describe()}"
        )
        lines.append(
            "    it completed before any order of the operations still pending could include it"
        )
    return "\n".join(lines)


def _where(op: Operation) -> str:
    return f"[op {op.id}, event {op.call}]"
