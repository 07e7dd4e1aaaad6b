"""Fuzz campaigns: many schedules under a count or time budget, fanned out over an executor.

A campaign is cut into shards (a seed and a number of schedules each). A shard runs in a worker: it
generates schedules with its strategy (:mod:`splitbrain.fuzz.strategies`), and on a failure saves it to
the store *at once*, then shrinks it (Hypothesis's shrinker for the ``hypothesis`` strategy, then the
1-minimal trace pass) and saves the shrunk trace in its place. So a campaign killed at any moment loses no
failure it found. Before new schedules, known failures of the same workload and variant are replayed, to
say whether they still fail.

The executor is anything with ``concurrent.futures.Executor``'s ``submit`` (:mod:`.executors`: inline,
process pool, Dask).

**Determinism rule.** A shard's seed depends only on the campaign seed and the shard's index, and its
schedules only on its seed, so with a count budget (``examples``) a shard gives the same result on any
executor. Results are folded in shard-index order. Without ``keep_going``, the campaign reports the
failure of the *lowest-index failing shard*: once shard ``i`` fails, shards below ``i`` still in flight
are awaited and shards above ``i`` are cancelled and their results ignored, so the report (failures,
schedule counts, statistics) equals that of running shards one by one, whatever the number of workers.
A shard above ``i`` that was already running is told to stop (:class:`_StopSignal`: it stops at its next
schedule and does not shrink); a failure it had found is saved like any other — a found bug is never
thrown away — and listed apart, in :attr:`CampaignReport.also_found`, the one part of the report that
depends on timing.
A time budget is not deterministic: how many schedules fit depends on the machine.

**Where failures are written.** Workers write to the store path themselves, as soon as they find a
failure. The campaign first puts a marker file in the store; a worker that cannot see it (a host without
the shared filesystem, or a different working directory) or cannot write there returns the record, and
the campaign writes it when the result arrives.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import random
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from splitbrain.errors import InvalidHistory
from splitbrain.fuzz.deviations import count_deviations, fewer_deviations
from splitbrain.fuzz.executors import InlineExecutor, default_executor
from splitbrain.fuzz.explore import hypothesis_search
from splitbrain.fuzz.portfolio import portfolio_search
from splitbrain.fuzz.progress import Progress
from splitbrain.fuzz.saved import failure_record, trace_of
from splitbrain.fuzz.schedule import ScheduleResult, replay_trace
from splitbrain.fuzz.shortest import shorter_trace
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.fuzz.stats import CampaignStats, ShardStats, StatsObserver
from splitbrain.fuzz.store import FailureStore, load_failure
from splitbrain.fuzz.strategies import STRATEGIES, process_independent_hypothesis, source_search
from splitbrain.sim import FaultConfig, Workload
from splitbrain.sim.loading import load_workload
from splitbrain.sim.properties import Sometimes

__all__ = [
    "CampaignReport",
    "CampaignSpec",
    "FailureReport",
    "InlineExecutor",
    "ReplayReport",
    "Shard",
    "ShardResult",
    "default_executor",
    "replay_known",
    "run_campaign",
    "run_shard",
    "shard_seeds",
    "workload_of",
]


@dataclass(frozen=True)
class CampaignSpec:
    """What to fuzz and how much. Picklable, so shards can travel to worker processes.

    ``workload`` is a reference (an entry-point name or ``pkg.mod:attr``) that each worker resolves with
    :func:`~splitbrain.sim.loading.load_workload`, or a :class:`Workload` instance, which travels by pickle
    (its class must be importable there). ``strategy`` is one of
    :data:`~splitbrain.fuzz.strategies.STRATEGIES`; ``depth`` is PCT's bug depth.
    """

    workload: str | Workload
    variant: str = "correct"
    seed: int = 0
    examples: int | None = None
    seconds: float | None = None
    workers: int = 1
    #: fault kinds, or a whole :class:`~splitbrain.sim.FaultConfig` (weights, budget: a variant's search
    #: settings); ``None``: the workload's own
    faults: tuple[str, ...] | FaultConfig | None = None
    max_steps: int | None = None
    store: str = ".splitbrain"
    shard_size: int = 100
    shrink: bool = True
    keep_going: bool = False
    strategy: str = "portfolio"
    depth: int = 3

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r} (known: {', '.join(STRATEGIES)})")
        if self.depth < 1:
            raise ValueError(f"depth must be >= 1, got {self.depth}")

    @property
    def name(self) -> str:
        """The workload's own name (what failures are filed under)."""
        return workload_of(self).name

    @property
    def label(self) -> str:
        return f"{self.name}/{self.variant}"


