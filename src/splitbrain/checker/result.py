"""What a check returns: a verdict that can be ``unknown``, a witness or a counterexample, statistics.

Following Porcupine, a verdict is one of three: linearizable, not linearizable, or unknown (the search ran
out of time or memory). Unknown is never reported as a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from splitbrain.histories.history import Operation

Verdict = bool | Literal["unknown"]


@dataclass(frozen=True)
class Counterexample:
    """Why a sub-history cannot be linearized.

    ``operations`` is the failing sub-history (one partition, e.g. one key); ``prefix`` is the longest
    linearization the search reached, ``state`` the model state after it (described), and ``blocked`` the
    operation whose completion came before it could be placed: every order of the pending operations
    fails at this point. ``longest`` maps each operation id to the longest linearizable prefix (a list of
    operation ids) that contains it — the data a timeline view draws; an id absent from it was never
    placed in any linearizable prefix.
    """

    operations: list[Operation]
    prefix: list[Operation]
    state: str
    blocked: Operation | None
    longest: dict[int, list[int]] = field(default_factory=dict)
    partition: Any = None


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
