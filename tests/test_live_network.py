"""The pieces of live runs that need no server: partition shapes, link modes, fault kinds, the key pool,
the streamed history and the orphan reaper."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splitbrain.errors import UsageError
from splitbrain.histories import read_history
from splitbrain.histories.recorder import Recorder
from splitbrain.live import network, orphans
from splitbrain.live.journal import HISTORY, PARTIAL, Journal, SpoolRecorder, recover
from splitbrain.live.nemesis import KINDS, parse_kinds
from splitbrain.live.network import Links, Route
from splitbrain.live.perf import fault_periods, write_perf_svg
from splitbrain.live.proxy import FaultProxy, Mode
from splitbrain.live.workloads import KeyPool, make_workload

NODES = ["n1", "n2", "n3", "n4", "n5"]


def reachable(cut: frozenset[tuple[str, str]], nodes: list[str]) -> dict[str, set[str]]:
    """Who hears whom: for each node, the nodes whose messages reach it directly."""
    return {b: {a for a in nodes if a == b or (a, b) not in cut} for b in nodes}


def test_isolate_cuts_one_node_both_ways() -> None:
    cut = network.isolate(NODES[:3], "n1")
    assert cut == {("n1", "n2"), ("n2", "n1"), ("n1", "n3"), ("n3", "n1")}


@pytest.mark.parametrize("seed", range(5))
def test_halves_split_a_minority_from_a_majority(seed: int) -> None:
    cut, text = network.halves(NODES, random.Random(seed))
    hears = reachable(cut, NODES)
    sizes = sorted({len(h) for h in hears.values()})
    assert sizes == [2, 3], (text, hears)


@pytest.mark.parametrize("seed", range(5))
def test_a_bridge_node_hears_everyone_and_the_sides_do_not_meet(seed: int) -> None:
    cut, text = network.bridge(NODES, random.Random(seed))
    hears = reachable(cut, NODES)
    bridge = [n for n, h in hears.items() if len(h) == len(NODES)]
    assert len(bridge) == 1, text
    assert all(len(h) == 3 for n, h in hears.items() if n not in bridge)


@pytest.mark.parametrize("count", [3, 5])
def test_in_a_majority_ring_everyone_hears_a_different_majority(count: int) -> None:
    nodes = NODES[:count]
    cut, _ = network.majority_ring(nodes, random.Random(1))
    hears = reachable(cut, nodes)
    assert all(len(h) == count // 2 + 1 for h in hears.values())
    assert len({frozenset(h) for h in hears.values()}) == count


def test_oneway_cuts_one_direction_of_one_node() -> None:
    for seed in range(6):
        cut, text = network.oneway(NODES[:3], random.Random(seed))
        node = text.split()[0]
        assert len(cut) == 2 and all(node in link for link in cut)
        assert not any((b, a) in cut for a, b in cut)


def test_link_modes_follow_the_direction_of_the_connection() -> None:
    proxy = FaultProxy(1, name="unused")  # never started: modes are only recorded
    links = Links()
    links.add(Route("n2", "n1", proxy, "n2"))  # n2 dials n1
    links.apply({("n2", "n1")})
    assert proxy.mode_of("n2") == Mode("oneway", direction="up")
    links.apply({("n1", "n2")})
    assert proxy.mode_of("n2") == Mode("oneway", direction="down")
    links.apply({("n1", "n2"), ("n2", "n1")})
    assert proxy.mode_of("n2") == Mode("drop")
    links.apply(set(), {("n1", "n2"): 0.2})
    assert proxy.mode_of("n2") == Mode("delay", delay=0.2)
    links.apply(set())
    assert proxy.mode_of("n2") == Mode()


def test_a_base_mode_is_what_healing_returns_to() -> None:
    proxy = FaultProxy(1, name="unused")
    links = Links()
    links.add(Route("replica", "primary", proxy), base=Mode("delay", delay=0.1))
    links.apply({("replica", "primary"), ("primary", "replica")})
    assert proxy.mode_of(None) == Mode("drop")
    links.apply(set())
    assert proxy.mode_of(None) == Mode("delay", delay=0.1)


def test_fault_kinds_parse_like_the_cli() -> None:
    assert parse_kinds("all") == list(KINDS)
    assert parse_kinds(["all"], frozenset({"pause", "kill"})) == ["pause", "kill"]
    assert parse_kinds("pause, partition-bridge") == ["pause", "partition-bridge"]
    assert parse_kinds("none") == []
    with pytest.raises(UsageError, match="unknown fault meteor"):
        parse_kinds("meteor")
    with pytest.raises(UsageError, match="unknown fault partition-star"):
        parse_kinds("partition-star")


def test_keys_are_retired_after_their_operations() -> None:
    pool = KeyPool(3, per_key=2)
    rng = random.Random(0)
    for _ in range(12):
        pool.take(rng)
    assert len(pool.keys_used()) >= 6  # 12 uses, 2 per key
    assert len(pool.active) == 3 and min(pool.active) >= 3


def test_register_workload_is_keyed_only_with_several_keys() -> None:
    rng = random.Random(0)
    assert make_workload("register").draw(rng).key is None
    assert make_workload("register", keys=4).draw(rng).key in range(4)
    specs = [make_workload("append").draw(rng) for _ in range(50)]
    assert all(s.f == "txn" and 1 <= len(s.value) <= 4 for s in specs)


def test_append_values_are_unique_per_key() -> None:
    workload = make_workload("append", keys=2)
    rng = random.Random(3)
    appended: dict[int, list[int]] = {}
    for _ in range(200):
        for fn, k, v in workload.draw(rng).value:
            if fn == "append":
                appended.setdefault(k, []).append(v)
    assert all(len(vs) == len(set(vs)) for vs in appended.values())


def test_the_journal_streams_and_recovers_whole_lines(tmp_path: Path) -> None:
    recorder = Recorder(readonly={"read"})
    journal = Journal(recorder, tmp_path, every=0.05)
    worker = recorder.worker()
    for value in range(5):
        with worker.call("write", value) as call:
            call.ok(value)
    deadline = time.monotonic() + 5
    while journal.written < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    journal.close(keep=True)
    with open(tmp_path / PARTIAL, "ab") as part:
        part.write(b'{"process": 9, "type": "inv')  # a torn last line
    assert recover(tmp_path) == 10
    history = read_history(tmp_path / HISTORY)
    assert len(history.operations) == 5 and not (tmp_path / PARTIAL).exists()


def test_reap_kills_what_a_dead_runner_left_and_saves_its_history(tmp_path: Path) -> None:
    run_dir, workdir = tmp_path / "redis-1", tmp_path / "splitbrain-redis-x"
    run_dir.mkdir()
    workdir.mkdir()
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    runner = subprocess.Popen([sys.executable, "-c", "pass"])
    runner.wait()
    os.kill(server.pid, signal.SIGSTOP)  # a frozen orphan
    (run_dir / orphans.RUNFILE).write_text(json.dumps({
        "runner": {"pid": runner.pid, "start": 1},
        "workdir": str(workdir), "temporary": True,
        "servers": {f"n1@{server.pid}": {"pid": server.pid, "start": orphans.process_start(server.pid)}},
    }))
    (run_dir / PARTIAL).write_text('{"process": 0, "type": "invoke", "f": "read"}\n')
    done = orphans.reap(tmp_path)
    assert server.wait(timeout=5) == -signal.SIGKILL
    assert any("killed orphaned server" in line for line in done)
    assert not workdir.exists() and not (run_dir / orphans.RUNFILE).exists()
    assert (run_dir / HISTORY).read_text().count("\n") == 1


def test_reap_leaves_a_live_runner_alone(tmp_path: Path) -> None:
    run_dir = tmp_path / "redis-2"
    run_dir.mkdir()
    me = {"pid": os.getpid(), "start": orphans.process_start(os.getpid())}
    (run_dir / orphans.RUNFILE).write_text(json.dumps({"runner": me, "servers": {}, "workdir": None}))
    assert orphans.reap(tmp_path) == []
    assert (run_dir / orphans.RUNFILE).exists()


def test_perf_plot_shades_the_faults(tmp_path: Path) -> None:
    ticks = iter(range(0, 10**12, 10**8))  # 0.1 s per event
    recorder = Recorder(readonly={"read"}, clock=lambda: next(ticks))
    worker = recorder.worker()
    for value in range(5):
        with worker.call("write", value) as call:
            call.ok(value)
    recorder.nemesis("start-partition", "n1 | n2 n3")
    with worker.call("read") as call:
        call.ok(4)
    recorder.nemesis("stop-partition", "n1 | n2 n3")
    recorder.nemesis("start-kill", "n2")  # still in effect at the end
    history = recorder.history()
    periods = fault_periods(history, 0, 10**10)
    assert [(k, v) for _, _, k, v in periods] == [("partition", "n1 | n2 n3"), ("kill", "n2")]
    svg = write_perf_svg(history, tmp_path / "perf.svg", title="t").read_text()
    assert svg.startswith("<svg") and svg.count("<circle") == 6 and "partition n1 | n2 n3" in svg


def test_a_spool_recorder_keeps_only_unwritten_events_in_memory(tmp_path: Path) -> None:
    recorder = SpoolRecorder(readonly={"read"})
    journal = Journal(recorder, tmp_path, every=3600)  # flushed by hand below
    worker = recorder.worker()
    for value in range(1000):
        with worker.call("write", value % 5, key=value % 7) as call:
            call.ok(value % 5)
        if value % 100 == 99:
            journal.flush()
            assert recorder._pending == []  # written, and gone from memory
    recorder.nemesis("start-kill", "n1")
    assert len(recorder) == 2001
    history = recorder.history()  # read back from the journal, the unwritten tail included
    assert len(history.ops) == 2001 and history.ops[-1].f == "start-kill"
    assert [op.index for op in history.ops] == list(range(2001))
    assert len(history.keys()) == 7
    journal.close()
    assert not (tmp_path / PARTIAL).exists()
