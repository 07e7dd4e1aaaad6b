"""Redis on loopback, started by the tests: a single instance is linearizable under pause, kill and
client partitions; a replica behind a delayed replication link is caught serving stale reads.

Needs ``redis-server`` (Debian package ``redis-server``, installed by ``scripts/system-deps.sh``). Every
server and proxy is stopped at the end, also when a test fails; the last test checks nothing is left.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from live_support import children, cleanup_fixtures, recheck
from splitbrain.cli import main
from splitbrain.live import processes
from splitbrain.live.runner import run_workload
from splitbrain.live.targets.redis import (
    RedisAppendTarget,
    RedisAppendWeakTarget,
    RedisReplicaTarget,
    RedisTarget,
)

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (Debian package redis-server; scripts/system-deps.sh installs it)",
)


nothing_left_behind, stop_everything = cleanup_fixtures("redis")


def test_single_instance_is_linearizable_under_faults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_workload(
        RedisTarget(), clients=4, time_limit=4.0, nemesis=["pause", "kill", "partition"], seed=3,
        nemesis_interval=(0.2, 0.4), nemesis_duration=(0.4, 0.7), out=tmp_path, progress=None,
    )
    assert outcome.result is not None
    assert outcome.result.valid is True, outcome.result.explain()
    kinds = {op.f for op in outcome.history.faults}
    assert {"start-pause", "start-kill", "start-partition"} <= kinds, kinds  # one round has them all
    assert outcome.nemesis_errors == []
    statuses = {op.status for op in outcome.history.operations}
    assert {"ok", "fail"} <= statuses
    assert outcome.history_path.exists()
    assert recheck(outcome.history_path, capsys) == 0


@pytest.mark.slow
def test_a_longer_campaign_stays_linearizable(tmp_path: Path) -> None:
    outcome = run_workload(
        RedisTarget(), clients=8, time_limit=45.0, nemesis=["pause", "kill", "partition"], seed=11,
        out=tmp_path, progress=None,
    )
    assert outcome.result is not None
    assert outcome.result.valid is True, outcome.result.explain()
    assert outcome.faults >= 9 and outcome.nemesis_errors == [] and outcome.client_errors == []


def test_replica_reads_are_caught_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = run_workload(
        RedisReplicaTarget(lag=0.1), clients=4, time_limit=2.0, out=tmp_path, progress=None,
    )
    assert outcome.result is not None
    assert outcome.result.valid is False, outcome.result.explain()
    reads = [op for op in outcome.history.operations if op.f == "read" and op.ok]
    assert reads and all(op.invoke.node == "replica" for op in reads)
    assert recheck(outcome.history_path, capsys) == 1


def test_cli_runs_a_campaign(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "redis", "--time", "1.5", "--clients", "3", "--nemesis", "pause",
              "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, out + err
    assert "linearizable" in out and "[redis]" in err
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("redis-")
    assert str(run_dir / "history.jsonl") in out
    assert (run_dir / "logs" / "n1.log").exists()


def test_cli_reports_the_violation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "redis-replica", "--ops", "2000", "--out", str(tmp_path)])
    out, _ = capsys.readouterr()
    assert exit_info.value.code == 1
    assert "not linearizable" in out
    report = next(tmp_path.glob("redis-replica-*/report.html"))
    assert f"report:  {report}" in out
    assert "not linearizable" in report.read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "mongodb"], "mongodb"),
        (["run", "redis", "--nemesis", "meteor"], "unknown fault meteor"),
        (["run", "redis-replica", "--faults", "clock"], "does not support fault clock"),
        (["run", "redis-replica", "--keys", "3"], "one key only"),
        (["run", "redis-replica", "--clients", "0"], "clients"),
    ],
)
def test_usage_errors_exit_3(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 3
    assert message in capsys.readouterr().err


def test_missing_server_names_the_package(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "redis", "--time", "1"])
    assert exit_info.value.code == 3
    err = capsys.readouterr().err
    assert "redis-server is not installed" in err and "apt-get install redis-server" in err
    assert "Traceback" not in err


def test_servers_and_proxies_stop_when_the_test_body_fails() -> None:
    target = RedisTarget()
    with pytest.raises(RuntimeError, match="boom"), target:
        server = target.servers["n1"]
        assert server.running and target.proxy is not None
        port = target.proxy.port
        raise RuntimeError("boom")
    assert not server.running
    assert not processes.port_open(port)
    assert not target.workdir.exists()


def test_start_retries_when_a_port_was_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone binds the chosen port before the server does: start again on a fresh port."""
    import splitbrain.live.targets.redis as redis_target

    squatter = socket.create_server(("127.0.0.1", 0))
    ports = iter([squatter.getsockname()[1]])
    monkeypatch.setattr(redis_target, "free_port", lambda: next(ports, None) or processes.free_port())
    try:
        with RedisTarget() as target:
            assert target.servers["n1"].running
            assert "address already in use" in (target.logdir / "n1.log").read_text().lower()
    finally:
        squatter.close()


