"""Quality tests: every rate-limiter bug is found within a stated budget and shrunk to a short
interleaving; the correct versions pass; runs are deterministic.

Budgets are schedules of the default search (the portfolio, each workload's own faults and run length) in a
campaign from seed 1, and shrink bounds are steps (start and quiesce included) after a stated number of replays.
``benchmarks/bug_zoo.py`` measures the medians (one to three schedules for every variant).
"""

from __future__ import annotations

from typing import Any

import pytest

from consensus_support import first_default_failure
from splitbrain import load_workload
from splitbrain.fuzz.explore import hypothesis_search
from splitbrain.fuzz.schedule import ScheduleResult, run_schedule
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.impls.traffic.rate_limit.cluster import SEARCH as CLUSTER_SEARCH
from splitbrain.impls.traffic.rate_limit.threaded import (
    BURST,
    RATE,
    SEARCH,
    MeterNode,
    TokenBucketNode,
    TokenBucketWorkload,
)
from splitbrain.impls.traffic.rate_limit.token_bucket import TokenBucket
from splitbrain.sim import FaultConfig, RandomSource, World, replay
from splitbrain.sim.threads import Sync

BUDGET = 30  # schedules of the default search within which every variant must be found
#: (workload, variant) -> (what catches it, shrunk steps bound, replays); None: shrunk only in the slow run
BUGS: dict[tuple[str, str], tuple[str, int | None, int]] = {
    ("token-bucket", "check-then-act"): ("invariant:tokens-within-burst", 30, 200),
    ("token-bucket", "clock-backwards"): ("checker:rate-limit", 85, 600),
    ("leaky-bucket", "check-then-act"): ("checker:rate-limit", None, 600),
    ("leaky-bucket", "clock-backwards"): ("checker:rate-limit", None, 600),
    ("leaky-queue", "check-then-act"): ("invariant:queue-within-capacity", 30, 200),
    ("leaky-queue", "clock-backwards"): ("invariant:departures-at-rate", None, 600),
    ("rate-limit-cluster", "non-atomic-increment"): ("checker:rate-limit", None, 600),
}
SLOW_BOUND = 100  # steps, for every variant, after 600 replays


def search(workload: str, variant: str) -> tuple[FaultConfig, int]:
    return (CLUSTER_SEARCH if workload == "rate-limit-cluster" else SEARCH)[variant]


def first_failure(workload: str, variant: str) -> ScheduleResult:
    """The first failure of the default search (a campaign from seed 1, the workload's own faults)."""
    return first_default_failure(load_workload(workload), variant, BUDGET)[1]


def test_the_workloads_are_registered_with_their_bugs() -> None:
    assert {name: load_workload(name).bug_variants for name in
            ("token-bucket", "leaky-bucket", "leaky-queue", "rate-limit-cluster")} == {
        "token-bucket": ["check-then-act", "clock-backwards"],
        "leaky-bucket": ["check-then-act", "clock-backwards"],
        "leaky-queue": ["check-then-act", "clock-backwards"],
        "rate-limit-cluster": ["non-atomic-increment"],
    }


@pytest.mark.parametrize(("workload", "variant"), list(BUGS))
def test_every_bug_is_found_within_budget_and_shrinks(workload: str, variant: str) -> None:
    caught_by, bound, replays = BUGS[(workload, variant)]
    result = first_failure(workload, variant)
    assert result.verdict.signature == caught_by, result.verdict.message
    if bound is None:
        return
    small = shrink_trace(load_workload(workload), result.trace, caught_by, max_replays=replays)
    assert small.result.verdict.signature == caught_by
    assert small.after <= bound, small.trace.describe()


@pytest.mark.slow
@pytest.mark.parametrize(("workload", "variant"), list(BUGS))
def test_every_bug_shrinks_far(workload: str, variant: str) -> None:
    caught_by, _, _ = BUGS[(workload, variant)]
    result = first_failure(workload, variant)
    small = shrink_trace(load_workload(workload), result.trace, caught_by, max_replays=600)
    assert small.after <= SLOW_BOUND, small.trace.describe()


def test_a_shrunk_race_reads_as_the_race() -> None:
    """check-then-act shrinks to threads that all check before any takes, and the trace says so."""
    result = first_failure("token-bucket", "check-then-act")
    small = shrink_trace(load_workload("token-bucket"), result.trace, "invariant:tokens-within-burst", max_replays=200)
    notes = [s.note for s in small.trace.steps if s.note]
    takes = [i for i, note in enumerate(notes) if note == "at 'take token'"]
    # two threads saw the last token: some take follows two checks with no take between them
    assert any(notes[before + 1:take].count("at 'check tokens'") >= 2
               for before, take in zip([-1, *takes], takes, strict=False)), notes
    assert "n1's bucket holds -" in small.result.verdict.message
    again = replay(small.trace, load_workload("token-bucket"))
    assert again.trace.dumps() == small.result.run.trace.dumps()


