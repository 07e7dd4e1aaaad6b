"""etcd on loopback, started by the tests: a 3-member cluster whose peers talk through fault proxies.

Linearizable reads check valid under pause, kill and partitions (a seeded nemesis, through the runner);
serializable reads from a member cut off by a partition are caught non-linearizable (a scripted
partition, recorded with the recorder directly). Needs ``etcd`` (Debian package ``etcd-server``,
installed by ``scripts/system-deps.sh``). Every member and proxy is stopped at the end, also when a test
fails; the module's teardown checks that no server is left.
"""

from __future__ import annotations

import random
import shutil
import threading
import time
from pathlib import Path

import pytest

from live_support import cleanup_fixtures, recheck
from splitbrain import check
from splitbrain.histories import History, write_history
from splitbrain.histories.recorder import Recorder
from splitbrain.live import processes
from splitbrain.live.runner import run_workload
from splitbrain.live.target import FaultRefused
from splitbrain.live.targets.etcd import (
    EtcdAppendTarget,
    EtcdAppendWeakTarget,
    EtcdSerializableTarget,
    EtcdTarget,
)

pytestmark = pytest.mark.skipif(
    shutil.which("etcd") is None,
    reason="etcd is not installed (Debian package etcd-server; scripts/system-deps.sh installs it)",
)


MODEL = "cas-register"


nothing_left_behind, stop_everything = cleanup_fixtures("etcd")


def windows(history: History, kind: str) -> list[tuple[str, int, int]]:
    """(node, start index, stop index) of each ``kind`` fault in the history."""
    found, open_ = [], {}
    for op in history.faults:
        if op.f == f"start-{kind}":
            open_[op.value] = op.index
        elif op.f == f"stop-{kind}" and op.value in open_:
            found.append((op.value, open_.pop(op.value), op.index))
    return found


def test_linearizable_reads_are_valid_under_pause_kill_and_partition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_workload(
        EtcdTarget(), clients=5, time_limit=7.0, nemesis=["pause", "kill", "partition"], seed=5,
        nemesis_interval=(0.3, 0.6), nemesis_duration=(0.8, 1.2), out=tmp_path, progress=None,
    )
    assert outcome.result is not None
    assert outcome.result.valid is True, outcome.result.explain()
    for kind in ("pause", "kill", "partition"):
        assert windows(outcome.history, kind), f"no {kind} in the first round of faults"
    assert outcome.nemesis_errors == []
    assert sum(op.ok for op in outcome.history.operations) > 100
    assert recheck(outcome.history_path, capsys) == 0


