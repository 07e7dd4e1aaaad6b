"""Weighted round robin's properties, on picks in a known order or in a concurrent history.

The properties — only healthy backends are picked; every ``sum(weights)`` consecutive picks of a
segment give each backend exactly its weight; after ``n`` picks of a round a backend has at most
``ceil(n * w / W)`` — and why smooth weighted round robin has them are in :mod:`splitbrain.impls.traffic.wrr.model`.

* :class:`PickAudit` checks picks and health changes *in the order they happened* — when that order is
  known: a sequential log, or the simulator, where a node logs each in the step it ran.
* :func:`check_wrr` checks a concurrent history of ``pick`` operations: the picks must be linearizable
  against the ``wrr`` model, i.e. some order consistent with real time keeps every property. When none
  does, the explanation names the property the blocked pick breaks after the longest order found.
* :func:`check_pick_sequence` is the audit over a plain list of picks, for quick use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from splitbrain.checker.linearizability import check_linearizability
from splitbrain.checker.result import Verdict
from splitbrain.histories import History
from splitbrain.impls.traffic.wrr.model import (
    Healthy,
    Segment,
    State,
    Violation,
    WeightedRoundRobinModel,
    advance,
    new_segment,
    parse_pick,
)

__all__ = ["PickAudit", "check_pick_sequence", "check_wrr"]


class PickAudit:
    """Feed it :meth:`mark` and :meth:`pick` in the order they happened; it keeps the first violation
    of each property in :attr:`first` (property name -> explanation). Every backend starts healthy."""

    def __init__(self, weights: Mapping[str, int]) -> None:
        self.weights = dict(weights)
        self.up = dict.fromkeys(self.weights, True)
        self.epoch = 0
        self.segment: Segment = new_segment(0, self._healthy())
        self.picks = 0
        self.first: dict[str, str] = {}

    def _healthy(self) -> Healthy:
        return tuple((b, w) for b, w in self.weights.items() if self.up[b])

    def mark(self, backend: str, up: bool) -> None:
        """``backend`` was marked up or down; a change starts a new segment."""
        if self.up.get(backend) == up:
            return
        self.up[backend] = up
        self.epoch += 1
        self.segment = new_segment(self.epoch, self._healthy())

    def pick(self, backend: str | None, who: str = "") -> Violation | None:
        """The next pick; returns the property it breaks, if any (and records the first of each)."""
        self.picks += 1
        nxt, problem = advance(self.segment, backend)
        if problem is None:
            assert nxt is not None
            self.segment = nxt
            return None
        label = f"pick {self.picks}" + (f" ({who})" if who else "")
        healthy = ", ".join(f"{b}: {w}" for b, w in self.segment.healthy) or "none"
        text = f"{label}: {problem.text} (healthy since the last change: {{{healthy}}})"
        self.first.setdefault(problem.property, text)
        # carry on from a fresh segment, so that later picks are judged on their own
        self.segment = new_segment(self.epoch, self.segment.healthy)
        return Violation(problem.property, text)


def check_pick_sequence(
    picks: Iterable[str | None], weights: Mapping[str, int]
) -> tuple[bool, str]:
    """Check picks made one after another with every backend healthy: ``(valid, explanation)``."""
    audit = PickAudit(weights)
    for backend in picks:
        problem = audit.pick(backend)
        if problem is not None:
            return False, f"{problem.property}: {problem.text}"
    return True, f"{audit.picks} picks keep every property"


def check_wrr(history: History, *, timeout: float | None = 10.0) -> tuple[Verdict, str]:
    """Check a history of ``pick`` operations against the ``wrr`` model: ``(valid, explanation)``."""
    model = WeightedRoundRobinModel()
    result = check_linearizability(history, model, timeout=timeout)
    explanation = result.explain()
    cx = result.counterexample
    if result.valid is False and cx is not None and cx.blocked is not None:
        explanation += "\n  " + _why_blocked(model, cx.prefix, cx.blocked)
    return result.valid, explanation


def _why_blocked(model: WeightedRoundRobinModel, prefix: list[Any], blocked: Any) -> str:
    """Which property the blocked pick breaks after the prefix (in some state the prefix can reach)."""
    states: list[State] = [model.init()]  # type: ignore[list-item]
    for op in prefix:
        states = list(dict.fromkeys(s for state in states for s in model.step(state, op)))
    backend, epoch, healthy = parse_pick(blocked)
    for state in states:
        seg = state.segment
        if seg is None:
            continue
        if epoch < seg.epoch:
            return f"why: it saw health epoch {epoch}, older than the epoch {seg.epoch} of a pick placed before it"
        if epoch == seg.epoch and healthy != seg.healthy:
            return f"why: it reports healthy backends {healthy} for epoch {epoch}, another pick {seg.healthy}"
        if epoch == seg.epoch:
            _, problem = advance(seg, backend)
            if problem is not None:
                return f"why ({problem.property}): {problem.text}"
    return "why: no order of the picks still pending keeps every property"
