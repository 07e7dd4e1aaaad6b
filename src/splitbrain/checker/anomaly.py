"""`Anomaly` and `AnomalyResult`: what the causality and transaction checkers return.

A linearizability check ends in one counterexample; these checkers instead find *named anomalies*
(``G-single``, ``read-your-writes``, ``causal-delivery`` …), each with the events involved and an
explanation a person can follow step by step. As everywhere in splitbrain the verdict is ``True``,
``False`` or ``"unknown"`` (a search bound cut the search short where it could have hidden a verdict).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from splitbrain.checker.result import Verdict

__all__ = [
    "Anomaly",
    "AnomalyResult",
]


@dataclass(frozen=True, kw_only=True)
class Anomaly:
    """One finding: its ``name``, a multi-line ``explanation``, the history event indices involved
    (``events``), and for cycles a ``graph`` in the shape ``report.graphs`` draws
    (``{"title", "description", "nodes": [{"id", "label", "detail"}], "edges": [{"from", "to", "label"}]}``).
    """

    name: str
    explanation: str
    events: tuple[int, ...] = ()
    graph: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name, "explanation": self.explanation, "events": list(self.events),
        }
        if self.graph is not None:
            data["graph"] = self.graph
        return data


@dataclass(frozen=True, kw_only=True)
class AnomalyResult:
    """The verdict of a causality (``checker="causal"``) or transaction (``checker="txn"``) check.

    ``anomalies`` are the findings that make the history invalid under the checked ``consistency``;
    ``allowed`` are anomalies found that the chosen model permits (e.g. G2-item under snapshot isolation),
    kept for the reader. ``reason`` says why a verdict is ``"unknown"`` (or what a budget cut short).

    The transaction checker also fills, like Elle's ``:anomaly-types``, ``:not`` and ``:also-not``:
    ``anomaly_types`` (every anomaly name found or shown to exist), ``not_models`` (the weakest consistency
    models those rule out), ``also_not`` (the stronger models ruled out with them) and ``holds`` (the models
    none of them rules out); ``notes`` says what the history did not let it test.
    """

    valid: Verdict
    checker: str
    operations: int
    anomalies: tuple[Anomaly, ...] = ()
    allowed: tuple[Anomaly, ...] = ()
    consistency: str | None = None
    reason: str | None = None
    seconds: float = 0.0
    source: str | None = None
    stats: dict[str, int] = field(default_factory=dict)
    anomaly_types: tuple[str, ...] = ()
    not_models: tuple[str, ...] = ()
    also_not: tuple[str, ...] = ()
    holds: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        raise TypeError(
            "an AnomalyResult is not a bool because it can be 'unknown': test `result.valid is True`"
        )

    @property
    def names(self) -> list[str]:
        """The names of the forbidden anomalies found, in report order."""
        return [a.name for a in self.anomalies]

    @property
    def verdict(self) -> str:
        what = self.consistency or self.checker
        if self.valid is True:
            return f"valid ({what})"
        if self.valid is False:
            return f"invalid ({what})"
        return f"unknown ({what})"

    def explain(self, limit: int = 10) -> str:
        """A human explanation: the verdict line, then each anomaly's steps (at most ``limit``)."""
        where = f"{self.source}: " if self.source else ""
        lines = [
            f"{where}{self.verdict}, {self.operations} operations, {self.seconds:.3f} s"
            + (f", {len(self.anomalies)} anomalies" if self.anomalies else "")
        ]
        if self.reason:
            lines.append(f"  {self.reason}")
        lines.extend(f"  note: {note}" for note in self.notes)
        if self.not_models:
            lines.append(f"  not {', '.join(self.not_models)}"
                         + (f"; also not {', '.join(self.also_not)}" if self.also_not else ""))
        if self.anomaly_types and self.valid is not True:
            lines.append(f"  anomaly types: {', '.join(self.anomaly_types)}")
        for title, group in (("", self.anomalies), ("allowed by this model: ", self.allowed)):
            for a in group[:limit]:
                lines.append(f"  {title}{a.name}:")
                lines.extend(f"    {line}" for line in a.explanation.splitlines())
            if len(group) > limit:
                lines.append(f"  … and {len(group) - limit} more")
        return "\n".join(lines)

    def to_json(self, file: str | None = None) -> dict[str, Any]:
        """The CLI's ``--json`` object: ``file, valid, checker, operations, seconds, anomalies``."""
        data: dict[str, Any] = {
            "file": file if file is not None else self.source,
            "valid": self.valid,
            "checker": self.checker,
            "operations": self.operations,
            "seconds": round(self.seconds, 6),
            "anomalies": [a.to_json() for a in self.anomalies],
        }
        if self.consistency is not None:
            data["consistency"] = self.consistency
        if self.allowed:
            data["allowed"] = [a.to_json() for a in self.allowed]
        if self.reason:
            data["reason"] = self.reason
        if self.checker == "txn":
            data["anomaly_types"] = list(self.anomaly_types)
            data["not"] = list(self.not_models)
            data["also_not"] = list(self.also_not)
            data["holds"] = list(self.holds)
            if self.notes:
                data["notes"] = list(self.notes)
        return data