def test_serializable_reads_from_a_partitioned_member_are_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Scripted so that the outcome cannot depend on timing: writers run through the majority; then n1 is
    cut off and only then do readers start, reading serializably from n1 — the only reads in the
    history. The partition is held until the recorded history is non-linearizable (a prefix that is not
    linearizable stays so whatever comes after), with a generous deadline instead of a fixed length."""
    recorder = Recorder(readonly={"read"})
    stop = threading.Event()

    def client(target: EtcdTarget, index: int) -> None:
        conn, worker, rng = target.client(index), recorder.worker(), random.Random(index)
        while not stop.is_set():
            f, value = ("read", None) if index % 2 == 0 else ("write", rng.randrange(5))
            node = conn.node_for(f)  # reads: the isolated member; writes: the majority
            with worker.call(f, value, node=node) as call:
                call.ok(conn.invoke(f, value, node))
            if f == "read":
                stop.wait(0.01)  # local reads are fast: pace them so the history stays small to check
        conn.close()

    with EtcdSerializableTarget() as target:
        writers = [threading.Thread(target=client, args=(target, i)) for i in (1, 3)]
        readers = [threading.Thread(target=client, args=(target, i)) for i in (0, 2)]
        try:
            for thread in writers:
                thread.start()
            time.sleep(0.5)
            recorder.nemesis("start-partition", "n1")
            target.isolate("n1")
            for thread in readers:
                thread.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and check(recorder.history(), MODEL).valid is not False:
                time.sleep(0.5)
        finally:
            stop.set()
            for thread in writers + readers:
                if thread.is_alive():
                    thread.join()
        target.heal_network()
        recorder.nemesis("stop-partition", "n1")
    history = recorder.history()
    reads = [op for op in history.operations if op.f == "read" and op.ok]
    assert reads and {op.invoke.node for op in reads} == {"n1"}
    assert any(op.f == "write" and op.ok and op.invoke.node != "n1" for op in history.operations)
    result = check(history, MODEL)
    assert result.valid is False, result.explain()
    path = tmp_path / "history.jsonl"
    write_history(history, path)
    assert recheck(path, capsys) == 1


@pytest.mark.slow
def test_a_longer_campaign_stays_linearizable(tmp_path: Path) -> None:
    outcome = run_workload(
        EtcdTarget(), clients=8, time_limit=45.0, nemesis=["pause", "kill", "partition"], seed=11,
        out=tmp_path, progress=None,
    )
    assert outcome.result is not None
    assert outcome.result.valid is True, outcome.result.explain()
    assert outcome.faults >= 9 and outcome.nemesis_errors == [] and outcome.client_errors == []


def test_cluster_stops_when_the_test_body_fails() -> None:
    target = EtcdTarget()
    with pytest.raises(RuntimeError, match="boom"), target:
        servers = list(target.servers.values())
        assert all(s.running for s in servers) and len(target.proxies) == 3
        raise RuntimeError("boom")
    assert not any(s.running for s in servers)
    assert not any(processes.port_open(p.port) for p in target.proxies)
    assert not target.workdir.exists()


def test_list_append_over_guarded_txns_is_strict_serializable_and_unguarded_reads_are_caught(
    tmp_path: Path,
) -> None:
    good = run_workload(
        EtcdAppendTarget(), clients=5, time_limit=4.0, nemesis="partition,kill", seed=3, keys=4,
        nemesis_interval=(0.4, 0.8), nemesis_duration=(0.6, 1.0), out=tmp_path, progress=None,
    )
    assert good.result is not None
    assert good.result.valid is True, good.result.explain()
    assert sum(op.ok for op in good.history.operations) > 50
    weak = run_workload(EtcdAppendWeakTarget(), clients=6, time_limit=3.0, keys=3, out=tmp_path, progress=None)
    assert weak.result is not None
    assert weak.result.valid is False, weak.result.explain()


@pytest.mark.slow
def test_ten_keys_under_every_fault(tmp_path: Path) -> None:
    """``splitbrain run etcd --keys 10 --nemesis all``: the issue's acceptance run."""
    outcome = run_workload(
        EtcdTarget(), clients=10, time_limit=30.0, nemesis="all", seed=7, keys=10, out=tmp_path, progress=None,
    )
    assert outcome.result is not None
    assert outcome.result.valid is True, outcome.result.explain()
    assert len(outcome.keys) >= 10 and outcome.recovered is True
    assert outcome.nemesis_errors == [] and outcome.client_errors == []


def test_a_member_is_replaced_and_the_cluster_keeps_serving(tmp_path: Path) -> None:
    """The ``member`` fault: remove a member (data deleted), add it back as a new member with a new id
    that catches up; the routes follow the new id so partitions still cut the right links. etcd refuses
    a removal while the cluster is not healthy (strict reconfiguration check): the nemesis records that
    as ``nemesis-refused``, not as an error."""
    with EtcdTarget() as target:
        deadline = time.monotonic() + 15
        while True:  # etcd accepts a reconfiguration once every member has been connected for a while
            try:
                target.remove_member("n3")
                break
            except FaultRefused:
                assert time.monotonic() < deadline
                time.sleep(0.5)
        old = target.member_ids["n3"]
        assert not target.servers["n3"].running and not (target.workdir / "n3").exists()
        target.add_member("n3")
        assert target.member_ids["n3"] != old
        assert target.wait_recovered(30)
        assert target.member_ids == target._member_ids()
        assert any(route.source == target.member_ids["n3"] for route in target.links.routes)
        client = target.client(2)  # home n3
        client.invoke("write", 3, "n1", key="k")
        assert client.invoke("read", None, "n3", key="k") == 3
        client.close()