def test_clock_backwards_is_explained_on_the_node_clock() -> None:
    message = first_failure("token-bucket", "clock-backwards").verdict.message
    assert message.startswith("rate limit exceeded:")
    assert "clock n1" in message and "the limiter's clock advanced at most" in message


def test_hypothesis_finds_and_shrinks_the_check_then_act_race() -> None:
    workload = load_workload("token-bucket")
    outcome = hypothesis_search(workload, "check-then-act", seed_value=0, examples=50, shrink_runs=100)
    assert outcome.failure is not None
    signature = outcome.failure.verdict.signature
    assert signature == "invariant:tokens-within-burst"
    small = shrink_trace(workload, outcome.failure.trace, signature, max_replays=100)
    assert small.after <= 30, small.trace.describe()


# -- the correct versions -------------------------------------------------------------------------------------
def passes(workload: str, seeds: range, faults: FaultConfig | None = None, steps: int | None = None) -> int:
    """Run the correct version over ``seeds``; fail on any flagged schedule; return the admitted count."""
    admitted = 0
    for seed in seeds:
        result = run_schedule(load_workload(workload), "correct", RandomSource(seed), faults=faults, max_steps=steps)
        assert not result.verdict.failed, (seed, result.verdict.message)
        assert not result.verdict.unknown, seed
        admitted += sum(op.type == "ok" for op in result.history.ops)
    return admitted


CONFIGS = ["default", "check-then-act", "clock-backwards"]


@pytest.mark.parametrize("workload", ["token-bucket", "leaky-bucket", "leaky-queue"])
@pytest.mark.parametrize("config", CONFIGS)
def test_the_correct_limiters_pass(workload: str, config: str) -> None:
    faults, steps = (None, None) if config == "default" else SEARCH[config]
    assert passes(workload, range(12), faults, steps) > 0


def test_the_correct_cluster_passes() -> None:
    assert passes("rate-limit-cluster", range(20)) > 0
    assert passes("rate-limit-cluster", range(10), *CLUSTER_SEARCH["non-atomic-increment"]) > 0


@pytest.mark.slow
@pytest.mark.parametrize("workload", ["token-bucket", "leaky-bucket", "leaky-queue", "rate-limit-cluster"])
def test_the_correct_versions_pass_long_campaigns(workload: str) -> None:
    configs = [(None, None)] + ([CLUSTER_SEARCH["non-atomic-increment"]] if workload == "rate-limit-cluster"
                                else [SEARCH["check-then-act"], SEARCH["clock-backwards"]])
    for faults, steps in configs:
        passes(workload, range(1000, 1600), faults, steps)


# -- the checks have teeth and runs are deterministic --------------------------------------------------------
class SlowBucketNode(MeterNode):
    """A bucket refilling at half the rate the workload promises: it rejects requests it should admit."""

    def create(self, sync: Sync) -> Any:
        return TokenBucket(RATE / 2, BURST, sync)


def test_a_limiter_slower_than_promised_is_caught_by_the_rejection_property() -> None:
    workload = TokenBucketWorkload(variants={"correct": TokenBucketNode, "slow": SlowBucketNode})
    for seed in range(BUDGET):
        result = run_schedule(workload, "slow", RandomSource(seed), faults=FaultConfig(kinds=()))
        if result.verdict.failed:
            assert result.verdict.signature == "checker:rate-limit"
            assert result.verdict.message.startswith("needless rejection:")
            return
    raise AssertionError(f"the slow bucket was not caught in {BUDGET} schedules")


def test_invariants_see_a_broken_object() -> None:
    world = World(load_workload("token-bucket"), seed=0, faults=[])
    world.start()
    node = world.node("n1")
    assert isinstance(node, MeterNode)
    node.obj.tokens = -1
    from splitbrain.impls.traffic.rate_limit.threaded import tokens_within_burst

    assert tokens_within_burst.check(world) == "n1's bucket holds -1 tokens (allowed: 0 to 2)"
    world.close()


@pytest.mark.parametrize("workload", ["token-bucket", "leaky-queue", "rate-limit-cluster"])
def test_a_seed_gives_the_same_run_byte_for_byte(workload: str) -> None:
    w = load_workload(workload)
    variant = w.bug_variants[-1]
    first = World(w, variant, seed=3).run()
    assert World(w, variant, seed=3).run().trace.dumps() == first.trace.dumps()
    again = replay(first.trace, w)
    assert again.trace.dumps() == first.trace.dumps()
    assert again.history == first.history
