"""Liveness (``eventually``, ``leads_to``) and reachability (``sometimes``) properties: each fails on a
planted bug and holds on the correct version (the systems are in ``properties_support``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from properties_support import ASYNC_COPY, BEACON, VACUOUS_COPY, leader_up, n1_crashed
from splitbrain import ClientOp, Node, Workload
from splitbrain.errors import UsageError
from splitbrain.fuzz.campaign import CampaignSpec, run_campaign
from splitbrain.fuzz.schedule import replay_trace, run_schedule
from splitbrain.sim import RandomSource, World, eventually, leads_to, sometimes
from splitbrain.sim.properties import watch_of


def verdicts(workload: Workload, variant: str, seeds: range) -> list[Any]:
    return [run_schedule(workload, variant, RandomSource(seed)) for seed in seeds]


def test_eventually_holds_on_the_correct_beacon_and_fails_on_the_planted_bug() -> None:
    correct = verdicts(BEACON, "correct", range(40))
    assert all(r.verdict.signature is None and not r.verdict.unknown for r in correct)
    buggy = verdicts(BEACON, "forgets-after-restart", range(40))
    failed = [r for r in buggy if r.verdict.failed]
    assert failed and all(r.verdict.signature == "liveness:leader-up" for r in failed)
    # it fails exactly when n1 crashed (after which it never leads again), and says why
    assert {n1_crashed(r.run.world) for r in failed} == {True}
    assert all(not n1_crashed(r.run.world) for r in buggy if not r.verdict.failed)
    assert "the heal" in failed[0].verdict.message
    # a liveness failure replays like any other
    again = replay_trace(BEACON, failed[0].trace)
    assert again.verdict.signature == "liveness:leader-up"
    assert again.trace.dumps() == failed[0].trace.dumps()


def test_leads_to_holds_on_the_correct_copy_and_fails_on_the_planted_bug() -> None:
    correct = verdicts(ASYNC_COPY, "correct", range(60))
    assert all(r.verdict.signature is None for r in correct)
    buggy = verdicts(ASYNC_COPY, "send-once", range(60))
    failed = [r for r in buggy if r.verdict.failed]
    assert failed and {r.verdict.signature for r in failed} == {"liveness:diverged-leads-to-converged"}
    assert "no response within 60 ticks" in failed[0].verdict.message
    # the run went on past the heal long enough to decide: at least the deadline
    world = failed[0].run.world
    watch = watch_of(world)
    assert watch is not None and watch.healed_at is not None and world.time > watch.healed_at + 60


def test_liveness_is_judged_only_after_the_heal() -> None:
    # during the run, n1 crashes and the beacon has no leader for a while: that is not a violation
    crashed = [r for r in verdicts(BEACON, "correct", range(40)) if n1_crashed(r.run.world)]
    assert crashed and all(not r.verdict.failed for r in crashed)


def test_sometimes_counts_reached_states_and_a_campaign_that_never_reaches_one_is_vacuous(tmp_path: Path) -> None:
    ok = run_campaign(CampaignSpec(ASYNC_COPY, "correct", seed=1, examples=40, store=str(tmp_path / "a")))
    assert not ok.failed and ok.vacuous == []
    reached = ok.stats.reached["backup-behind-while-primary-down"]
    assert 0 < reached < 40  # reached by some schedules, not all: the count is real
    assert ok.stats.to_json()["sometimes"] == {"backup-behind-while-primary-down": reached}

    vacuous = run_campaign(CampaignSpec(VACUOUS_COPY, "correct", seed=1, examples=20, store=str(tmp_path / "b")))
    assert vacuous.failures == [] and vacuous.vacuous == ["impossible"] and vacuous.failed
    lines = "\n".join(vacuous.stats.lines(vacuous.seconds, vacuous.failed))
    assert "impossible: 0 of 20 - NEVER REACHED" in lines


def test_a_liveness_campaign_finds_the_bug_and_passes_the_correct_version(tmp_path: Path) -> None:
    found = run_campaign(CampaignSpec(BEACON, "forgets-after-restart", seed=2, examples=200, store=str(tmp_path)))
    assert [f.signature for f in found.failures] == ["liveness:leader-up"]
    clean = run_campaign(CampaignSpec(BEACON, "correct", seed=2, examples=60, store=str(tmp_path)))
    assert not clean.failed and clean.schedules == 60


def test_a_world_that_goes_quiet_with_a_property_unmet_violates_it() -> None:
    class Silent(Node):
        def on_start(self) -> None:
            self.role = "follower"

    class SilentWorkload(Workload):
        name = "silent"
        model = "register"
        variants = {"correct": Silent}
        clients = 0
        properties = (eventually(leader_up, within=1000),)

        def generate(self, rand: Any, process: int) -> ClientOp:
            raise AssertionError("no clients")

    result = run_schedule(SilentWorkload(), "correct", RandomSource(0))
    assert result.verdict.signature == "liveness:leader-up"
    assert "went quiet" in result.verdict.message


def test_properties_are_validated_with_messages_that_say_what_to_do() -> None:
    with pytest.raises(UsageError, match="within must be an int >= 0"):
        eventually(leader_up, within=-1)
    with pytest.raises(UsageError, match="predicate must be a function"):
        sometimes("leader")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="trigger and response must be functions"):
        leads_to(leader_up, None, within=5)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="made with eventually"):
        type(BEACON)(properties=[leader_up])
    with pytest.raises(UsageError, match="two properties are named 'leader-up'"):
        type(BEACON)(properties=[eventually(leader_up, within=5), sometimes(leader_up)])
    assert sometimes(lambda world: True).name == "property"
    assert leads_to(leader_up, leader_up, within=3, name="x").name == "x"


def test_a_workload_without_properties_runs_as_before() -> None:
    world = World(ASYNC_COPY, "correct", seed=3)
    assert watch_of(world) is not None
    plain = type(ASYNC_COPY)(properties=())
    a = World(plain, "correct", seed=3).run()
    assert watch_of(a.world) is None


def test_the_cli_fails_a_vacuous_campaign(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from splitbrain.cli import main

    with pytest.raises(SystemExit) as info:
        main(["fuzz", "properties_support:VACUOUS_COPY", "--count", "10", "--out", str(tmp_path), "--json"])
    out, err = capsys.readouterr()
    assert info.value.code == 1, err
    assert "VACUOUS: no schedule reached the sometimes property 'impossible'" in err
    assert '"vacuous": ["impossible"]' in out


# -- the zoo's use: Raft elects a leader within LEADER_WITHIN ticks of the heal ------------------------------
def test_raft_elects_a_leader_after_the_heal_and_a_planted_bug_that_stands_once_does_not() -> None:
    from splitbrain import load_workload
    from splitbrain.impls.raft.node import RaftNode
    from splitbrain.impls.raft.workload import LEADER_WITHIN

    class StandsOnce(RaftNode):
        """Planted bug: a node stands for election at most once in its life (remembered on disk), so once
        every node has stood and lost its leadership, no leader is ever elected again."""

        def _start_election(self) -> None:
            if self.storage.get("stood"):
                self._reset_election()
                return
            self.storage["stood"] = True
            super()._start_election()

    raft = load_workload("raft-kv")
    assert [p.name for p in raft.properties] == ["leader-elected"]
    correct = verdicts(raft, "correct", range(40))
    assert all(r.verdict.signature is None for r in correct)
    planted = type(raft)(variants={**raft.variants, "stands-once": StandsOnce})
    failed = [r for r in verdicts(planted, "stands-once", range(20)) if r.verdict.failed]
    assert failed and {r.verdict.signature for r in failed} == {"liveness:leader-elected"}
    assert f"within {LEADER_WITHIN} ticks of the heal" in failed[0].verdict.message


def test_the_campaign_page_shows_what_the_search_reached(tmp_path: Path) -> None:
    from splitbrain.report import summary_from_report, write_campaign_report
    from test_report_data import page_data

    report = run_campaign(CampaignSpec(ASYNC_COPY, "correct", seed=1, examples=30, store=str(tmp_path)))
    page = write_campaign_report(summary_from_report(report), tmp_path / "campaign.html")
    assert 'id="search"' in page.read_text()
    search = page_data(page)["search"]
    assert search["strategy"] == "portfolio" and search["distinct_states"] == len(report.stats.states) > 1
    assert search["coverage"][-1] == {"schedules": 30, "states": len(report.stats.states)}
    assert sum(a["schedules"] for a in search["arms"].values()) == 30
    assert search["sometimes"] == {"backup-behind-while-primary-down": report.stats.reached[
        "backup-behind-while-primary-down"]}
    assert search["vacuous"] == []


def test_fuzz_workload_fails_a_vacuous_run_and_passes_one_that_reached_its_sometimes(tmp_path: Path) -> None:
    from splitbrain import FuzzFailure, fuzz_workload

    # the pytest-facing API judges sometimes properties as campaigns do: never reached is a failure
    vacuous = r"vacuous: none of the 20 schedules .* sometimes property impossible"
    with pytest.raises(FuzzFailure, match=vacuous) as info:
        fuzz_workload(VACUOUS_COPY, "correct", examples=20, seed=1, store=tmp_path)
    assert info.value.signature == "vacuous" and info.value.path is None
    assert fuzz_workload(ASYNC_COPY, "correct", examples=40, seed=1, store=tmp_path) == 40