def test_many_keys_under_every_fault_end_in_a_verdict_per_key(tmp_path: Path) -> None:
    """Independent keys, ``nemesis="all"`` accepted by the API as by the CLI, faults overlapping, then a
    final heal and a read of every key."""
    outcome = run_workload(
        RedisTarget(), clients=6, time_limit=4.0, nemesis="all", seed=4, keys=6, ops_per_key=60,
        nemesis_interval=(0.2, 0.4), nemesis_duration=(0.4, 0.8), out=tmp_path, progress=None,
    )
    assert outcome.result is not None
    assert outcome.result.valid is True, outcome.result.explain()
    assert len(outcome.keys) > 6 and set(outcome.keys.values()) == {True}  # keys were retired and renewed
    kinds = {op.f for op in outcome.history.faults}
    assert {"start-pause", "start-kill", "start-partition", "start-latency", "start-drop"} <= kinds, kinds
    assert outcome.recovered is True and outcome.final_reads == len(outcome.keys)
    assert outcome.nemesis_errors == [] and outcome.client_errors == []


def test_list_append_transactions_are_strict_serializable_under_faults(tmp_path: Path) -> None:
    outcome = run_workload(
        RedisAppendTarget(), clients=5, time_limit=3.0, nemesis="pause,kill,partition", seed=2,
        nemesis_interval=(0.3, 0.6), nemesis_duration=(0.4, 0.8), out=tmp_path, progress=None,
    )
    assert outcome.result is not None
    assert outcome.result.valid is True, outcome.result.explain()
    assert outcome.workload == "append" and outcome.operations > 100


def test_reads_outside_multi_exec_are_caught(tmp_path: Path) -> None:
    outcome = run_workload(
        RedisAppendWeakTarget(), clients=5, time_limit=3.0, out=tmp_path, progress=None, keys=4,
    )
    assert outcome.result is not None
    assert outcome.result.valid is False, outcome.result.explain()
    assert outcome.result.anomalies  # a dependency cycle through the unguarded reads (G-single, G2...)
    assert outcome.first_violation is not None


def test_cli_takes_keys_and_the_new_faults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "redis", "--time", "2", "--keys", "4", "--faults", "latency,partition-halves",
              "--nemesis-interval", "0.4", "--client-timeout", "1", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, out + err
    assert "keys: " in err and "first fault at" in err


def test_nothing_is_left_running() -> None:
    assert processes.running() == []
    assert not [name for name in children() if "redis" in name]


@pytest.mark.slow
def test_a_long_run_keeps_memory_flat(tmp_path: Path) -> None:
    """The events live in the journal, not in memory: over a minute of a fast run the runner's resident
    memory stays within a few MB while the history grows by tens of MB on disk."""
    samples: list[tuple[float, int]] = []  # (seconds since the start, resident kB)
    stop = threading.Event()
    start = time.monotonic()

    def sample() -> None:
        while not stop.wait(2.0):
            with open("/proc/self/status") as status:
                rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
            samples.append((time.monotonic() - start, rss))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        outcome = run_workload(RedisTarget(), clients=8, time_limit=60.0, keys=10, out=tmp_path, progress=None,
                               check=False)
    finally:
        stop.set()
        sampler.join()
    # while the clients run: after the start-up, and before the time limit, when the history is read back
    # from the journal whole (for the result), which takes seconds on a fast machine (400,000 operations)
    settled = [rss for at, rss in samples if 10.0 <= at <= 56.0]
    assert outcome.operations > 20_000 and len(settled) >= 15
    assert max(settled) - min(settled) < 20_000, samples  # kB
