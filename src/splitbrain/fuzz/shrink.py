"""Shrinking a failing trace to a 1-minimal one: no single step can be removed and still fail the same way.

Hypothesis's shrinker works on the choice sequence and gets most of the way; this pass then works on the
explicit trace, where steps name stable ids (message ``n1>n2#3``, node n3), so deleting one step does not
change what the later ones mean. The core is ``ddmin`` (Zeller & Hildebrandt 2002, "Simplifying and
Isolating Failure-Inducing Input"): remove chunks of halving size, keep a removal when the replay still
fails with the same signature, end with single steps. A smaller trace is kept only when its replay fails
that way, and the trace kept is the one the replay *recorded*, so the result replays exactly, step for step.

Four things make deletions in a distributed run succeed often enough to reach a short trace:

* **Replay keeps the recorded times and follows messages by sender**, a message no recorded step claims
  standing in for one whose sender is gone (:class:`~splitbrain.sim.ReplaySource`,
  ``advance`` steps with ``to``). Removing a heartbeat no longer shifts every later timer, and removing a
  step that sent messages removes the steps that acted on them, transitively — one deletion is a whole
  causal cone (what a message chain caused), as in DEMi's minimisation of distributed executions
  (Scott et al. 2016, "Minimizing Faulty Executions of Distributed Systems", NSDI).
* **Truncation**: a checker failure runs on to quiesce, so the run phase is bisected for the earliest
  point from which all its remaining steps can go at once (a few replays instead of a ddmin level).
* **Group passes** remove steps that belong together but are not causally linked, which contiguous chunks
  rarely catch: every firing of one node's timer (a heartbeat chain), every operation of one client,
  every fault of one kind, the deliveries over one link, and ``advance`` steps that another advance
  directly follows (jumps merge: the later one still goes to its recorded time). A group is tried whole,
  then in ddmin halves — the hierarchical idea of HDD (Misherghi & Su 2006, "HDD: Hierarchical Delta
  Debugging", ICSE), with the step's kind and actor as the hierarchy.
* **Rounds** of truncation, groups, ddmin chunks and single steps repeat until a round's single-step pass
  removes nothing (the trace is then 1-minimal, :attr:`ShrinkResult.minimal`) or the replay budget is
  spent. Every budget is a count of replays, never seconds, so the result is the same on any machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from splitbrain.fuzz.schedule import HistoryCheck, ScheduleResult, history_checks, replay_trace
from splitbrain.sim import Step, Trace, Workload
from splitbrain.sim.scheduler import FRAME_KINDS

__all__ = [
    "Select",
    "ShrinkResult",
    "family",
    "shrink_trace",
]


Select = Callable[[Trace], list[int]]
"""Picks the indices of the steps a pass may remove from the current trace."""


@dataclass(frozen=True)
class ShrinkResult:
    """The shrunk trace (as its replay recorded it), that replay's judged result, and what it took."""

    trace: Trace
    result: ScheduleResult
    before: int  # steps before shrinking
    after: int  # steps after
    replays: int
    seconds: float  # for the reader only: nothing depends on it
    removed_by: dict[str, int] = field(default_factory=dict)  # pass -> steps it removed (with what they caused)
    replays_by: dict[str, int] = field(default_factory=dict)  # pass -> replays it spent
    minimal: bool = False  # a whole round of single-step removals failed: 1-minimal


def family(step: Step) -> str | None:
    """The group a step belongs to for the group passes, or ``None`` (frame steps, ``advance``)."""
    kind = step.kind
    if kind == "timer":
        return f"timer {step.node} {step.timer}"
    if kind in ("invoke", "timeout"):
        return f"client c{step.client}"
    if kind in ("crash", "power-loss", "restart"):
        return f"crash {step.node}"
    if kind in ("pause", "resume"):
        return f"pause {step.node}"
    if kind in ("partition", "oneway", "bridge", "heal"):
        return "partition"
    if kind == "deliver":
        return f"link {step.src}>{step.dst}"
    if kind in FRAME_KINDS or kind == "advance":
        return None
    return kind  # drop, duplicate, delay, skew


def _removable(trace: Trace) -> list[int]:
    return [i for i, s in enumerate(trace.steps) if s.kind not in FRAME_KINDS]


def _merge_advances(trace: Trace) -> list[int]:
    steps = trace.steps
    return [i for i in range(len(steps) - 1) if steps[i].kind == "advance" and steps[i + 1].kind == "advance"]


def _families(trace: Trace) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, step in enumerate(trace.steps):
        name = family(step)
        if name is not None:
            groups.setdefault(name, []).append(i)
    return groups


def _in_family(name: str) -> Select:
    return lambda trace: [i for i, s in enumerate(trace.steps) if family(s) == name]


