"""Fuzz campaigns: many schedules under a count or time budget, fanned out over an executor.

A campaign is cut into shards (a seed and a number of schedules each). A shard runs in a worker: it
generates schedules with Hypothesis, and on a failure saves it to the store *at once*, then shrinks it
(Hypothesis's shrinker, then the 1-minimal trace pass) and saves the shrunk trace in its place. So a
campaign killed at any moment loses no failure it found. Before new schedules, known failures of the
same workload and variant are replayed, to say whether they still fail.

The executor is anything with ``concurrent.futures.Executor``'s ``submit``: the default runs shards in
this process (one worker) or in a ``ProcessPoolExecutor``; another engine plugs in the same way.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from splitbrain import __version__
from splitbrain.fuzz.explore import hypothesis_search
from splitbrain.fuzz.progress import Progress
from splitbrain.fuzz.schedule import ScheduleResult, replay_trace
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.fuzz.store import FailureStore, load_failure
from splitbrain.sim import FaultConfig, Trace


@dataclass(frozen=True)
class CampaignSpec:
    """What to fuzz and how much. Picklable, so shards can travel to worker processes."""

    workload: str
    variant: str = "correct"
    seed: int = 0
    examples: int | None = None
    seconds: float | None = None
    workers: int = 1
    faults: tuple[str, ...] | None = None
    max_steps: int | None = None
    store: str = ".splitbrain"
    shard_size: int = 100
    shrink: bool = True
    keep_going: bool = False


@dataclass(frozen=True)
class Shard:
    spec: CampaignSpec
    index: int
    seed: int
    examples: int
    deadline: float | None  # time.time() value: wall clock, comparable across processes


@dataclass(frozen=True)
class FailureReport:
    """A failure found and saved: where, how it failed, and its trace length before and after shrinking."""

    path: str
    signature: str
    message: str
    seed: int
    steps_found: int
    steps_shrunk: int


@dataclass(frozen=True)
class ShardResult:
    index: int
    schedules: int
    unknown: int
    failures: list[FailureReport]


@dataclass(frozen=True)
class ReplayReport:
    path: str
    signature: str
    still_fails: bool
    now: str | None


@dataclass
class CampaignReport:
    spec: CampaignSpec
    schedules: int = 0
    unknown: int = 0
    seconds: float = 0.0
    failures: list[FailureReport] = field(default_factory=list)
    replayed: list[ReplayReport] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.failures) or any(r.still_fails for r in self.replayed)


def failure_record(
    spec: CampaignSpec, seed: int, result: ScheduleResult, *, stage: str, steps_found: int
) -> dict[str, Any]:
    """The JSON-able record saved for a failure."""
    return {
        "workload": spec.workload,
        "variant": spec.variant,
        "signature": result.verdict.signature,
        "message": result.verdict.message,
        "seed": seed,
        "campaign_seed": spec.seed,
        "splitbrain": __version__,
        "found_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stage": stage,
        "steps": {"found": steps_found, "shrunk": len(result.trace.steps)},
        "trace": msgspec.to_builtins(result.trace),
        "history": [msgspec.to_builtins(op) for op in result.history.ops],
    }


def trace_of(record: dict[str, Any]) -> Trace:
    return msgspec.convert(record["trace"], Trace)


def run_shard(shard: Shard) -> ShardResult:
    """Run one shard (in a worker): search, save at once, shrink, save the shrunk trace in its place."""
    from splitbrain.impls import get_workload

    spec = shard.spec
    workload = get_workload(spec.workload)
    faults = FaultConfig.coerce(spec.faults) if spec.faults is not None else None
    store = FailureStore(Path(spec.store))
    first_path: list[Path] = []

    def save_found(result: ScheduleResult) -> None:
        record = failure_record(spec, shard.seed, result, stage="found", steps_found=len(result.trace.steps))
        first_path.append(store.save(record))

    outcome = hypothesis_search(
        workload, spec.variant, seed_value=shard.seed, examples=shard.examples, faults=faults,
        max_steps=spec.max_steps, shrink_runs=300 if spec.shrink else 0, deadline=shard.deadline,
        on_found=save_found,
    )
    failures: list[FailureReport] = []
    if outcome.failure is not None and outcome.first is not None:
        found = outcome.first
        best = outcome.failure
        signature = best.verdict.signature
        assert signature is not None
        if spec.shrink:
            shrunk = shrink_trace(workload, best.trace, signature)
            if shrunk.result.verdict.signature == signature:
                best = shrunk.result
        record = failure_record(spec, shard.seed, best, stage="shrunk", steps_found=len(found.trace.steps))
        path = store.save(record)
        for old in first_path:
            if old != path and old.exists():
                old.unlink()
        failures.append(FailureReport(
            path=str(path), signature=signature, message=best.verdict.message, seed=shard.seed,
            steps_found=len(found.trace.steps), steps_shrunk=len(best.trace.steps),
        ))
    return ShardResult(shard.index, outcome.schedules, outcome.unknown, failures)


class InlineExecutor(cf.Executor):
    """Runs each submitted call at once in this process: one worker, no pickling, easy to debug."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def default_executor(workers: int) -> cf.Executor:
    if workers <= 1:
        return InlineExecutor()
    return cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def replay_known(spec: CampaignSpec) -> list[ReplayReport]:
    """Replay the saved failures of this workload and variant: do they still fail the same way?"""
    from splitbrain.impls import get_workload

    workload = get_workload(spec.workload)
    reports = []
    for path in FailureStore(Path(spec.store)).paths(spec.workload, spec.variant):
        record = load_failure(path)
        result = replay_trace(workload, trace_of(record))
        now = result.verdict.signature
        reports.append(ReplayReport(str(path), record.get("signature") or "", now == record.get("signature"), now))
    return reports