@functools.lru_cache(maxsize=32)
def _load_ref(ref: str) -> Workload:
    return load_workload(ref)


def workload_of(spec: CampaignSpec) -> Workload:
    """The workload a spec names, loaded once per process."""
    return spec.workload if isinstance(spec.workload, Workload) else _load_ref(spec.workload)


@dataclass(frozen=True)
class Shard:
    spec: CampaignSpec
    index: int
    seed: int
    examples: int
    deadline: float | None  # time.time() value: wall clock, comparable across processes
    marker: str | None = None  # a file in the store the campaign created: seeing it means a shared store
    stop_file: str | None = None  # a file in the store where the campaign writes the lowest failing shard


class _StopSignal:
    """Whether the campaign has told shard ``index`` to stop: once a shard fails, the campaign writes its
    index to a file in the store, and the shards above it — whose results the report will not use — stop
    at their next schedule and skip shrinking instead of running to their end (a worker that cannot see
    the store, on another host, runs its shard out as before). A check is a ``stat`` while the file does
    not exist, so it costs next to nothing per schedule."""

    def __init__(self, root: str, name: str, index: int) -> None:
        self.path, self.index = Path(root) / name, index

    def __call__(self) -> bool:
        if not self.path.exists():
            return False
        try:
            text = self.path.read_text().strip()
        except OSError:
            return False
        return text.isdigit() and int(text) < self.index


@dataclass(frozen=True)
class FailureReport:
    """A failure found and saved: where, how it failed, and its trace length before and after shrinking."""

    path: str
    signature: str
    message: str
    seed: int
    steps_found: int
    steps_shrunk: int
    #: the portfolio arm whose schedule found it (empty for the other strategies)
    found_by: str = ""
    #: the saved trace's choices that differ from the default order (:mod:`splitbrain.fuzz.deviations`)
    deviations: int | None = None
    #: what the breadth-first search for a shorter trace did (:meth:`ShortestResult.summary
    #: <splitbrain.fuzz.shortest.ShortestResult.summary>`); ``None`` when it did not run (``--no-shrink``)
    shortest: dict[str, Any] | None = None


@dataclass(frozen=True)
class ShardResult:
    index: int
    schedules: int
    unknown: int
    failures: list[FailureReport]
    stats: ShardStats = field(default_factory=ShardStats)
    #: records the worker could not write (position in ``failures``, record): the campaign writes them
    unsaved: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


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
    stats: CampaignStats = field(default_factory=CampaignStats)
    #: failures of shards above the reported one that were already running when it failed (several
    #: workers only): saved to the store, kept out of everything else here so the report stays that of
    #: running the shards one by one
    also_found: list[FailureReport] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """A failure was found, a known one still fails, or the campaign was vacuous (a ``sometimes``
        property no schedule reached)."""
        return bool(self.failures) or any(r.still_fails for r in self.replayed) or bool(self.vacuous)

    @property
    def vacuous(self) -> list[str]:
        """The ``sometimes`` properties no schedule reached (only judged when nothing failed: a failing
        campaign stops early)."""
        return [] if self.failures else self.stats.vacuous()


class _WorkerStore:
    """The store as a worker sees it: writable only if the campaign's marker is visible."""

    def __init__(self, root: str, marker: str | None) -> None:
        self.store = FailureStore(Path(root))
        self.ok = marker is None or (Path(root) / marker).exists()

    def save(self, record: dict[str, Any]) -> Path | None:
        if not self.ok:
            return None
        try:
            return self.store.save(record)
        except OSError:
            self.ok = False
            return None


