"""The breadth-first search for a shorter counterexample (:mod:`splitbrain.fuzz.shortest`): it finds a
path ddmin cannot reach by removing steps, its result replays step for step and fails the same way, it
finds nothing where nothing shorter exists, it keeps to its budgets, and it is deterministic."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest

from splitbrain.errors import UsageError
from splitbrain.fuzz.campaign import CampaignSpec, InlineExecutor, run_campaign
from splitbrain.fuzz.deviations import eligible
from splitbrain.fuzz.schedule import replay_trace, run_schedule
from splitbrain.fuzz.shortest import shorter_trace
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.fuzz.store import load_failure
from splitbrain.sim import ChoiceSource, RandomSource, Trace
from splitbrain.sim.scheduler import Choice, Phase
from ticker_counter import workload

SIGNATURE = "invariant:below-three"


class NoClients(ChoiceSource):
    """The default order without client invocations: the counter reaches 3 through the ticks alone."""

    def __init__(self) -> None:
        self.seed = 0
        self._data = RandomSource(0)

    def choose(self, enabled: Sequence[Choice], phase: Phase) -> str | None:
        keys = [key for key in eligible(enabled) if not key.startswith("invoke:")] if enabled else []
        return keys[0] if keys else None

    def draw(self, lo: int, hi: int) -> int:
        return self._data.draw(lo, hi)


def ticks_only(variant: str) -> Trace:
    """A failing trace of ``variant`` through the ticks, shrunk to 1-minimal."""
    found = run_schedule(workload, variant, NoClients())
    assert found.verdict.signature == SIGNATURE
    shrunk = shrink_trace(workload, found.trace, SIGNATURE)
    assert shrunk.minimal and shrunk.result.verdict.signature == SIGNATURE
    return shrunk.trace


def test_a_shorter_path_than_the_one_ddmin_kept_is_found_and_replays() -> None:
    trace = ticks_only("leak")
    assert not any(step.kind == "invoke" for step in trace.steps)  # ddmin only removes: ticks it stays
    out = shorter_trace(workload, trace, SIGNATURE)
    assert out.found and out.result is not None
    assert out.after == len(out.trace.steps) < out.before == len(trace.steps)
    assert any(step.kind == "invoke" for step in out.trace.steps)  # the client's add, never in the input
    again = replay_trace(workload, out.trace)
    assert again.verdict.signature == SIGNATURE
    assert again.trace.dumps() == out.trace.dumps()
    assert out.complete and "shortened it from" in out.describe()


def test_nothing_shorter_where_the_trace_is_already_the_shortest() -> None:
    trace = ticks_only("slow-leak")  # no client adds: the ticks are the only way
    out = shorter_trace(workload, trace, SIGNATURE)
    assert not out.found and out.result is None and out.trace is trace
    assert out.complete and out.levels_done == 3 and out.candidates > 0
    assert "found none shorter" in out.describe() and "every one within the bound" in out.describe()


def test_the_correct_version_gives_no_candidate_that_fails() -> None:
    trace = msgspec.structs.replace(ticks_only("leak"), variant="correct")
    out = shorter_trace(workload, trace, SIGNATURE)
    assert out.result is None and out.after == out.before and out.complete


def test_the_replay_budget_is_kept_and_what_it_had_is_returned() -> None:
    trace = ticks_only("leak")
    out = shorter_trace(workload, trace, SIGNATURE, max_replays=5)
    assert out.replays <= 5 and out.candidates <= 5
    assert not out.complete and "5 replays ran out" in out.reason
    assert out.trace is trace and out.result is None
    assert "stopped: the budget of 5 replays" in out.describe()


def test_a_trace_longer_than_its_limit_is_not_searched() -> None:
    trace = ticks_only("leak")
    out = shorter_trace(workload, trace, SIGNATURE, max_steps=5)
    assert out.candidates == out.replays == 0 and out.trace is trace and not out.complete
    assert "was skipped" in out.describe()


def test_the_same_input_gives_the_same_result() -> None:
    trace = ticks_only("leak")
    one, two = (shorter_trace(workload, trace, SIGNATURE, depth=1) for _ in range(2))
    assert one.trace.dumps() == two.trace.dumps()
    assert one.summary() | {"seconds": 0} == two.summary() | {"seconds": 0}


@pytest.mark.parametrize("depth", [-1, 1.5, True])
def test_a_bad_depth_is_a_usage_error(depth: object) -> None:
    with pytest.raises(UsageError, match="depth"):
        shorter_trace(workload, ticks_only("leak"), SIGNATURE, depth=depth)  # type: ignore[arg-type]


def test_a_campaign_reports_and_saves_what_the_search_did(tmp_path: Path) -> None:
    spec = CampaignSpec(workload, "slow-leak", seed=1, examples=50, store=str(tmp_path), strategy="random")
    report = run_campaign(spec, executor=InlineExecutor(), replay_first=False)
    assert len(report.failures) == 1
    failure = report.failures[0]
    assert failure.shortest is not None
    assert failure.shortest["after"] == failure.steps_shrunk
    record = load_failure(failure.path)
    assert record["shortest"] == failure.shortest
    assert record["steps"]["shrunk"] == failure.steps_shrunk


def test_the_cli_says_what_the_search_did_in_text_and_json(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "splitbrain", "fuzz", "ticker_counter:workload", "--variant", "slow-leak",
         "--strategy", "random", "--examples", "50", "--store", str(tmp_path), "--json"],
        cwd=Path(__file__).parent, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 1, run.stderr
    assert "a breadth-first search of depth 2 found none shorter" in run.stderr
    failure = json.loads(run.stdout)["failures"][0]
    assert failure["shortest"]["depth"] == 2 and failure["shortest"]["after"] == failure["steps_shrunk"]


def test_splitbrain_shrink_shorter_saves_the_shorter_trace(tmp_path: Path) -> None:
    found = tmp_path / "found.json"
    trace = ticks_only("leak")
    record = {"workload": workload.name, "workload_ref": "ticker_counter:workload", "variant": "leak",
              "signature": SIGNATURE, "seed": 0, "trace": msgspec.to_builtins(trace)}
    found.write_text(json.dumps(record))
    run = subprocess.run(
        [sys.executable, "-m", "splitbrain", "shrink", str(found), "--shorter", "1", "--out", str(tmp_path / "out")],
        cwd=Path(__file__).parent, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 1, run.stderr
    assert f"a breadth-first search of depth 1 shortened it from {len(trace.steps)} to" in run.stdout
    (saved,) = (tmp_path / "out" / "failures").glob("*.json")
    kept = load_failure(saved)
    assert kept["shortest"]["after"] == kept["steps"]["shrunk"] < len(trace.steps)
    assert replay_trace(workload, msgspec.convert(kept["trace"], Trace)).verdict.signature == SIGNATURE
