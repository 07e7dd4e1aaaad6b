"""The default search strategy: the portfolio (its arms, its bandit, its corpus) and abstract-state
feedback. Short runs on the primary-backup workload, whose early-ack bug every arm finds in seconds."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pytest

from splitbrain import load_workload
from splitbrain.cli import main
from splitbrain.fuzz.campaign import CampaignSpec, run_campaign
from splitbrain.fuzz.portfolio import ARMS, FLOOR, Bandit, SplicedSource, fault_mix, mix_config, portfolio_search
from splitbrain.fuzz.saved import trace_of
from splitbrain.fuzz.schedule import replay_trace
from splitbrain.fuzz.stats import StatsObserver, abstract_state_of, default_abstract_state
from splitbrain.fuzz.store import load_failure
from splitbrain.fuzz.strategies import process_independent_hypothesis
from splitbrain.sim import FaultConfig, World

PB = load_workload("primary-backup")
#: the arms that run on PB: all but the kingmaker, which follows a role's changes and PB names no roles
PB_ARMS = tuple(a for a in ARMS if a != "kingmaker")


class Recording(StatsObserver):
    """An observer that also keeps every schedule's trace, as JSON."""

    def __init__(self, workload: Any) -> None:
        super().__init__(workload)
        self.traces: list[str] = []

    def _finish(self) -> None:
        if self._world is not None:
            self.traces.append(self._world.trace().dumps())
        super()._finish()


def search(variant: str, seed: int, examples: int, arms: tuple[str, ...] = ARMS) -> tuple[Any, Recording]:
    observer = Recording(PB)
    with process_independent_hypothesis():
        outcome = portfolio_search(observer.wrap(PB), variant, observer=observer, seed_value=seed,
                                   examples=examples, arms=arms)
    observer.shard_stats(outcome.schedules, 0.0)  # finish the last schedule
    return outcome, observer


def test_same_seed_same_schedules_byte_for_byte() -> None:
    a_out, a = search("correct", 7, 40)
    b_out, b = search("correct", 7, 40)
    assert a_out.schedules == b_out.schedules == 40 == len(a.traces)
    assert a.traces == b.traces  # every schedule, every arm (Hypothesis's slices included)
    assert a_out.arms == b_out.arms and set(a_out.arms) == set(PB_ARMS)
    assert sum(runs for runs, _ in a_out.arms.values()) == 40
    _, c = search("correct", 8, 40)
    assert c.traces != a.traces  # the seed matters


@pytest.mark.parametrize("arm", PB_ARMS)
def test_every_arm_finds_early_ack_and_its_failure_replays(arm: str) -> None:
    outcome, _ = search("early-ack", 2, 300, arms=(arm,))
    found = outcome.failure
    assert found is not None and found.verdict.signature == "checker:linearizability"
    assert outcome.arm in (arm, "swarm")  # a mutation with an empty corpus is a swarm schedule
    again = replay_trace(PB, found.trace)  # aims and spliced choices are all in the trace
    assert again.verdict.signature == found.verdict.signature
    assert again.trace.dumps() == found.trace.dumps()


def test_the_kingmaker_arm_needs_a_role_and_alone_finds_ongaros_membership_bug() -> None:
    with pytest.raises(ValueError, match="'kingmaker' those and a role"):
        search("early-ack", 2, 10, arms=("kingmaker",))
    # raft-reconfig's config-before-noop (Ongaro 2015) needs a voter of the new leader on the deposed
    # leader's side before any of the new leader's entries reach it: the kingmaker arm alone found it in
    # 10, 5, 10, 3, 9, 5, 10 and 8 schedules on seeds 1-8 (the portfolio before it: none in 1,000)
    reconfig = load_workload("raft-reconfig")
    observer = StatsObserver(reconfig)
    with process_independent_hypothesis():
        outcome = portfolio_search(observer.wrap(reconfig), "config-before-noop", observer=observer, seed_value=1,
                                   examples=50, arms=("kingmaker",))
    found = outcome.failure
    assert found is not None and outcome.arm == "kingmaker"
    assert found.verdict.signature in ("invariant:leader-completeness", "invariant:state-machine-safety")
    crossings = [s for s in found.trace.steps if s.aim is not None and "kingmaker" in s.aim]
    assert crossings and all(s.kind == "partition" for s in crossings)
    again = replay_trace(reconfig, found.trace)
    assert again.trace.dumps() == found.trace.dumps() and again.verdict.signature == found.verdict.signature


def test_spliced_child_replays_its_parent_up_to_the_splice() -> None:
    parent_source = SplicedSource(((0, 11, ()),))
    parent = World(PB, "correct", source=parent_source, max_steps=200).run()
    cut = 60
    at_call = parent_source.marks[cut]
    child_source = SplicedSource(((0, 11, ()), (at_call, 99, (("crash", 8), ("restart", 8)))))
    child = World(PB, "correct", source=child_source, max_steps=200).run()
    assert child.trace.steps[:cut + 1] == parent.trace.steps[:cut + 1]
    assert child.trace.steps != parent.trace.steps
    # the same splices make the same run
    twin = World(PB, "correct", source=SplicedSource(child_source.splices), max_steps=200).run()
    assert twin.trace.dumps() == child.trace.dumps()


