"""Bounded exhaustive search (``splitbrain exhaust``): a planted bug is found with the fewest deviations
there are, the correct version passes every schedule within the bound, a budget spent first is unknown,
and the failure it saves replays from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bounded_counter import workload
from splitbrain.errors import UsageError
from splitbrain.fuzz.bounded import DeviationSource, bounded_search
from splitbrain.fuzz.deviations import count_deviations, fewer_deviations
from splitbrain.fuzz.schedule import replay_trace, run_schedule

HERE = Path(__file__).parent

SMALL = {"faults": ["duplicate"], "max_steps": 20}


def test_a_bug_one_fault_deep_is_found_with_exactly_one_deviation_and_not_without() -> None:
    assert bounded_search(workload, "counts-duplicates", bound=0, **SMALL).verdict == "passed"
    found = bounded_search(workload, "counts-duplicates", bound=2, **SMALL)
    assert found.verdict == "failed"
    assert len(found.deviations) == 1  # fewest first: the one-deviation schedules all ran before any two
    assert found.failure is not None
    assert found.failure.verdict.signature == "checker:linearizability"
    assert any(step.kind == "duplicate" for step in found.failure.trace.steps)
    replayed = replay_trace(workload, found.failure.trace)
    assert replayed.verdict.signature == "checker:linearizability"


def test_the_correct_version_passes_every_schedule_within_the_bound_and_says_how_many() -> None:
    one = bounded_search(workload, "correct", bound=1, **SMALL)
    two = bounded_search(workload, "correct", bound=2, **SMALL)
    assert one.verdict == two.verdict == "passed"
    assert 1 < one.schedules < two.schedules
    assert "proof within that bound" in two.describe()
    # the space is a function of the configuration: the same count every time
    assert bounded_search(workload, "correct", bound=2, **SMALL).schedules == two.schedules


def test_a_bug_in_the_default_order_needs_no_deviation() -> None:
    found = bounded_search(workload, "read-modify-write", bound=2, faults=[])
    assert found.verdict == "failed" and found.deviations == () and found.schedules == 1
    assert "the default order (" in found.describe()


def test_a_budget_spent_before_the_space_is_unknown_never_a_pass() -> None:
    out = bounded_search(workload, "correct", bound=2, max_schedules=5, **SMALL)
    assert out.verdict == "unknown" and out.schedules == 5
    assert "5 schedules ran out" in out.reason


def test_each_schedule_is_deterministic_and_deviations_change_it() -> None:
    def trace(deviations: tuple[tuple[int, int], ...]) -> bytes:
        return run_schedule(workload, "correct", DeviationSource(deviations, 0), **SMALL).trace.dumps()

    assert trace(()) == trace(())
    assert trace(((3, 1),)) == trace(((3, 1),)) != trace(())


@pytest.mark.parametrize("bound", [-1, 1.5, True])
def test_a_bad_bound_is_a_usage_error(bound: object) -> None:
    with pytest.raises(UsageError, match="bound"):
        bounded_search(workload, "correct", bound=bound)  # type: ignore[arg-type]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "splitbrain", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def test_the_cli_saves_a_failure_that_replays_and_proves_the_correct_version(tmp_path: Path) -> None:
    store = tmp_path / "store"
    found = _cli("exhaust", "bounded_counter:workload", "--variant", "counts-duplicates", "--faults", "duplicate",
                 "--max-steps", "20", "--out", str(store), "--json", cwd=HERE)
    assert found.returncode == 1, found.stderr
    outcome = json.loads(found.stdout)
    assert outcome["verdict"] == "failed" and len(outcome["deviations"]) == 1
    saved = outcome["failure"]["path"]
    assert outcome["failure"]["steps_shrunk"] <= outcome["failure"]["steps_found"]
    replayed = _cli("replay", saved, cwd=HERE)
    assert replayed.returncode == 1, replayed.stderr  # still fails, from a new process
    proved = _cli("exhaust", "bounded_counter:workload", "--faults", "duplicate", "--max-steps", "20",
                  "--bound", "1", "--out", str(store), cwd=HERE)
    assert proved.returncode == 0, proved.stderr
    assert "no violation in any of the" in proved.stdout
    budget = _cli("exhaust", "bounded_counter:workload", "--faults", "duplicate", "--max-steps", "20",
                  "--count", "3", "--out", str(store), cwd=HERE)
    assert budget.returncode == 2 and "UNKNOWN" in budget.stdout


def test_deviations_of_a_trace_are_counted_on_replay() -> None:
    found = bounded_search(workload, "counts-duplicates", bound=2, **SMALL)
    assert found.failure is not None
    assert count_deviations(workload, found.failure.trace) == len(found.deviations) == 1
    default = run_schedule(workload, "correct", DeviationSource((), 0), **SMALL)
    assert count_deviations(workload, default.trace) == 0


def test_fewer_deviations_keeps_the_failure_and_replays_exactly() -> None:
    from splitbrain.fuzz.shrink import shrink_trace
    from splitbrain.sim import RandomSource
    from splitbrain.sim.loading import load_workload

    pb = load_workload("primary-backup")
    results = []
    for seed in range(60):
        run = run_schedule(pb, "early-ack", RandomSource(seed))
        if not run.verdict.failed:
            continue
        signature = run.verdict.signature
        assert signature is not None
        shrunk = shrink_trace(pb, run.trace, signature)
        fewer = fewer_deviations(pb, shrunk.trace, signature)
        assert fewer.after <= fewer.before == count_deviations(pb, shrunk.trace)
        assert replay_trace(pb, fewer.trace).verdict.signature == signature
        assert count_deviations(pb, fewer.trace) == fewer.after
        results.append((fewer.before, fewer.after))
        if len(results) == 3:
            break
    assert len(results) == 3
    assert any(after < before for before, after in results)  # random schedules' traces have spare deviations
