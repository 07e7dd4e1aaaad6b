"""Exploration strategies and campaign statistics: each strategy finds the early-ack bug, is
deterministic per seed, and the statistics and PCT bound are what they claim."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitbrain import load_workload
from splitbrain.fuzz.campaign import CampaignSpec, run_campaign
from splitbrain.fuzz.saved import trace_of
from splitbrain.fuzz.schedule import replay_trace
from splitbrain.fuzz.stats import CampaignStats, pct_bound
from splitbrain.fuzz.store import load_failure
from splitbrain.fuzz.strategies import PCTSource, swarm_faults
from splitbrain.sim import FaultConfig


@pytest.mark.parametrize("strategy", ["portfolio", "random", "pct", "swarm"])
def test_strategy_finds_early_ack_and_replays(strategy: str, tmp_path: Path) -> None:
    spec = CampaignSpec("primary-backup", "early-ack", seed=1, examples=200, store=str(tmp_path),
                        strategy=strategy, shard_size=50, shrink=False)
    report = run_campaign(spec)
    assert [f.signature for f in report.failures] == ["checker:linearizability"]
    record = load_failure(report.failures[0].path)
    assert record["strategy"] == strategy and record["stage"] == "shrunk"
    again = replay_trace(load_workload("primary-backup"), trace_of(record))
    assert again.verdict.signature == "checker:linearizability"
    # same seed, same campaign: same schedule count and the same shrunk trace
    twin = run_campaign(spec, replay_first=False)
    assert twin.schedules == report.schedules
    assert trace_of(load_failure(twin.failures[0].path)).dumps() == trace_of(record).dumps()


def test_correct_version_statistics(tmp_path: Path) -> None:
    report = run_campaign(CampaignSpec("primary-backup", "correct", seed=2, examples=20, store=str(tmp_path),
                                       strategy="pct", depth=2, shard_size=10))
    stats = report.stats
    assert report.failures == [] and stats.schedules == 20 == report.schedules
    assert stats.steps > 20 and sum(stats.faults.values()) > 0 and len(stats.states) > 1
    lines = stats.lines(report.seconds, report.failed)
    assert "distinct abstract states" in lines[2] and "Burckhardt" in lines[3]
    p = pct_bound(stats.actors, stats.max_steps, 2)
    assert p == pytest.approx(1 / (stats.actors * stats.max_steps))
    assert f"{(1 - p) ** 20:.6g}" in lines[3]


def test_confidence_of_random_strategies_and_failures() -> None:
    stats = CampaignStats(strategy="random", schedules=300)
    assert "0.01" in stats.confidence(False) and "no formal bound" in stats.confidence(False)
    assert "not applicable" in stats.confidence(True)


def test_pct_priorities_and_change_points() -> None:
    source = PCTSource(7, depth=3, max_steps=50)
    assert len(source.change) == 2 and all(1 <= s <= 50 for s in source.change)
    assert sorted(source.change.values()) == [1.0, 2.0]
    # without faults, the highest-priority actor's first event runs, whichever order events are listed
    enabled = [("timer:n1:tick", 1000), ("timer:n2:tick", 1000), ("invoke:0", 250)]
    pick = PCTSource(7, depth=1, max_steps=50).choose(enabled, "run")
    assert pick == PCTSource(7, depth=1, max_steps=50).choose(list(reversed(enabled)), "run")


def test_swarm_subsets_are_nonempty_and_seeded() -> None:
    base = FaultConfig()
    subsets = {swarm_faults(base, seed).kinds for seed in range(40)}
    assert all(kinds and set(kinds) <= set(base.kinds) for kinds in subsets)
    assert len(subsets) > 5
    assert swarm_faults(base, 3) == swarm_faults(base, 3)
    assert swarm_faults(FaultConfig(kinds=()), 3).kinds == ()
