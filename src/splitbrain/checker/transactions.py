"""Transactional consistency, Elle-style (Kingsbury & Alvaro, "Elle: Inferring Isolation Anomalies from
Experimental Observations", VLDB 2020).

:func:`check_transactions` infers the dependency graph (:mod:`~splitbrain.checker.txn_graph`), decides which
dependency-cycle classes it holds and spells out examples (:mod:`~splitbrain.checker.elle_cycles`), looks
for fractured reads (:mod:`~splitbrain.checker.elle_fractured`), and judges the anomalies found against the
consistency-model lattice (:mod:`~splitbrain.checker.consistency_models`): the history is invalid under a
model when it holds an anomaly the model forbids. The result also says, as Elle's ``:not`` and
``:also-not`` do, which models the history rules out and which still stand.

Only running out of time makes the verdict ``"unknown"``: whether each cycle class exists is decided
exactly from strongly connected components, so a budget that stops the spelling-out of cycles still leaves
a verdict, with a finding that names the class that must exist.
"""

from __future__ import annotations

import time

from splitbrain.checker.anomaly import Anomaly, AnomalyResult
from splitbrain.checker.consistency_models import ALIASES, MODELS, boundary, canonical, forbidden
from splitbrain.checker.deadline import OutOfTime, within
from splitbrain.checker.elle_cycles import search
from splitbrain.checker.elle_fractured import fractured_reads
from splitbrain.checker.result import Verdict
from splitbrain.checker.txn_graph import Inference, Options, build
from splitbrain.errors import UsageError
from splitbrain.histories.history import History

__all__ = [
    "CONSISTENCY_MODELS",
    "FORBIDDEN",
    "check_transactions",
]

#: every name ``consistency`` accepts: the models, weakest first along each chain, then their aliases
CONSISTENCY_MODELS: tuple[str, ...] = (*MODELS, *ALIASES)

#: model -> every anomaly name that rules it out
FORBIDDEN: dict[str, frozenset[str]] = {m: forbidden(m) for m in CONSISTENCY_MODELS}

_SESSION = ("strong-session-",)
_REALTIME = ("strong-read-", "strong-snapshot-isolation", "strict-serializable")


def check_transactions(
    history: History, consistency: str = "serializable", *, max_searches: int = 2000,
    timeout: float | None = None, sequential_keys: bool = False, linearizable_keys: bool = False,
    wfr_keys: bool = True,
) -> AnomalyResult:
    """Check ``history``'s ``txn`` operations against ``consistency`` (a name in :data:`CONSISTENCY_MODELS`).

    ``max_searches`` bounds the breadth-first searches that spell out example cycles; ``timeout`` (seconds)
    bounds the whole check, and running out of it is ``"unknown"``. ``wfr_keys``, ``sequential_keys`` and
    ``linearizable_keys`` are Elle's assumptions for rw-register keys (see
    :mod:`~splitbrain.checker.elle_rw_register`). Raises ``UsageError`` for an unknown model and
    :class:`~splitbrain.errors.InvalidHistory` for an operation that is not a well-formed transaction.
    """
    try:
        model = canonical(consistency)
    except KeyError:
        raise UsageError(f"unknown consistency model {consistency!r} (expected one of "
                         f"{', '.join(CONSISTENCY_MODELS)})") from None
    started = time.perf_counter()
    options = Options(wfr_keys=wfr_keys, sequential_keys=sequential_keys, linearizable_keys=linearizable_keys)
    stage = "inferring dependencies"
    try:
        with within(timeout):
            inf = build(history, options)
            stage = "deciding which dependency cycles exist"
            report = search(inf, max_searches=max_searches)
            stage = "looking for fractured reads"
            fractured_reads(inf, report.single_nodes)
    except OutOfTime:
        return AnomalyResult(
            valid="unknown", checker="txn", operations=len(history.operations), consistency=consistency,
            reason=f"the time budget of {timeout:g} s ran out while {stage}",
            seconds=time.perf_counter() - started, source=history.source,
        )
    found = [*inf.findings.found, *report.found]
    names = {*inf.findings.counts, *report.present}
    ruled_out = forbidden(model)
    bad = tuple(a for a in found if a.name in ruled_out)
    allowed = tuple(a for a in found if a.name not in ruled_out)
    valid: Verdict = not (names & ruled_out)
    not_models, also_not, holds = boundary(names)
    reason = None
    if report.truncated:
        reason = (f"every cycle class was decided, but the spelling-out of examples stopped at its bound "
                  f"({max_searches} searches) or the time budget")
    return AnomalyResult(
        valid=valid, checker="txn", operations=len(inf.nodes), anomalies=_first(bad), allowed=_first(allowed),
        consistency=consistency, reason=reason, seconds=time.perf_counter() - started, source=history.source,
        stats={"transactions": len(inf.nodes), "edges": len(inf.graph), "cyclic-core": report.core,
               "searches": report.searches, **{f"count:{k}": v for k, v in sorted(inf.findings.counts.items())}},
        not_models=not_models, also_not=also_not, holds=holds, anomaly_types=tuple(sorted(names)),
        notes=_notes(inf, model),
    )


def _first(anomalies: tuple[Anomaly, ...]) -> tuple[Anomaly, ...]:
    """Most severe first: cycles of data dependencies, then those using process or real-time order, then
    the rest, each group in the order found."""
    def rank(a: Anomaly) -> int:
        if a.graph is None and "must exist" not in a.explanation:
            return 2
        return 1 if a.name.endswith(("-process", "-realtime")) else 0
    return tuple(sorted(anomalies, key=rank))


def _notes(inf: Inference, model: str) -> tuple[str, ...]:
    notes = []
    if not inf.processes and model.startswith(_SESSION + _REALTIME):
        notes.append("no two transactions share a process, so no process order was inferred: the session "
                     "(-process) part of this model was not tested")
    if not inf.times and model.startswith(_REALTIME):
        notes.append("the history's events carry no :time, so no real-time order was inferred: the real-time "
                     "(-realtime) part of this model was not tested")
    return tuple(notes)
