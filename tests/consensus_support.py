"""Helpers shared by the workloads' tests: correct versions pass, bugs are found within a budget."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from typing import Any

from splitbrain.fuzz.schedule import ScheduleResult, run_schedule
from splitbrain.fuzz.shrink import ShrinkResult, shrink_trace
from splitbrain.sim import FAULT_KINDS, FaultConfig, RandomSource, World, replay


def passes(
    workload: Any, seeds: range, faults: FaultConfig | None = None, steps: int | None = None, unknown: int = 0
) -> int:
    """Run the correct version over ``seeds``; fail on any flagged schedule; return the ok count.

    ``unknown`` is how many histories the checker may leave undecided (neither pass nor failure)."""
    oks = 0
    for seed in seeds:
        result = run_schedule(workload, "correct", RandomSource(seed), faults=faults, max_steps=steps)
        assert not result.verdict.failed, (seed, result.verdict.message)
        unknown -= int(result.verdict.unknown)
        assert unknown >= 0, f"too many histories the checker could not decide (last: seed {seed})"
        oks += sum(op.type == "ok" for op in result.history.ops)
    return oks


#: every fault kind, the opt-in bridge partition included (and weighted up so it shows in short runs)
EVERY_FAULT = FaultConfig(kinds=FAULT_KINDS, weights={"bridge": 10})


def bridged(workload: Any, seeds: range) -> int:
    """How many of the runs of ``seeds`` under :data:`EVERY_FAULT` had a bridge partition."""
    return sum(
        any(s.kind == "bridge" for s in World(workload, seed=seed, faults=EVERY_FAULT).run().trace.steps)
        for seed in seeds
    )


def first_seeded_failure(
    workload: Any, variant: str, budget: int, faults: FaultConfig | None = None, steps: int | None = None,
    caught_by: Collection[str] | None = None,
) -> tuple[int, ScheduleResult]:
    """(seed, result) of the first failing seeded schedule of ``variant`` below ``budget``; asserts that
    it failed one of the ``caught_by`` ways when given."""
    for seed in range(budget):
        result = run_schedule(workload, variant, RandomSource(seed), faults=faults, max_steps=steps)
        if result.verdict.failed:
            assert caught_by is None or result.verdict.signature in caught_by, result.verdict.message
            return seed, result
    raise AssertionError(f"{variant} not found in {budget} schedules")


def first_default_failure(
    workload: Any, variant: str, budget: int, *, seed: int = 1, caught_by: Collection[str] | None = None,
) -> tuple[int, ScheduleResult]:
    """(schedules run, first failure) of the default search — what ``splitbrain fuzz W --variant V --count
    BUDGET --seed SEED`` runs: a campaign with the default strategy (the portfolio), the workload's own
    faults and run length, nothing tuned per variant — replayed from its saved trace; asserts that it
    failed one of the ``caught_by`` ways when given."""
    import tempfile

    from splitbrain.fuzz.campaign import CampaignSpec, run_campaign
    from splitbrain.fuzz.saved import trace_of
    from splitbrain.fuzz.schedule import replay_trace
    from splitbrain.fuzz.store import load_failure

    with tempfile.TemporaryDirectory() as store:
        report = run_campaign(CampaignSpec(workload, variant, seed=seed, examples=budget, store=store, shrink=False),
                              replay_first=False)
        assert report.failures, f"{variant} not found in {budget} schedules of the default search (seed {seed})"
        record = load_failure(report.failures[0].path)
    found = replay_trace(workload, trace_of(record))
    assert found.verdict.signature == report.failures[0].signature
    assert caught_by is None or found.verdict.signature in caught_by, found.verdict.message
    return report.schedules, found


def default_failures(
    workload: Any, find: Mapping[str, tuple[int, Collection[str] | None]]
) -> Callable[[str], ScheduleResult]:
    """``variant -> its first failure in the default search`` (:func:`first_default_failure`, seed 1), with
    ``find[variant] = (budget, caught_by)``; each variant searched once per test session."""

    @functools.cache
    def first_failure(variant: str) -> ScheduleResult:
        budget, caught_by = find[variant]
        return first_default_failure(workload, variant, budget, caught_by=caught_by)[1]

    return first_failure


def passes_every_partition_shape(three: Any, five: Any) -> None:
    """The correct version of a workload (3 and 5 nodes) passes under every fault, the bridge included."""
    assert bridged(five, range(10)) >= 3  # the bridge did happen
    passes(five, range(10), EVERY_FAULT, unknown=1)
    passes(three, range(15), EVERY_FAULT, unknown=1)


def shrinks_within(
    workload: Any, result: ScheduleResult, replays: int, bound: int, *, minimal: bool = False
) -> ShrinkResult:
    """Shrink a failure within ``replays``; assert it still fails the same way in at most ``bound`` steps
    (1-minimal when ``minimal``) and that the shrunk trace is a real run that replays step for step."""
    signature = result.verdict.signature
    assert signature is not None
    small = shrink_trace(workload, result.trace, signature, max_replays=replays)
    assert small.result.verdict.signature == signature
    assert small.replays <= replays
    assert small.after <= bound, (result.trace.variant, small.before, small.after)
    assert small.minimal or not minimal, (result.trace.variant, "not 1-minimal within", replays, "replays")
    again = replay(small.trace, workload)
    assert again.skipped == 0 and again.trace.dumps() == small.trace.dumps()
    return small


def started(workload: Any) -> World:
    """A fault-free world of ``workload`` after its start step, for hand-built invariant tests."""
    world = World(workload, seed=0, faults=[])
    world.start()
    return world