def _with_fewer_deviations(workload: Workload, shrunk: ScheduleResult, signature: str) -> tuple[ScheduleResult, int]:
    """A shrunk failure moved toward the default order (:func:`fewer_deviations`), then shrunk again so it
    stays 1-minimal; kept when it has fewer deviations and is at most a quarter longer. Returns the
    failure kept and its deviations."""
    fewer = fewer_deviations(workload, shrunk.trace, signature, max_replays=100)
    if fewer.result is None:
        return shrunk, fewer.before
    again = shrink_trace(workload, fewer.trace, signature)
    if again.result.verdict.signature != signature:
        return shrunk, fewer.before
    deviations = count_deviations(workload, again.trace)
    if deviations < fewer.before and len(again.trace.steps) <= len(shrunk.trace.steps) * 5 // 4 + 1:
        return again.result, deviations
    return shrunk, fewer.before


#: the campaign's breadth-first search for a shorter trace, kept small so that a campaign stays fast:
#: about a second on the zoo's failures (a replay of a shrunk trace takes a few milliseconds). Only the
#: replay count bounds it — no seconds — so the trace a campaign saves is the same on any machine however
#: loaded (same seed, same trace). A trace longer than ``max_steps`` is not searched (cutting it at every
#: step would spend the budget), which also bounds the time of a workload whose replays are slow.
SHORTEST_BUDGET: dict[str, Any] = {"depth": 2, "max_replays": 300, "timeout": None, "max_steps": 200}


def _shortened(
    workload: Workload, shrunk: ScheduleResult, signature: str, deviations: int
) -> tuple[ScheduleResult, int, dict[str, Any]]:
    """A shrunk failure replaced by a shorter one when the bounded breadth-first search of
    :func:`shorter_trace` finds one (it fails the same way, replays exactly and is shrunk again).
    Returns the failure kept, its deviations and what the search did."""
    search = shorter_trace(workload, shrunk.trace, signature, **SHORTEST_BUDGET)
    if search.result is None:
        return shrunk, deviations, search.summary()
    return search.result, count_deviations(workload, search.trace), search.summary()


