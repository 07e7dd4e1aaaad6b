"""`splitbrain run` killed from outside leaves nothing behind: no server process, no listening port, no
frozen (SIGSTOPped) server, no data directory — and keeps the history recorded so far.

Each test starts the real CLI in a subprocess, waits until a server is paused (the worst moment: a
frozen server ignores everything but SIGKILL and SIGCONT), reads the pids, ports and data directory from
the run's ``run.json``, then sends the signal. SIGTERM and SIGINT go through the runner's cleanup;
SIGKILL runs none, so the servers must die of their parent-death signal, and ``--cleanup`` must turn
the streamed journal into ``history.jsonl``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splitbrain.histories import read_history
from splitbrain.live import orphans
from splitbrain.live.processes import port_open

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (Debian package redis-server; scripts/system-deps.sh installs it)",
)


def state(pid: int) -> str | None:
    """The process state letter (R, S, T for stopped, Z...), None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def listening_ports(pid: int) -> set[int]:
    """TCP ports ``pid`` listens on (from /proc/net/tcp and its file descriptors)."""
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")
                  if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")}
    except OSError:
        return set()
    ports = set()
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].split(":")[1], 16))
    return ports


def start_run(tmp_path: Path, target: str, faults: str, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    runner = subprocess.Popen(
        [sys.executable, "-m", "splitbrain.cli", "run", target, "--time", "60", "--faults", faults,
         "--nemesis-interval", "0.6", "--fault-duration", "4", "--out", str(tmp_path), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runfiles = list(tmp_path.glob(f"*/{orphans.RUNFILE}"))
        if runfiles:
            return runner, runfiles[0].parent
        time.sleep(0.05)
    runner.kill()
    raise AssertionError("the run never wrote its run.json")


def wait_for_servers(run_dir: Path, count: int, *, paused: bool) -> dict[str, int]:
    """The pids of the run's servers, once ``count`` run (and, with ``paused``, one is frozen)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            data = json.loads((run_dir / orphans.RUNFILE).read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
            continue
        pids = {name: entry["pid"] for name, entry in data["servers"].items() if state(entry["pid"])}
        if len(pids) >= count and (not paused or any(state(p) == "T" for p in pids.values())):
            return pids
        time.sleep(0.05)
    raise AssertionError(f"no {'paused ' if paused else ''}server in {run_dir}")


def listener_of(port: int) -> str | None:
    """The command line of the process listening on ``port`` (None: nobody, or not visible)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if port in listening_ports(int(pid)):
            try:
                return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                return None
    return None


def assert_nothing_left(pids: dict[str, int], ports: set[int], workdir: str, *, removed: bool = True) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(state(p) not in (None, "Z") for p in pids.values()):
        time.sleep(0.05)
    left = {name: state(pid) for name, pid in pids.items() if state(pid) not in (None, "Z")}
    assert not left, f"servers left running: {left}"
    # a port the dead servers held may since have been taken by an unrelated process (other test runs
    # share this machine and draw ports from the same range): only a listener of this run is a leak
    ours = [(p, who) for p in ports if port_open(p) and (who := listener_of(p)) is not None
            and workdir in who]
    assert not ours, f"ports still served by this run: {ours}"
    if removed:
        assert not Path(workdir).exists(), f"data directory left: {workdir}"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_during_a_pause_stops_everything_and_saves_the_history(
    tmp_path: Path, signum: int
) -> None:
    runner, run_dir = start_run(tmp_path, "redis", "pause")
    try:
        pids = wait_for_servers(run_dir, 1, paused=True)
        ports = set().union(*(listening_ports(p) for p in pids.values()))
        workdir = json.loads((run_dir / orphans.RUNFILE).read_text())["workdir"]
        assert ports and workdir
        runner.send_signal(signum)
        _, err = runner.communicate(timeout=30)
    finally:
        runner.kill()
    assert runner.returncode == 130, err.decode()
    assert b"partial history saved" in err
    assert_nothing_left(pids, ports, workdir)
    history = read_history(run_dir / "history.jsonl")
    assert history.operations and any(op.f == "start-pause" for op in history.faults)
    assert not (run_dir / orphans.RUNFILE).exists() and not (run_dir / "history.jsonl.part").exists()


def test_sigkill_leaves_no_server_and_cleanup_recovers_the_history(tmp_path: Path) -> None:
    runner, run_dir = start_run(tmp_path, "redis", "pause")
    try:
        pids = wait_for_servers(run_dir, 1, paused=True)
        ports = set().union(*(listening_ports(p) for p in pids.values()))
        workdir = json.loads((run_dir / orphans.RUNFILE).read_text())["workdir"]
        time.sleep(0.5)  # the journal flushes every 0.25 s
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
    finally:
        runner.kill()
    # the parent-death signal kills the servers, frozen or not, without anybody's help
    assert_nothing_left(pids, ports, workdir, removed=False)
    assert (run_dir / orphans.RUNFILE).exists() and (run_dir / "history.jsonl.part").exists()
    cleanup = subprocess.run([sys.executable, "-m", "splitbrain.cli", "run", "--cleanup", "--out", str(tmp_path)],
                             capture_output=True, text=True, timeout=30)
    assert cleanup.returncode == 0, cleanup.stderr
    assert "history.jsonl" in cleanup.stdout
    assert_nothing_left(pids, ports, workdir)
    history = read_history(run_dir / "history.jsonl")
    assert history.operations
    assert not (run_dir / orphans.RUNFILE).exists()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("etcd") is None, reason="etcd is not installed")
def test_sigterm_of_an_etcd_run_stops_the_cluster(tmp_path: Path) -> None:
    """The issue's case: SIGTERM 6 s into an etcd run used to leave 3 members, 6 ports and the data."""
    runner, run_dir = start_run(tmp_path, "etcd", "pause,partition")
    try:
        pids = wait_for_servers(run_dir, 3, paused=False)
        time.sleep(6)
        ports = set().union(*(listening_ports(p) for p in pids.values()))
        workdir = json.loads((run_dir / orphans.RUNFILE).read_text())["workdir"]
        assert len(ports) >= 6
        runner.send_signal(signal.SIGTERM)
        runner.communicate(timeout=60)
    finally:
        runner.kill()
    assert runner.returncode == 130
    assert_nothing_left(pids, ports, workdir)
    assert read_history(run_dir / "history.jsonl").operations