class _Shrinker:
    """The state of one shrink: the smallest failing trace so far and the replays spent."""

    def __init__(
        self, workload: Workload, checks: Sequence[tuple[str, HistoryCheck]], signature: str,
        best: ScheduleResult, max_replays: int, on_progress: Callable[[int], None] | None,
    ) -> None:
        self.workload, self.checks, self.signature = workload, checks, signature
        self.best, self.current = best, best.trace
        self.replays, self.max_replays = 1, max_replays
        self.on_progress = on_progress
        self.removed_by: dict[str, int] = {}
        self.replays_by: dict[str, int] = {}

    @property
    def spent(self) -> bool:
        return self.replays >= self.max_replays

    def attempt(self, drop: set[int], label: str) -> bool:
        """Replay the current trace without the steps at ``drop``; keep it if it fails the same way."""
        self.replays += 1
        self.replays_by[label] = self.replays_by.get(label, 0) + 1
        steps = [s for i, s in enumerate(self.current.steps) if i not in drop]
        candidate = msgspec.structs.replace(self.current, steps=steps)
        outcome = replay_trace(self.workload, candidate, checks=self.checks)
        shorter = len(self.current.steps) - len(outcome.trace.steps)
        if outcome.verdict.signature != self.signature or shorter <= 0:
            return False
        self.best, self.current = outcome, outcome.trace
        self.removed_by[label] = self.removed_by.get(label, 0) + shorter
        if self.on_progress is not None:
            self.on_progress(len(self.current.steps))
        return True

    def ddmin(self, select: Select, label: str, *, first: Literal["all", "half", "one"], smallest: int = 1) -> bool:
        """Remove chunks of the selected steps — all of them, half or one at a time to begin with, then
        halving the chunk down to ``smallest``; after a success the selection is taken again from the
        new trace and the pass goes on at the same position."""
        progressed = False
        members = select(self.current)
        chunk = max(smallest, {"all": len(members), "half": len(members) // 2, "one": 1}[first])
        while chunk >= smallest and members:
            start = 0
            while start < len(members):
                if self.spent:
                    return progressed
                if self.attempt(set(members[start:start + chunk]), label):
                    progressed = True
                    members = select(self.current)
                    continue  # retry at the same position: later steps shifted into it
                start += chunk
            if chunk == 1:
                break
            chunk //= 2
        return progressed

    def truncate(self) -> bool:
        """Cut the end of the run phase (a checker failure runs on to quiesce): bisect for the earliest
        cut point from which every run step up to the quiesce marker can go."""
        progressed = False
        lo = 0
        while not self.spent:
            steps = self.current.steps
            end = next((i for i, s in enumerate(steps) if s.kind == "quiesce"), None)
            run = [i for i in range(end or 0) if steps[i].kind not in FRAME_KINDS]
            if lo >= len(run):
                break
            mid = (lo + len(run)) // 2
            if self.attempt(set(run[mid:]), "truncate"):
                progressed = True  # the prefix replays as it was: the run phase is now run[:mid]
            else:
                lo = mid + 1
        return progressed

    def groups(self) -> bool:
        """Merge ``advance`` runs, then each family of steps (largest first) whole, then in halves down to
        pairs — the single steps come last, in the global pass."""
        progressed = self.ddmin(_merge_advances, "merge advances", first="all")
        names = sorted(_families(self.current).items(), key=lambda item: (-len(item[1]), item[0]))
        for name, _ in names:
            if self.spent:
                break
            label = "group " + name.partition(" ")[0]
            progressed |= self.ddmin(_in_family(name), label, first="all", smallest=2)
        return progressed


def shrink_trace(
    workload: Workload,
    trace: Trace,
    signature: str,
    *,
    checks: Sequence[tuple[str, HistoryCheck]] | None = None,
    max_replays: int = 2000,
    on_progress: Callable[[int], None] | None = None,
) -> ShrinkResult:
    """Remove steps of ``trace`` while its replay still fails with ``signature``.

    ``max_replays`` bounds the work (a count, not seconds, so the result is the same on any machine); the
    best trace so far is returned when it runs out.
    """
    started = time.monotonic()
    checks = list(checks) if checks is not None else history_checks(workload)
    first = replay_trace(workload, trace, checks=checks)
    before = len(trace.steps)
    if first.verdict.signature != signature:
        # the trace does not reproduce (e.g. saved by another version): keep it as it is
        return ShrinkResult(trace, first, before, before, 1, 0.0)
    shrinker = _Shrinker(workload, checks, signature, first, max_replays, on_progress)
    minimal = False
    while not shrinker.spent:  # rounds, until one whose single-step pass removes nothing
        shrinker.truncate()
        shrinker.groups()
        shrinker.ddmin(_removable, "ddmin", first="half", smallest=2)
        if not shrinker.ddmin(_removable, "single steps", first="one") and not shrinker.spent:
            minimal = True  # a full round of single-step removals changed nothing
            break
    return ShrinkResult(
        shrinker.current, shrinker.best, before, len(shrinker.current.steps), shrinker.replays,
        time.monotonic() - started, dict(shrinker.removed_by), dict(shrinker.replays_by), minimal,
    )
