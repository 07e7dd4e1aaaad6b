"""PySyncObj (a Raft library from PyPI, unmodified) as a real system under test: three processes, each a
``SyncObj`` behind a small TCP front end, Raft traffic through fault proxies.

What the tests pin down (measured, see docs/explanation/real-servers.md): reads through the Raft log are
linearizable under every fault, clock skew included; local reads on the node that believes it leads are
linearizable without faults but not once a partition deposes a leader (the fault-only violation).
"""

from __future__ import annotations

import importlib.util
import random
import threading
import time
from pathlib import Path

import pytest

from live_support import cleanup_fixtures
from splitbrain import check
from splitbrain.histories.recorder import Recorder
from splitbrain.live.runner import run_workload
from splitbrain.live.targets.pysyncobj import NODES, SyncObjLeaderReadsTarget, SyncObjLogReadsTarget

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pysyncobj") is None,
    reason="pysyncobj is not installed (pip install pysyncobj; scripts/setup.sh installs it)",
)

nothing_left_behind, stop_everything = cleanup_fixtures("splitbrain.live.targets.syncobj_server")


def test_reads_through_the_log_are_linearizable_under_every_fault(tmp_path: Path) -> None:
    outcome = run_workload(
        SyncObjLogReadsTarget(), clients=5, time_limit=6.0, nemesis="all", seed=3, keys=4,
        nemesis_interval=(0.4, 0.8), nemesis_duration=(0.6, 1.2), out=tmp_path, progress=None,
    )
    assert outcome.result is not None
    assert outcome.result.valid is True, outcome.result.explain()
    kinds = {op.f for op in outcome.history.faults}
    assert {"start-clock", "start-partition", "start-kill", "start-pause"} <= kinds, kinds
    assert outcome.nemesis_errors == [] and outcome.client_errors == []
    assert sum(op.ok for op in outcome.history.operations) > 10  # faults leave little time to commit


def test_leader_reads_are_linearizable_without_faults(tmp_path: Path) -> None:
    outcome = run_workload(SyncObjLeaderReadsTarget(), clients=5, time_limit=3.0, keys=3, out=tmp_path,
                           progress=None)
    assert outcome.result is not None
    assert outcome.result.valid is True, outcome.result.explain()


def test_a_partitioned_leader_serves_stale_reads(tmp_path: Path) -> None:
    """Scripted so the outcome does not hang on timing: writers go through the majority; the leader is
    cut off, and a reader keeps reading from it (it still believes it leads) until the history is not
    linearizable — a prefix that is not linearizable stays so."""
    recorder = Recorder(readonly={"read"})
    stop = threading.Event()
    with SyncObjLeaderReadsTarget() as target:
        leader = target.leader()
        assert leader is not None
        others = [n for n in NODES if n != leader]

        def client(index: int, f: str, node: str) -> None:
            conn, worker, rng = target.client(index), recorder.worker(), random.Random(index)
            while not stop.is_set():
                value = rng.randrange(5) if f == "write" else None
                with worker.call(f, value, node=node, key=0) as call:
                    call.ok(conn.invoke(f, value, node, key=0))
                stop.wait(0.02)
            conn.close()

        threads = [threading.Thread(target=client, args=(1, "write", others[0])),
                   threading.Thread(target=client, args=(2, "read", leader))]
        try:
            threads[0].start()
            time.sleep(0.5)
            recorder.nemesis("start-partition", f"leader {leader} isolated")
            target.isolate(leader)
            threads[1].start()
            deadline = time.monotonic() + 25
            while time.monotonic() < deadline and check(recorder.history(), "cas-register").valid is not False:
                time.sleep(0.5)
        finally:
            stop.set()
            for thread in threads:
                if thread.is_alive():
                    thread.join()
        target.heal_network()
        recorder.nemesis("stop-partition", f"leader {leader} isolated")
    result = check(recorder.history(), "cas-register")
    assert result.valid is False, result.explain()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_leader_reads_are_caught_only_with_partitions(tmp_path: Path, seed: int) -> None:
    # a real server, in real time: random partition shapes of a second or two each must isolate the leader
    # while a write commits elsewhere and a read reaches it. 30 s missed that on one seed of three in two
    # of three runs on December 5, 2026 (seed 3's run isolated the leader once, and no stale read landed)
    outcome = run_workload(
        SyncObjLeaderReadsTarget(), clients=6, time_limit=60.0, nemesis="partition", seed=seed, keys=5,
        out=tmp_path, progress=None,
    )
    assert outcome.result is not None
    assert outcome.result.valid is False, outcome.result.explain()
    assert outcome.violation_after_fault is True