def test_fault_mix_is_a_seeded_nonempty_reweighting() -> None:
    base = FaultConfig.coerce(PB.faults)
    for seed in range(30):
        mix = dict(fault_mix(base, random.Random(seed)))
        assert mix == dict(fault_mix(base, random.Random(seed)))
        kept = [k for k in base.kinds if k != "reorder" and mix.get(k, 1) > 0]
        assert kept, mix
        config = mix_config(base, tuple(sorted(mix.items())))
        assert set(config.kinds) == {k for k in base.kinds if mix.get(k, 1) > 0}


def test_bandit_tries_every_arm_and_keeps_a_floor() -> None:
    bandit = Bandit(list(ARMS), random.Random(3), {"hypothesis": 8})
    first = []
    for _ in ARMS:  # each untried arm comes first
        arm = bandit.pick()
        first.append(arm)
        bandit.reward(arm, 5.0 if arm == "pct" else 0.0, 8 if arm == "hypothesis" else 1)
    assert sorted(first) == sorted(ARMS)
    picks = [bandit.pick() for _ in range(4000)]
    share = {arm: picks.count(arm) / len(picks) for arm in ARMS}
    assert max(share, key=lambda a: share[a]) == "pct"  # the rewarded arm gets most of the picks
    for arm in ARMS:
        cost = 8 if arm == "hypothesis" else 1
        assert share[arm] * cost >= FLOOR / 2, share  # and none starves


def test_workload_declares_no_abstract_state_by_default() -> None:
    world = World(PB, "correct", seed=1, max_steps=50)
    world.run()
    assert PB.abstract_state(world) is None
    assert abstract_state_of(PB) is default_abstract_state
    raft = load_workload("raft-kv")
    assert abstract_state_of(raft) is not default_abstract_state


class Summarised(type(PB)):  # type: ignore[misc]
    """Primary-backup with a declared abstract state: just who is up."""

    def abstract_state(self, world: Any) -> Hashable | None:
        return tuple(world.node(n) is not None for n in world.node_ids)


def test_a_declared_abstract_state_is_what_campaigns_count(tmp_path: Path) -> None:
    report = run_campaign(CampaignSpec(Summarised(), "correct", seed=3, examples=60, store=str(tmp_path)))
    assert not report.failed and report.schedules == 60
    assert 1 < len(report.stats.states) <= 2 ** PB.node_count  # up/down per node and nothing more
    data = report.stats.to_json()
    assert data["strategy"] == "portfolio" and data["distinct_states"] == len(report.stats.states)
    growth = data["coverage"]
    assert growth[-1]["schedules"] == 60 and growth[-1]["states"] == len(report.stats.states)
    assert all(a["states"] <= b["states"] for a, b in itertools.pairwise(growth))
    assert sum(a["schedules"] for a in data["arms"].values()) == 60


def test_cli_default_is_the_portfolio_and_reports_coverage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fuzz", "primary-backup", "--count", "30", "--seed", "4", "--out", str(tmp_path), "--json"])
    out, err = capsys.readouterr()
    assert info.value.code in (0, None), err
    data = json.loads(out)["stats"]
    assert data["strategy"] == "portfolio" and data["schedules"] == 30
    assert data["distinct_states"] > 1 and data["coverage"] and set(data["arms"]) == set(PB_ARMS)
    assert "distinct abstract states" in err and "coverage:" in err and "arms: random" in err


def test_portfolio_campaign_finds_saves_and_replays(tmp_path: Path) -> None:
    spec = CampaignSpec("primary-backup", "early-ack", seed=1, examples=300, store=str(tmp_path), shrink=False)
    report = run_campaign(spec)
    assert [f.signature for f in report.failures] == ["checker:linearizability"]
    assert report.failures[0].found_by in ARMS
    record = load_failure(report.failures[0].path)
    assert record["strategy"] == "portfolio"
    assert replay_trace(PB, trace_of(record)).verdict.signature == "checker:linearizability"


def test_a_portfolio_campaign_is_the_same_in_a_process_pool(tmp_path: Path) -> None:
    """Each shard's portfolio learns from its own seed only: worker processes (spawned, with their own
    hash seeds) run the same schedules as this process."""
    def run(store: str, workers: int) -> Any:
        return run_campaign(CampaignSpec("primary-backup", "correct", seed=5, examples=80, shard_size=20,
                                         store=str(tmp_path / store), workers=workers))

    inline, pooled = run("a", 1), run("b", 2)
    assert inline.schedules == pooled.schedules == 80 and not inline.failed and not pooled.failed
    assert inline.stats.states == pooled.stats.states  # the same abstract states, first reached at the same schedule
    assert inline.stats.arms == pooled.stats.arms and inline.stats.steps == pooled.stats.steps