def run_shard(shard: Shard) -> ShardResult:
    """Run one shard (in a worker): search, save at once, shrink, save the shrunk trace in its place."""
    started = time.perf_counter()
    spec = shard.spec
    workload = workload_of(spec)
    observer = StatsObserver(workload)
    observed = observer.wrap(workload)
    faults = FaultConfig.coerce(spec.faults) if spec.faults is not None else None
    store = _WorkerStore(spec.store, shard.marker)
    stop = _StopSignal(spec.store, shard.stop_file, shard.index) if shard.stop_file else None
    first_path: list[Path] = []

    def save_found(result: ScheduleResult) -> None:
        observer.active = False  # statistics cover the search, not the shrinking
        record = failure_record(
            workload, shard.seed, result, campaign=spec, stage="found", steps_found=len(result.trace.steps)
        )
        path = store.save(record)
        if path is not None:
            first_path.append(path)

    if spec.strategy == "portfolio":
        with process_independent_hypothesis():
            outcome = portfolio_search(
                observed, spec.variant, observer=observer, seed_value=shard.seed, examples=shard.examples,
                faults=faults, max_steps=spec.max_steps, deadline=shard.deadline, on_found=save_found, stop=stop,
            )
    elif spec.strategy == "hypothesis":
        with process_independent_hypothesis():
            outcome = hypothesis_search(
                observed, spec.variant, seed_value=shard.seed, examples=shard.examples, faults=faults,
                max_steps=spec.max_steps, shrink_runs=300 if spec.shrink else 0, deadline=shard.deadline,
                on_found=save_found, stop=stop,
            )
    else:
        outcome = source_search(
            observed, spec.variant, spec.strategy, seed_value=shard.seed, examples=shard.examples,
            faults=faults, max_steps=spec.max_steps, depth=spec.depth, deadline=shard.deadline,
            on_found=save_found, stop=stop,
        )
    failures: list[FailureReport] = []
    unsaved: list[tuple[int, dict[str, Any]]] = []
    if outcome.failure is not None and outcome.first is not None:
        found = outcome.first
        best = outcome.failure
        signature = best.verdict.signature
        assert signature is not None
        if spec.shrink and not (stop is not None and stop()):  # a shard told to stop keeps the trace found
            shrunk = shrink_trace(workload, best.trace, signature)
            if shrunk.result.verdict.signature == signature:
                best = shrunk.result
            best, deviations = _with_fewer_deviations(workload, best, signature)
            best, deviations, shortest = _shortened(workload, best, signature, deviations)
        else:
            deviations, shortest = count_deviations(workload, best.trace), None
        record = failure_record(
            workload, shard.seed, best, campaign=spec, stage="shrunk", steps_found=len(found.trace.steps)
        )
        record["deviations"] = deviations
        if shortest is not None:
            record["shortest"] = shortest
        path = store.save(record)
        if path is None:
            unsaved.append((len(failures), record))
        for old in first_path:
            if old != path and old.exists():
                old.unlink()
        failures.append(FailureReport(
            path=str(path or ""), signature=signature, message=best.verdict.message, seed=shard.seed,
            steps_found=len(found.trace.steps), steps_shrunk=len(best.trace.steps), found_by=outcome.arm or "",
            deviations=deviations, shortest=shortest,
        ))
    stats = observer.shard_stats(outcome.schedules, time.perf_counter() - started, arms=outcome.arms)
    return ShardResult(shard.index, outcome.schedules, outcome.unknown, failures, stats, unsaved)


def replay_known(spec: CampaignSpec) -> list[ReplayReport]:
    """Replay the saved failures of this workload and variant: do they still fail the same way?"""
    workload = workload_of(spec)
    reports = []
    for path in FailureStore(Path(spec.store)).paths(workload.name, spec.variant):
        try:
            record = load_failure(path)
        except InvalidHistory:
            if not path.exists():
                continue  # another campaign sharing the store shrank it away between listing and reading
            raise
        result = replay_trace(workload, trace_of(record))
        now = result.verdict.signature
        reports.append(ReplayReport(str(path), record.get("signature") or "", now == record.get("signature"), now))
    return reports


def shard_seeds(seed: int) -> random.Random:
    return random.Random(f"splitbrain-campaign-{seed}")


def _client_save(spec: CampaignSpec, result: ShardResult) -> ShardResult:
    """Write the records a worker returned unsaved; the reports then point at the files."""
    if not result.unsaved:
        return result
    store = FailureStore(Path(spec.store))
    failures = list(result.failures)
    for position, record in result.unsaved:
        failures[position] = replace(failures[position], path=str(store.save(record)))
    return replace(result, failures=failures, unsaved=[])


def _new_stats(spec: CampaignSpec) -> CampaignStats:
    workload = workload_of(spec)
    return CampaignStats(
        strategy=spec.strategy, depth=spec.depth, actors=workload.node_count + workload.clients,
        max_steps=spec.max_steps if spec.max_steps is not None else workload.max_steps,
        sometimes=tuple(p.name for p in workload.properties if isinstance(p, Sometimes)),
    )


def _tell_stop(path: Path, index: int) -> None:
    """Tell the shards above ``index`` to stop (see :class:`_StopSignal`): written whole, then renamed into
    place, so no shard reads half a number."""
    partial = path.with_name(path.name + ".tmp")
    try:
        partial.write_text(str(index))
        partial.replace(path)
    except OSError:
        pass  # the store is read-only or gone: the shards run to their end, as they did before


