"""``splitbrain replay`` names the first step where two runs of a trace part; ``--check-determinism``
runs the second in a new process with another ``PYTHONHASHSEED``; and the new machinery (power loss,
aimed faults, failover clients) is as deterministic as the rest, across processes and hash seeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from splitbrain import load_workload
from splitbrain.cli import main
from splitbrain.errors import InvalidHistory, UsageError
from splitbrain.fuzz.determinism import compare_runs
from splitbrain.fuzz.saved import failure_record
from splitbrain.fuzz.schedule import ScheduleResult, Verdict
from splitbrain.fuzz.store import FailureStore, load_failure
from splitbrain.sim import ClientOp, Node, Rand, Trace, Workload, World, replay

HERE = Path(__file__).resolve().parent


class Leaky(Node):
    """Keeps a count in a class attribute, which outlives the run: the second run starts elsewhere."""

    starts: ClassVar[int] = 0

    def on_start(self) -> None:
        if self.id == "n1":
            type(self).starts += 1
            for _ in range(type(self).starts % 2 + 1):
                self.send("n2", "hello")


class Unordered(Node):
    """Greets its peers in the order of a set of strings: an order that changes with PYTHONHASHSEED."""

    def on_start(self) -> None:
        if self.id == "n1":
            for peer in {f"peer-{p}" for p in self.peers}:
                self.send(peer.removeprefix("peer-"), "hello")


class Quiet(Workload):
    name = "quiet"
    model = "register"
    node_count = 8
    clients = 0
    faults = ()  # type: ignore[assignment]
    max_steps = 30
    variants = {"correct": Leaky}

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("read")


LEAKY = Quiet(variants={"correct": Leaky})
UNORDERED = Quiet(variants={"correct": Unordered})


def saved(workload: Workload, tmp_path: Path) -> Path:
    run = World(workload, seed=0).run()
    result = ScheduleResult(run, Verdict("invariant:made-up", "saved for the test"))
    record = failure_record(workload, 0, result, stage="found", steps_found=len(run.trace.steps))
    return FailureStore(tmp_path).save(record)


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out + err


def test_compare_runs_names_the_first_step_where_two_runs_part() -> None:
    first = World(LEAKY, seed=0).run()
    second = replay(first.trace, LEAKY)
    divergence = compare_runs(first.trace, first.history, second.trace, second.history)
    assert divergence is not None and divergence.what == "step" and divergence.index == 0
    assert "sent" in (divergence.first or "") and divergence.first != divergence.second
    same = World(UNORDERED, seed=0).run()
    assert compare_runs(same.trace, same.history, replay(same.trace, UNORDERED).trace, same.history) is None


def test_replay_reports_the_divergence_of_its_two_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = saved(LEAKY, tmp_path)
    code, out = cli(["replay", str(path)], capsys)
    assert code == 4
    assert "THE TWO REPLAYS DIFFER" in out and "the two runs part at step 0:" in out
    assert "first run:" in out and "second run:" in out


def test_check_determinism_replays_in_another_process_with_another_hash_seed(tmp_path: Path) -> None:
    path = saved(UNORDERED, tmp_path)
    importable = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])  # this module, for the workload
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": importable}

    def replay_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "splitbrain", "replay", *args, str(path)], env=env,
                              capture_output=True, text=True, timeout=300, check=False)

    same = replay_cli()  # in one process the set's order holds
    assert same.returncode == 0 and "identical traces and histories" in same.stdout
    done = replay_cli("--check-determinism")  # the other process hashes strings with another seed
    assert done.returncode == 4, done.stdout + done.stderr
    assert "a new process" in done.stdout and "the two runs part at step 0:" in done.stdout


_SCRIPT = """
import sys
from splitbrain import load_workload
from splitbrain.histories import dumps_history
from splitbrain.impls.raft.workload import SEARCH
from splitbrain.sim import Aim, World, after_reply, after_send
raft, pb = load_workload("raft-kv"), load_workload("primary-backup")
faults, steps = SEARCH["unsynced-vote"]
acked = after_reply(f="write")
aims = [Aim("crash", "replier", acked), Aim("drop", "message", acked & after_send(kind="Accept"), times=2)]
runs = [World(raft, "unsynced-vote", seed=s, faults=faults, max_steps=steps).run() for s in (11, 12)]
runs += [World(pb, "early-ack", seed=s, faults=[], aims=aims, max_steps=200).run() for s in (4, 5)]
for run in runs:
    sys.stdout.buffer.write(run.trace.dumps() + dumps_history(run.history).encode())
"""


def test_power_loss_and_aimed_faults_are_deterministic_across_processes_and_hash_seeds() -> None:
    outputs = []
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, check=True, timeout=300)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert b'"kind":"power-loss"' in outputs[0] and b'"aim":"crash replier"' in outputs[0]


def test_a_trace_of_another_version_is_refused_by_name_with_the_versions_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Versions 1 (crashes lose the messages in flight to the node) and 2 (they wait for its next
    incarnation) are read; a later one is refused, naming the file and the versions this splitbrain reads."""
    run = World(UNORDERED, seed=0).run()
    newer = Trace.loads(run.trace.dumps()).dumps().replace(b'"version":2', b'"version":3', 1)
    with pytest.raises(UsageError, match=r"t\.json: trace version 3; this splitbrain reads versions 1, 2"):
        Trace.loads(newer, source="t.json")
    path = saved(UNORDERED, tmp_path)
    record = json.loads(path.read_text())
    record["trace"]["version"] = 3
    path.write_text(json.dumps(record))
    with pytest.raises(InvalidHistory, match=r"the trace is version 3; this splitbrain reads versions 1, 2"):
        load_failure(path)
    code, out = cli(["replay", str(path)], capsys)
    assert code != 0 and str(path) in out and "reads versions 1, 2" in out


def test_a_trace_read_back_from_its_file_is_the_same_run_as_its_replay() -> None:
    """JSON has no tuples: a ``cas`` operation's value comes back from a saved trace as a list, and the
    replay, which has it as a tuple, must not be reported as departing from the saved trace."""
    run = World(load_workload("paxos"), seed=0).run()
    assert any(isinstance(s.value, tuple) for s in run.trace.steps)
    saved = Trace.loads(run.trace.dumps())
    assert saved.steps != run.trace.steps  # lists where the run had tuples
    assert compare_runs(saved, b"", replay(saved, load_workload("paxos")).trace, b"") is None


def test_the_divergence_says_which_run_ended_first() -> None:
    run = World(UNORDERED, seed=0).run()
    short: Any = type(run.trace)(**{**{f: getattr(run.trace, f) for f in run.trace.__struct_fields__},
                                    "steps": run.trace.steps[:-1]})
    divergence = compare_runs(run.trace, run.history, short, run.history)
    assert divergence is not None and divergence.second is None and "(ended before it)" in divergence.describe()
