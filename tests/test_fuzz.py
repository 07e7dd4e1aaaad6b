"""Fuzzing end to end: the primary-backup bug is found and shrunk; the correct version passes; saved
failures replay exactly; killing a campaign loses nothing it reported; the CLI verbs work."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from splitbrain import load_workload
from splitbrain.cli import main
from splitbrain.fuzz.campaign import CampaignReport, CampaignSpec, run_campaign
from splitbrain.fuzz.saved import trace_of
from splitbrain.fuzz.schedule import replay_trace
from splitbrain.fuzz.store import load_failure
from splitbrain.sim import Trace

#: the stated bound: the early-ack bug shrinks to a trace of at most this many steps (run and quiesce)
EARLY_ACK_STEP_BOUND = 80


@pytest.fixture(scope="module")
def early_ack(tmp_path_factory: pytest.TempPathFactory) -> CampaignReport:
    """One campaign against the early-ack bug, shared by the tests that inspect its failure."""
    store = tmp_path_factory.mktemp("early-ack")
    return run_campaign(CampaignSpec("primary-backup", "early-ack", seed=1, examples=600, store=str(store)))


def test_early_ack_is_found_and_shrunk_within_bound(early_ack: CampaignReport) -> None:
    report = early_ack
    assert len(report.failures) == 1
    failure = report.failures[0]
    assert failure.signature == "checker:linearizability"
    assert failure.steps_shrunk <= EARLY_ACK_STEP_BOUND < failure.steps_found
    record = load_failure(failure.path)
    assert record["stage"] == "shrunk" and record["steps"] == {"found": failure.steps_found,
                                                              "shrunk": failure.steps_shrunk}
    # the saved trace replays to the identical trace and the same failure
    trace = trace_of(record)
    again = replay_trace(load_workload("primary-backup"), trace)
    assert again.verdict.signature == failure.signature
    assert again.trace.dumps() == trace.dumps()


def test_shrunk_trace_is_one_minimal(early_ack: CampaignReport) -> None:
    workload = load_workload("primary-backup")
    signature = early_ack.failures[0].signature
    trace = trace_of(load_failure(early_ack.failures[0].path))
    # removing any single run-phase step makes it pass or fail differently (or not shorter)
    for i, step in enumerate(trace.steps):
        if step.kind in ("start", "quiesce"):
            continue
        candidate = Trace(**{**{f: getattr(trace, f) for f in trace.__struct_fields__},
                             "steps": trace.steps[:i] + trace.steps[i + 1:]})
        result = replay_trace(workload, candidate)
        assert result.verdict.signature != signature or len(result.trace.steps) >= len(trace.steps)


def test_correct_version_passes_a_campaign(tmp_path: Path) -> None:
    report = run_campaign(CampaignSpec("primary-backup", "correct", seed=3, examples=300, store=str(tmp_path)))
    assert report.schedules == 300
    assert report.failures == []
    assert not (tmp_path / "failures").exists() or not any((tmp_path / "failures").iterdir())


@pytest.mark.slow
def test_correct_version_passes_thousands_of_schedules(tmp_path: Path) -> None:
    report = run_campaign(CampaignSpec(
        "primary-backup", "correct", seed=11, examples=3000, workers=2, store=str(tmp_path)
    ))
    assert report.schedules == 3000 and report.failures == []


def test_same_seed_same_campaign(tmp_path: Path, early_ack: CampaignReport) -> None:
    a = early_ack
    b = run_campaign(CampaignSpec("primary-backup", "early-ack", seed=1, examples=600, store=str(tmp_path / "b")))
    assert [f.signature for f in a.failures] == [f.signature for f in b.failures]
    assert a.schedules == b.schedules
    ta = trace_of(load_failure(a.failures[0].path))
    tb = trace_of(load_failure(b.failures[0].path))
    assert ta.dumps() == tb.dumps()


def test_second_run_replays_known_failures_first(early_ack: CampaignReport) -> None:
    store = early_ack.spec.store
    second = run_campaign(CampaignSpec("primary-backup", "early-ack", seed=2, examples=1, store=store))
    assert [r.path for r in second.replayed] == [early_ack.failures[0].path]
    assert second.replayed[0].still_fails and second.failed


def test_sigkill_loses_no_reported_failure(tmp_path: Path) -> None:
    """Run a keep-going campaign in a subprocess, kill it with SIGKILL after failures were reported, and
    check that every failure it reported is on disk, whole, and replays."""
    cmd = [sys.executable, "-m", "splitbrain.cli", "fuzz", "primary-backup", "--variant", "early-ack",
           "--time", "120", "--keep-going", "--store", str(tmp_path), "--seed", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    reported: list[str] = []
    deadline = time.monotonic() + 90
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if "saved to " in line:
                reported.append(line.split("saved to ", 1)[1].split(";")[0].strip())
                if len(reported) >= 2:
                    break
            if time.monotonic() > deadline:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert reported, "the campaign reported no failure before the deadline"
    for path in reported:
        record = json.loads(Path(path).read_text())
        assert record["signature"] == "checker:linearizability"
        assert replay_trace(load_workload("primary-backup"), trace_of(record)).verdict.failed
    leftovers = [p for p in (tmp_path / "failures").iterdir() if p.name.endswith(".tmp")]
    assert all(p.name.startswith(".") for p in leftovers)  # only temp files of the killed write, if any


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_cli_fuzz_replay_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], early_ack: CampaignReport
) -> None:
    code, out, _ = run_cli(["workloads"], capsys)
    assert code == 0 and "primary-backup" in out and "early-ack" in out
    path = Path(early_ack.failures[0].path)
    shutil.copytree(path.parent.parent, tmp_path, dirs_exist_ok=True)
    code, out, err = run_cli(["fuzz", "primary-backup", "--variant", "early-ack", "--examples", "1",
                              "--store", str(tmp_path)], capsys)
    assert code == 1
    assert "known failure still fails" in out and "still fails" in err
    code, out, _ = run_cli(["fuzz", "primary-backup", "--variant", "early-ack", "--examples", "600", "--seed", "1",
                            "--store", str(tmp_path / "fresh")], capsys)
    assert code == 1
    assert "FAILURE checker:linearizability: trace shrunk from" in out
    pages = list((tmp_path / "fresh" / "failures").glob("*.html"))
    assert len(pages) == 1 and f"report: {pages[0]}" in out  # a report beside the saved failure
    assert (tmp_path / "fresh" / "campaign-primary-backup-early-ack.html").exists()
    code, out, _ = run_cli(["replay", str(path)], capsys)
    assert code == 1
    assert "replayed twice: identical traces and histories" in out and "still fails" in out
    code, out, _ = run_cli(["show", str(path), "--html", str(tmp_path / "trace.html")], capsys)
    assert code == 0
    assert "<svg" in (tmp_path / "trace.html").read_text() or "sequence" in (tmp_path / "trace.html").read_text()
    assert "n1" in out and "n2" in out and "clients" in out and "cannot place" in out
    code, out, _ = run_cli(["shrink", str(path), "--store", str(tmp_path)], capsys)
    assert code == 1 and "shrunk from" in out and "1-minimal" in out  # a saved failure is already 1-minimal


def test_cli_search_fuzzes_with_the_variants_search_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["fuzz", "bank-2pc", "--variant", "unilateral-commit", "--search", "--strategy", "random",
            "--examples", "30", "--store", str(tmp_path), "--no-shrink"]
    code, out, _ = run_cli(args, capsys)
    assert code == 1 and "FAILURE" in out
    (saved,) = tmp_path.glob("failures/*.json")
    trace = Trace.loads(json.dumps(json.loads(saved.read_text())["trace"]))
    assert (trace.faults, trace.max_steps) == load_workload("bank-2pc").search_settings("unilateral-commit")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fuzz", "primary-backupp"], "did you mean 'primary-backup'"),
        (["fuzz", "primary-backup", "--variant", "nope"], "has no variant 'nope'"),
        (["fuzz", "primary-backup", "--faults", "meteor"], "unknown fault kind 'meteor'"),
        (["fuzz", "primary-backup", "--time", "1", "--examples", "2"], "either --time or --count"),
        (["fuzz", "paxos", "--search"], "no search settings for variant 'correct'"),
        (["fuzz", "--all", "--search"], "--search needs a WORKLOAD"),
        (["replay", "missing.json"], "missing.json: no such file"),
    ],
)
def test_cli_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(args, capsys)
    assert code == 3 and message in err and "Traceback" not in err


def test_cli_correct_version_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["fuzz", "primary-backup", "--examples", "50", "--store", str(tmp_path)], capsys)
    assert code == 0 and "50 schedules" in out and "0 failure(s)" in out


# -- --workers auto -----------------------------------------------------------------------------------
def test_auto_workers_is_one_per_cpu_but_no_more_than_the_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    from splitbrain.fuzz import executors

    monkeypatch.setattr(executors, "usable_cpus", lambda: 4)
    assert executors.auto_workers(None, 100) == 4  # a time budget: every CPU
    assert executors.auto_workers(1000, 100) == 4
    assert executors.auto_workers(250, 100) == 3  # three shards
    assert executors.auto_workers(100, 100) == 1  # one shard: this process, no pool to start
    assert executors.auto_workers(1, 100) == 1
    monkeypatch.setattr(executors, "usable_cpus", lambda: 1)
    assert executors.auto_workers(None, 100) == 1


def test_cli_workers_default_uses_the_cpus_for_a_time_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from splitbrain.fuzz import executors

    monkeypatch.setattr(executors, "usable_cpus", lambda: 2)
    with pytest.raises(SystemExit) as exit_info:
        main(["fuzz", "primary-backup", "--time", "3", "--seed", "1", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 0, err
    assert "2 worker process(es)" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["fuzz", "primary-backup", "--count", "50", "--seed", "1", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 0, err
    assert "this process" in err and "50 schedules" in err


def test_every_failure_the_store_gets_is_reported(tmp_path: Path) -> None:
    """With several workers, shards above the reported failure's were already running: the campaign tells
    them to stop, and lists what they found (saved, never thrown away) apart from the report, which stays
    the one of running the shards one by one."""
    spec = CampaignSpec("primary-backup", "early-ack", seed=5, examples=120, shard_size=15, strategy="random",
                        workers=2, store=str(tmp_path / "pool"))
    pooled = run_campaign(spec)
    alone = run_campaign(replace(spec, workers=1, store=str(tmp_path / "alone")))
    assert [f.signature for f in pooled.failures] == ["checker:linearizability"]
    assert [(f.seed, f.steps_shrunk) for f in pooled.failures] == [(f.seed, f.steps_shrunk) for f in alone.failures]
    assert pooled.schedules == alone.schedules and alone.also_found == []
    saved = {p.name for p in (tmp_path / "pool" / "failures").glob("*.json")}
    listed = {Path(f.path).name for f in [*pooled.failures, *pooled.also_found]}
    assert saved == listed
    assert not list((tmp_path / "pool").glob(".campaign-*"))  # the marker and the stop file are gone


def test_a_failure_also_found_by_a_running_shard_says_whether_it_is_the_same_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which shards were still running when one failed depends on timing, so the report is given one
    such failure: the same check as the reported one reads as another schedule of it, not a second bug;
    another check is listed plainly."""
    import splitbrain.fuzz.campaign as campaign

    def with_extras(spec: CampaignSpec, **kwargs: object) -> CampaignReport:
        report = run_campaign(spec, **kwargs)  # type: ignore[arg-type]
        first = report.failures[0]
        report.also_found.extend([first, replace(first, signature="invariant:made-up")])
        return report

    monkeypatch.setattr(campaign, "run_campaign", with_extras)
    with pytest.raises(SystemExit) as exit_info:
        main(["fuzz", "primary-backup", "--variant", "early-ack", "--count", "50", "--seed", "1",
              "--out", str(tmp_path)])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    listed = out.split("also found by shards", 1)[1].splitlines()
    assert any(line.endswith("(the check the failure above failed, by another schedule)")
               and line.strip().startswith("checker:linearizability") for line in listed)
    assert any(line.strip().startswith("invariant:made-up:") and "another schedule" not in line for line in listed)
