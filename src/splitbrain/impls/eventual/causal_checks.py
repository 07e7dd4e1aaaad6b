"""History checks built on the causality checker, for systems that promise less than causal consistency.

:func:`~splitbrain.checker.causality.check_causal` reports every anomaly it finds, named (``lost-update``,
``non-convergence``, ``read-your-writes``, …). What a system promises decides which of them are bugs: an
eventually consistent store (Dynamo-style, reads from one replica) may well read a stale version — a
``read-your-writes`` or ``causal-read`` finding is expected there — but must never lose an acknowledged
write nor leave replicas apart after the system quiesced.

:func:`causal_checks` turns one ``check_causal`` run into several named history checks, one per group
of anomaly names, so that a failure's signature says which promise broke (``checker:lost-update``) and
shrinking keeps to that one. Anomalies in ``allowed`` never fail a check; the last group, whose names are
``None``, takes every other anomaly. A check is ``unknown`` when the checker could not judge part of the
history (see its ``reason``) and found nothing of its group.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from splitbrain.checker.anomaly import Anomaly, AnomalyResult
from splitbrain.checker.causality import check_causal
from splitbrain.histories import History

HistoryCheck = Callable[[History], tuple[Any, str]]
"""``history -> (True | False | "unknown", explanation)``, the shape ``fuzz.schedule`` runs."""


class _LastResult:
    """``check_causal`` of the last history asked for, so that the groups share one run."""

    def __init__(self, ignore: Collection[str]) -> None:
        self.history: History | None = None
        self.result: AnomalyResult | None = None
        self.ignore = ignore

    def __call__(self, history: History) -> AnomalyResult:
        if self.history is not history or self.result is None:
            self.history, self.result = history, check_causal(history, ignore=self.ignore)
        return self.result


def describe(anomalies: Sequence[Anomaly], limit: int = 5) -> str:
    """The anomalies' names and explanations, indented, at most ``limit`` of them."""
    lines = []
    for a in anomalies[:limit]:
        lines.append(f"  {a.name}:")
        lines.extend(f"    {line}" for line in a.explanation.splitlines())
    if len(anomalies) > limit:
        lines.append(f"  … and {len(anomalies) - limit} more")
    return "\n".join(lines)


def causal_checks(
    groups: Sequence[tuple[str, Collection[str] | None]], allowed: Collection[str] = (),
    ignore: Collection[str] = (),
) -> list[tuple[str, HistoryCheck]]:
    """One history check per ``(check name, anomaly names)`` group (see the module docstring);
    ``ignore`` names client functions the causality checker leaves out."""
    claimed = {name for _, names in groups if names is not None for name in names}
    run = _LastResult(ignore)

    def make(check: str, names: Collection[str] | None) -> HistoryCheck:
        def judge(history: History) -> tuple[Any, str]:
            result = run(history)
            mine = [
                a for a in result.anomalies
                if a.name not in allowed and (a.name in names if names is not None else a.name not in claimed)
            ]
            where = f"{result.source}: " if result.source else ""
            if mine:
                found = sorted({a.name for a in mine})
                return False, f"{where}{check}: {', '.join(found)} ({result.operations} operations)\n" + describe(
                    mine
                )
            if result.valid == "unknown":
                return "unknown", f"{where}{check}: unknown: {result.reason}"
            seen = sorted({a.name for a in result.anomalies if a.name in allowed})
            note = f" (allowed here: {', '.join(seen)})" if seen else ""
            return True, f"{where}{check}: no anomaly{note}"

        return judge

    return [(check, make(check, names)) for check, names in groups]
