"""A shorter counterexample than ddmin's: a bounded breadth-first search from the states a shrunk trace
passes through.

Shrinking (:mod:`splitbrain.fuzz.shrink`) only *removes* steps, so its result is 1-minimal — no single
step can go — but not necessarily the shortest failing trace: a bug reached through a detour of five
steps stays five steps long when two *other* steps, never in the trace, would reach it too. This pass
looks for such replacements. For a prefix of the trace (its first ``k`` steps, replayed), it runs every
sequence of ``d`` further choices among the eligible events (:func:`~splitbrain.fuzz.deviations.eligible`:
what a scheduler may pick there), and lets the run finish in the default order
(:func:`~splitbrain.fuzz.deviations.default_choice`): the run phase ends after the ``d`` choices and the
quiesce phase takes the first eligible event every time. A candidate is judged as the campaign judges a
schedule — invariants during the run, liveness and history checks at the end — and kept when it fails
with the same signature, has fewer steps (start and quiesce included) and its recorded trace replays
step for step. A trace kept is shrunk again (the default-order ending may leave removable steps) and
the search starts over from it, so it ends only on a budget or when no candidate within the bound is
shorter.

Candidates run level by level: ``d = 0`` (the prefix, then the default order) for every prefix, then
one further choice, then two, up to ``depth``; within a level, the longest prefixes first (a shorter
ending is likelier near the failure than a whole new run). Only candidates that could be shorter run:
``k + d`` below the trace's steps. A level of ``k`` prefixes with ``b`` eligible events costs about
``k * b**d`` replays, so the depth is small: 1 or 2.

Each candidate is replayed from the start. Forking a world at the prefix would save the prefix's steps,
but a world holds the user's node objects (threads, event loops, anything); a deep copy of them is not
known to be faithful, and an unfaithful copy would report a counterexample that does not replay.

What it does not promise: the result is the shortest only among the candidates it ran. Draws (message
delays, operations) in the new steps come from the trace's seed, so another draw could be shorter
still; a run phase is never ended early in favour of quiesce steps; and a budget (replays, seconds) may
stop it before the bound is covered (:attr:`ShortestResult.complete` says which). With the time budget
off, the same inputs give the same result.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from splitbrain.errors import NondeterminismError, UsageError
from splitbrain.fuzz.deviations import default_choice, eligible
from splitbrain.fuzz.schedule import HistoryCheck, ScheduleResult, history_checks, replay_trace, run_schedule
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.sim import ReplaySource, Trace, Workload
from splitbrain.sim.scheduler import FRAME_KINDS, Choice, Phase

__all__ = ["ShortestResult", "describe_summary", "shorter_trace"]


class _Extend(ReplaySource):
    """Replays ``prefix`` (a trace cut after some step), then takes eligible event ``options[j]`` at the
    ``j``-th choice after it, then ends the run phase and quiesces in the default order.

    ``branching`` is how many eligible events there were at each free choice and at the first choice
    after them (what the next level branches on); it stays short of ``len(options) + 1`` when the run
    ended first."""

    def __init__(self, prefix: Trace, options: tuple[int, ...]) -> None:
        super().__init__(prefix)
        self.options = options
        self.branching: list[int] = []

    def choose(self, enabled: Sequence[Choice], phase: Phase) -> str | None:
        if not enabled:
            return None
        if self.cursor < len(self.trace.steps) or (len(enabled) == 1 and enabled[0][0] in FRAME_KINDS):
            return super().choose(enabled, phase)
        self._step, self._draws, self._next_draw = None, [], 0  # a new step: its draws are fresh
        free = len(self.branching)
        if free <= len(self.options):
            keys = eligible(enabled)
            self.branching.append(len(keys))
            if free < len(self.options):
                option = self.options[free]
                if option >= len(keys):
                    raise NondeterminismError(
                        f"a replayed prefix offered {len(keys)} events where it offered more before: the "
                        "system under test is not deterministic (see splitbrain replay --check-determinism)"
                    )
                return keys[option]
        return None if phase == "run" else default_choice(enabled)


@dataclass(frozen=True)
class ShortestResult:
    """What the search did. ``trace`` is the shortest failing trace it knows (the input when it found
    none shorter), as its replay recorded it; ``result`` its judged replay, ``None`` when nothing
    shorter was found."""

    trace: Trace
    result: ScheduleResult | None
    before: int  # steps of the input trace
    after: int  # steps of ``trace``
    depth: int  # the bound: further choices after a prefix
    candidates: int  # candidates run
    replays: int  # the search's replays: candidates, and the check that a shorter one replays exactly
    shrink_replays: int  # replays spent shrinking the traces kept (a budget of its own)
    levels_done: int  # levels (0 .. depth) whose every candidate ran against the final trace
    complete: bool  # no candidate within the bound is shorter than ``trace``
    reason: str = ""  # why it stopped short of the bound, or why it did not run
    seconds: float = 0.0  # for the reader only: nothing depends on it

    @property
    def found(self) -> bool:
        return self.after < self.before

    def summary(self) -> dict[str, Any]:
        """The JSON-able account a failure record keeps."""
        return {"depth": self.depth, "before": self.before, "after": self.after, "candidates": self.candidates,
                "replays": self.replays, "shrink_replays": self.shrink_replays, "complete": self.complete,
                "reason": self.reason or None,
                "seconds": round(self.seconds, 3)}

    def describe(self) -> str:
        """One clause for a person: what the search found, and how far it got."""
        return describe_summary(self.summary())


def describe_summary(summary: dict[str, Any]) -> str:
    """:meth:`ShortestResult.describe` from a saved :meth:`ShortestResult.summary`."""
    depth, n = summary["depth"], summary["candidates"]
    search = f"a breadth-first search of depth {depth}"
    if n == 0 and summary.get("reason"):
        return f"{search} was skipped ({summary['reason']})"
    how = f"{n} candidate{'s' * (n != 1)}"
    how += ", every one within the bound" if summary["complete"] else f", stopped: {summary['reason']}"
    if summary["after"] < summary["before"]:
        return f"{search} shortened it from {summary['before']} to {summary['after']} steps ({how})"
    return f"{search} found none shorter ({how})"


def _cut(trace: Trace, moves: list[int], k: int) -> Trace:
    """``trace`` up to and including its ``k``-th non-frame step (``moves`` indexes them); the start step
    and a quiesce marker before it stay."""
    end = moves[k - 1] + 1 if k else (1 if trace.steps and trace.steps[0].kind == "start" else 0)
    return msgspec.structs.replace(trace, steps=trace.steps[:end])


def shorter_trace(
    workload: Workload,
    trace: Trace,
    signature: str,
    *,
    depth: int = 2,
    checks: Sequence[tuple[str, HistoryCheck]] | None = None,
    max_replays: int = 300,
    timeout: float | None = None,
    max_steps: int | None = None,
    shrink_replays: int = 2000,
) -> ShortestResult:
    """Search for a trace shorter than ``trace`` (a failing trace, best already shrunk) that fails with
    ``signature``: from each prefix of it, every sequence of up to ``depth`` further eligible choices,
    then the default order (see the module docstring).

    Budgets: ``max_replays`` replays for the search (counted, so the result is the same on any machine),
    ``timeout`` seconds (a safety net; when it is what stops the search, the result depends on the
    machine), and ``shrink_replays`` for shrinking each trace kept (:func:`shrink_trace`'s own budget:
    a trace kept is shrunk to 1-minimal like any other). A trace of more than ``max_steps`` steps
    is not searched (``reason`` says so). The best trace so far is returned when a budget runs out.
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise UsageError(f"depth must be an int >= 0 (further choices after a prefix), got {depth!r}")
    if max_replays < 1:
        raise UsageError(f"max_replays must be >= 1, got {max_replays}")
    started = time.monotonic()
    checks = list(checks) if checks is not None else history_checks(workload)
    before = len(trace.steps)
    best, best_result = trace, None
    candidates = replays = shrink_spent = 0
    # every candidate run, by a digest of its prefix's steps and its choices, with the eligible events it
    # met: a search from a later (shorter) trace sharing the prefix skips it, as it cannot be shorter now
    tried: dict[tuple[bytes, tuple[int, ...]], list[int]] = {}

    def result(levels_done: int, reason: str = "") -> ShortestResult:
        return ShortestResult(best, best_result, before, len(best.steps), depth, candidates, replays,
                              shrink_spent, levels_done, not reason, reason, time.monotonic() - started)

    if max_steps is not None and before > max_steps:
        return result(0, f"the trace has {before} steps, more than the {max_steps} it searches")

    while True:  # a search per trace kept; each is shorter than the last, so this ends
        moves = [i for i, step in enumerate(best.steps) if step.kind not in FRAME_KINDS]
        n = len(best.steps)
        prefixes = {k: _cut(best, moves, k) for k in range(len(moves))}
        keys = {k: hashlib.blake2b(msgspec.json.encode(prefix.steps), digest_size=16).digest()
                for k, prefix in prefixes.items() if len(prefix.steps) < n}
        # the candidates of the current level: (prefix length, choices after it)
        level: list[tuple[int, tuple[int, ...]]] = [(k, ()) for k in reversed(range(len(moves)))]
        kept: ScheduleResult | None = None
        levels_done = 0
        for d in range(depth + 1):
            following: list[tuple[int, tuple[int, ...], int]] = []
            for k, options in level:
                # at least one step per choice, plus the frame steps the prefix already has
                if len(prefixes[k].steps) + d >= n:
                    continue
                tag = (keys[k], options)
                branching = tried.get(tag)
                if branching is not None:  # run for an earlier, longer trace: not shorter then, nor now
                    if len(branching) > d:
                        following.append((k, options, branching[d]))
                    continue
                if replays >= max_replays:
                    return result(levels_done, f"the budget of {max_replays} replays ran out at depth {d}")
                if timeout is not None and time.monotonic() - started > timeout:
                    return result(levels_done, f"the time budget of {timeout:g} s ran out at depth {d}")
                source = _Extend(prefixes[k], options)
                outcome = run_schedule(workload, best.variant, source, faults=best.faults,
                                       max_steps=best.max_steps, checks=checks)
                tried[tag] = source.branching
                candidates += 1
                replays += 1
                if outcome.verdict.signature == signature and len(outcome.trace.steps) < n:
                    if replays >= max_replays:  # no replay left to check that it replays: not kept
                        return result(levels_done, f"the budget of {max_replays} replays ran out at depth {d}")
                    again = replay_trace(workload, outcome.trace, checks=checks)
                    replays += 1
                    if (again.verdict.signature == signature
                            and again.trace.dumps() == outcome.trace.dumps()):
                        kept = again
                        break
                if len(source.branching) > d:
                    following.append((k, options, source.branching[d]))
            if kept is not None:
                break
            levels_done = d + 1
            level = [(k, (*options, o)) for k, options, count in following for o in range(count)]
        if kept is None:
            return result(levels_done)
        best, best_result = kept.trace, kept
        # the default-order ending may have steps ddmin can remove; its replays are a budget of their own
        shrunk = shrink_trace(workload, best, signature, checks=checks, max_replays=shrink_replays)
        shrink_spent += shrunk.replays
        if shrunk.result.verdict.signature == signature and len(shrunk.trace.steps) < len(best.steps):
            best, best_result = shrunk.trace, shrunk.result