def run_campaign(
    spec: CampaignSpec, *, executor: cf.Executor | None = None, progress: Progress | None = None,
    replay_first: bool = True, parallelism: int | None = None,
) -> CampaignReport:
    """Run a campaign to its budget (``examples`` or ``seconds``; default 30 s), or to its first failure
    unless ``keep_going`` (see the module docstring for which failure is reported).

    ``parallelism`` is how many shards to keep in flight (default: twice ``spec.workers`` when above 1).
    """
    if spec.examples is None and spec.seconds is None:
        spec = replace(spec, seconds=30.0)
    report = CampaignReport(spec, stats=_new_stats(spec))
    FailureStore(Path(spec.store)).check_writable()  # a found bug must have somewhere to go
    started = time.monotonic()
    progress = progress or Progress(spec.label, enabled=False)
    if replay_first:
        report.replayed = replay_known(spec)
        for r in report.replayed:
            state = "still fails" if r.still_fails else f"no longer fails ({r.now or 'passes'})"
            progress.note(f"replayed {r.path}: {state}")
    deadline = None if spec.seconds is None else time.time() + spec.seconds
    rng = shard_seeds(spec.seed)
    own = executor is None
    pool = executor if executor is not None else default_executor(spec.workers)
    in_flight = 2 * parallelism if parallelism else (spec.workers * 2 if spec.workers > 1 else 1)
    if isinstance(pool, InlineExecutor):
        in_flight = 1  # submit runs the shard at once: a second one in flight would only be wasted work
    marker = Path(spec.store) / f".campaign-{uuid.uuid4().hex}"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    stop_file = marker.with_name(marker.name + ".stop")
    remaining = spec.examples
    index = 0
    pending: dict[cf.Future[ShardResult], int] = {}
    draining: list[cf.Future[ShardResult]] = []  # shards above the lowest failure already running
    results: dict[int, ShardResult] = {}
    stop_at: int | None = None  # the lowest failing shard, when stopping at the first failure

    def submit_more() -> None:
        nonlocal index, remaining
        while stop_at is None and len(pending) < in_flight:
            if deadline is not None and time.time() >= deadline:
                return
            if remaining is not None and remaining <= 0:
                return
            size = spec.shard_size if remaining is None else min(spec.shard_size, remaining)
            if remaining is not None:
                remaining -= size
            shard = Shard(spec, index, rng.getrandbits(32), size, deadline, marker.name, stop_file.name)
            pending[pool.submit(run_shard, shard)] = index
            index += 1

    try:
        with progress:
            submit_more()
            while pending:
                done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: pending[f]):
                    shard_index = pending.pop(future)
                    shard_result = _client_save(spec, future.result())
                    results[shard_index] = shard_result
                    progress.update(shard_result.schedules, len(shard_result.failures))
                    for failure in shard_result.failures:
                        kept = (f"trace shrunk from {failure.steps_found} to {failure.steps_shrunk} steps"
                                if spec.shrink else f"trace of {failure.steps_found} steps, not shrunk")
                        progress.note(f"failure ({failure.signature}) saved to {failure.path}; {kept}")
                    if shard_result.failures and not spec.keep_going:
                        stop_at = shard_index if stop_at is None else min(stop_at, shard_index)
                if stop_at is not None:
                    _tell_stop(stop_file, stop_at)
                    # keep waiting only for the shards below the lowest failure: they decide the report
                    for future in [f for f, i in pending.items() if i > stop_at]:
                        if not future.cancel():
                            draining.append(future)  # running: it cannot be stopped, and may save a failure
                        del pending[future]
                submit_more()
            for future in draining:
                if future.exception() is None:
                    report.also_found.extend(_client_save(spec, future.result()).failures)
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
        marker.unlink(missing_ok=True)
        stop_file.unlink(missing_ok=True)
    for shard_index in sorted(results):
        if stop_at is not None and shard_index > stop_at:
            continue
        shard_result = results[shard_index]
        report.schedules += shard_result.schedules
        report.unknown += shard_result.unknown
        report.failures.extend(shard_result.failures)
        report.stats.add(shard_result.stats)
    report.seconds = time.monotonic() - started
    return report