def shard_seeds(seed: int) -> random.Random:
    return random.Random(f"splitbrain-campaign-{seed}")


def run_campaign(
    spec: CampaignSpec, *, executor: cf.Executor | None = None, progress: Progress | None = None,
    replay_first: bool = True,
) -> CampaignReport:
    """Run a campaign to its budget (``examples`` or ``seconds``; default 30 s), or to its first failure
    unless ``keep_going``."""
    if spec.examples is None and spec.seconds is None:
        spec = replace(spec, seconds=30.0)
    report = CampaignReport(spec)
    started = time.monotonic()
    progress = progress or Progress(f"{spec.workload}/{spec.variant}", enabled=False)
    if replay_first:
        report.replayed = replay_known(spec)
        for r in report.replayed:
            state = "still fails" if r.still_fails else f"no longer fails ({r.now or 'passes'})"
            progress.note(f"replayed {r.path}: {state}")
    deadline = None if spec.seconds is None else time.time() + spec.seconds
    rng = shard_seeds(spec.seed)
    own = executor is None
    pool = executor if executor is not None else default_executor(spec.workers)
    remaining = spec.examples
    index = 0
    pending: dict[cf.Future[ShardResult], int] = {}

    def submit_more() -> None:
        nonlocal index, remaining
        while len(pending) < (spec.workers * 2 if spec.workers > 1 else 1):
            if deadline is not None and time.time() >= deadline:
                return
            if remaining is not None and remaining <= 0:
                return
            size = spec.shard_size if remaining is None else min(spec.shard_size, remaining)
            if remaining is not None:
                remaining -= size
            shard = Shard(spec, index, rng.getrandbits(32), size, deadline)
            pending[pool.submit(run_shard, shard)] = index
            index += 1

    try:
        with progress:
            submit_more()
            while pending:
                done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: pending[f]):
                    del pending[future]
                    shard_result = future.result()
                    report.schedules += shard_result.schedules
                    report.unknown += shard_result.unknown
                    report.failures.extend(shard_result.failures)
                    progress.update(shard_result.schedules, len(shard_result.failures))
                    for failure in shard_result.failures:
                        progress.note(
                            f"failure ({failure.signature}) saved to {failure.path}; trace shrunk from "
                            f"{failure.steps_found} to {failure.steps_shrunk} steps"
                        )
                if report.failures and not spec.keep_going:
                    for future in pending:
                        future.cancel()
                    break
                submit_more()
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
    report.seconds = time.monotonic() - started
    return report
