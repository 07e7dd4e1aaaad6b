"""Fuzzing as an assertion, for tests: ``fuzz_workload(...)`` passes or raises with the minimal trace.

Known failures of the same workload and variant are replayed first (a regression test for free); then
Hypothesis generates schedules. A failure is saved to the store, shrunk, and raised as
:class:`FuzzFailure` whose message is the shrunk trace, the verdict, and the command that replays it.
"""

from __future__ import annotations

import copy
import secrets
import zlib
from pathlib import Path

from hypothesis import settings
from hypothesis.errors import InvalidArgument

from splitbrain.errors import SplitbrainError, UsageError
from splitbrain.fuzz.explore import hypothesis_search
from splitbrain.fuzz.saved import failure_record, trace_of
from splitbrain.fuzz.schedule import ScheduleResult, replay_trace
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.fuzz.store import FailureStore, load_failure
from splitbrain.sim import FaultConfig, Invariant, Workload, World
from splitbrain.sim.loading import load_workload, workload_ref
from splitbrain.sim.properties import PropertyWatch, Sometimes, watch_of

__all__ = ["FuzzFailure", "fuzz_workload"]


class FuzzFailure(SplitbrainError, AssertionError):
    """A fuzzed workload failed; the message holds the minimal trace and how to replay it."""

    __module__ = "splitbrain"  # its public name, as a failing test prints it (trio's habit)

    def __init__(self, message: str, *, path: Path | None, signature: str) -> None:
        super().__init__(message)
        #: the saved failure (``None`` for a vacuous run: no schedule reached a ``sometimes`` property)
        self.path = path
        self.signature = signature


def _explain(result: ScheduleResult, path: Path, workload: Workload, *, found: int | None = None) -> str:
    steps = len(result.trace.steps)
    size = f"{steps} steps" + (f" (shrunk from {found})" if found is not None and found != steps else "")
    if workload_ref(workload) is not None:
        how = f"replay: splitbrain replay {path}    view: splitbrain show {path}"
    else:  # defined in a script's __main__ or a function: no other process can import it
        how = (f"replay: splitbrain.replay_failure({str(path)!r}, workload) from Python (the workload is "
               "defined where the command line cannot import it; define it in a module to replay it from "
               "the shell)")
    return "\n".join([
        f"{result.trace.workload}/{result.trace.variant} failed: {result.verdict.signature}, trace of {size}",
        result.trace.describe(),
        result.verdict.message,
        f"saved to {path}",
        how,
    ])


def _noting_reached(workload: Workload, watches: list[PropertyWatch]) -> Workload:
    """A shallow copy of ``workload`` with one more invariant, which never fails: it keeps each world's
    property watch in ``watches``, so that what every schedule reached can be read once it is over."""

    def note(world: World) -> None:
        watch = watch_of(world)
        if watch is not None and (not watches or watches[-1] is not watch):
            watches.append(watch)
        return None

    noting = copy.copy(workload)
    noting.invariants = (*workload.invariants, Invariant("(sometimes reached)", note))
    return noting


def fuzz_workload(
    workload: Workload | str,
    variant: str = "correct",
    *,
    examples: int | None = None,
    seed: int | None = None,
    faults: FaultConfig | list[str] | None = None,
    max_steps: int | None = None,
    store: str | Path = ".splitbrain",
    replay_saved: bool = True,
    profile: str | settings | None = None,
) -> int:
    """Fuzz ``workload`` (an instance, a registered name or an import path ``pkg.mod:attr``); return the
    number of schedules run, or raise :class:`FuzzFailure` with the shrunk trace.

    ``examples`` defaults to the Hypothesis profile's ``max_examples``: ``profile`` (a registered name
    such as ``"splitbrain-ci"``, or a ``settings`` object) or else the active one. ``seed`` defaults to one
    derived from the workload and variant names, so a run is deterministic, unless the profile is not
    derandomized, in which case each run explores new schedules.
    """
    __tracebackhide__ = True  # a failing test shows the trace and the verdict, not this function
    workload = load_workload(workload)
    workload.node_class(variant)
    failures = FailureStore(Path(store))
    if replay_saved:
        for path in failures.paths(workload.name, variant):
            record = load_failure(path)
            again = replay_trace(workload, trace_of(record))
            if again.verdict.failed:
                raise FuzzFailure(
                    "a saved failure still fails:\n" + _explain(again, path, workload),
                    path=path, signature=again.verdict.signature or "",
                )
    if examples is not None and (not isinstance(examples, int) or examples < 1):
        raise UsageError(f"examples must be a positive number of schedules, got {examples!r}")
    try:
        chosen = settings.get_profile(profile) if isinstance(profile, str) else profile or settings()
    except InvalidArgument as exc:
        raise UsageError(f"unknown Hypothesis profile {profile!r}: {exc}") from None
    if seed is None:
        base = zlib.crc32(f"{workload.name}/{variant}".encode())
        seed = base if chosen.derandomize else base ^ secrets.randbits(32)
    # sometimes properties (splitbrain.sim.properties): noted as schedules reach them, by an invariant that
    # never fails, so the schedules drawn are the same with or without them
    sometimes = [p.name for p in workload.properties if isinstance(p, Sometimes)]
    watches: list[PropertyWatch] = []
    searched = _noting_reached(workload, watches) if sometimes else workload
    outcome = hypothesis_search(
        searched, variant, seed_value=seed, examples=examples or chosen.max_examples,
        faults=FaultConfig.coerce(faults) if faults is not None else None, max_steps=max_steps,
        on_found=lambda r: None,
    )
    if outcome.failure is None or outcome.first is None:
        reached = set().union(*(watch.reached for watch in watches))
        never = [name for name in sometimes if name not in reached]
        if never and outcome.schedules:
            raise FuzzFailure(
                f"vacuous: none of the {outcome.schedules} schedules of {workload.name}/{variant} reached the "
                f"sometimes propert{'y' if len(never) == 1 else 'ies'} {', '.join(never)}, so passing them says "
                f"nothing about that situation (more examples, other faults, or a workload that can get there)",
                path=None, signature="vacuous",
            )
        return outcome.schedules
    best = outcome.failure
    signature = best.verdict.signature or ""
    shrunk = shrink_trace(workload, best.trace, signature)
    if shrunk.result.verdict.signature == signature:
        best = shrunk.result
    found = len(outcome.first.trace.steps)
    path = failures.save(failure_record(workload, seed, best, stage="shrunk", steps_found=found))
    raise FuzzFailure(_explain(best, path, workload, found=found), path=path, signature=signature)
