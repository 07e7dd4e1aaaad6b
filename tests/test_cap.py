"""``splitbrain cap`` and the settings that move a system along the CAP trade-off: raft-kv keeps
linearizability and gives up its minority side, gossip-kv the other way round, and gossip-kv's quorums
(and raft-kv's local reads) move each toward the other. Also ``--set`` and ``fuzz --json``."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from splitbrain.cli import main
from splitbrain.errors import UsageError
from splitbrain.fuzz.schedule import history_checks, run_schedule
from splitbrain.fuzz.store import load_failure
from splitbrain.histories import History, Op
from splitbrain.impls.eventual.gossip import GOSSIP_FAULTS, GossipKVNode, GossipKVWorkload
from splitbrain.impls.eventual.siblings import SiblingsRegister
from splitbrain.impls.raft import RaftKVWorkload, RaftNode
from splitbrain.sim import RandomSource


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def objects(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def minority(result: dict[str, Any]) -> float:
    return float(result["availability"]["partition-minority"]["availability"])


def test_raft_gives_up_the_minority_and_gossip_gives_up_linearizability(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["cap", "raft-kv", "gossip-kv", "--json"], capsys)
    assert code == 0, err
    raft, gossip = objects(out)
    assert (raft["workload"], gossip["workload"]) == ("raft-kv", "gossip-kv")
    assert raft["schedules"] == gossip["schedules"] == 20 and raft["faults"]["kinds"] == ["partition"]
    assert minority(raft) == 0.0 and raft["availability"]["partition-minority"]["ops"] > 20
    assert raft["availability"]["partition-majority"]["availability"] > 0.6
    assert raft["consistency"]["linearizable"] == {"verdict": "held", "held": 20, "violated": 0, "unknown": 0,
                                                   "model": "kv"}
    assert raft["consistency"]["convergent"]["verdict"] == "n/a"
    assert minority(gossip) == 1.0
    assert gossip["consistency"]["linearizable"]["verdict"] == "violated"
    assert "not linearizable" in gossip["consistency"]["linearizable"]["example"]
    assert gossip["consistency"]["convergent"] == {"verdict": "held", "held": 20, "violated": 0, "unknown": 0}


def test_quorums_move_gossip_to_the_consistent_side(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["cap", "gossip-kv", "--set", "r=2", "--set", "w=2", "--json"], capsys)
    assert code == 0
    (quorum,) = objects(out)
    assert quorum["settings"] == {"r": 2, "w": 2} and quorum["label"] == "gossip-kv r=2 w=2"
    assert minority(quorum) == 0.0
    assert quorum["availability"]["partition-majority"]["availability"] > 0.8
    assert quorum["consistency"]["linearizable"]["verdict"] == "held"
    assert quorum["consistency"]["linearizable"]["model"] == "siblings-register"
    assert quorum["consistency"]["convergent"]["verdict"] == "held"


def test_local_reads_move_raft_to_the_available_side(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["cap", "raft-kv reads=local", "--count", "10", "--json"], capsys)
    assert code == 0
    (local,) = objects(out)
    assert local["settings"] == {"reads": "local"}
    assert minority(local) > 0.2  # the reads; writes still need the leader
    assert local["consistency"]["linearizable"]["verdict"] == "violated"


def test_the_table_sets_workloads_and_their_settings_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["cap", "raft-kv", "gossip-kv r=2 w=2", "--count", "3", "--seed", "5"], capsys)
    assert code == 0 and "cap: measuring gossip-kv r=2 w=2 (3 schedules)" in err
    lines = out.splitlines()
    assert lines[0].startswith("splitbrain cap: 3 schedules per workload, seed 5, partitions and heals only")
    header = lines[2]
    assert header.split() == ["raft-kv", "gossip-kv", "r=2", "w=2"]
    rows = {line[:30].strip(): line[30:].split() for line in lines[3:12]}
    assert set(rows) >= {"available, majority side", "available, minority side", "linearizable", "causal",
                         "convergent"}
    assert rows["causal"][0] == "n/a" and rows["convergent"][0] == "n/a"
    assert "linearizable against: raft-kv kv, gossip-kv r=2 w=2 siblings-register" in out
    assert "causal n/a for raft-kv: " in out


def test_every_workload_runs_the_same_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    from splitbrain.cli.cap import schedule_seeds

    assert schedule_seeds(3, 4) == schedule_seeds(3, 4)[:4] and schedule_seeds(3, 2) == schedule_seeds(3, 4)[:2]
    code, out, _ = run(["cap", "gossip-kv", "gossip-kv", "--count", "2", "--json"], capsys)
    first, second = objects(out)
    for result in (first, second):
        result["consistency"]["linearizable"].pop("example")  # it says how long the check took
    assert code == 0 and first == second


@pytest.mark.parametrize(("args", "message"), [
    (["cap", "gossip-kv", "--set", "q=1"], "has no setting 'q'"),
    (["cap", "gossip-kv", "--set", "r=4"], "r must be an int from 1 to 3"),
    (["cap", "gossip-kv", "--set", "r"], "expected NAME=VALUE"),
    (["cap", "raft-kv reads=sideways"], "reads must be one of leader, local"),
    (["cap", "raft-kv", "no-such-system"], "unknown workload 'no-such-system'"),
    (["fuzz", "gossip-kv", "--set", "n=0", "--count", "1"], "n must be an int from 1 to 3"),
])
def test_bad_settings_are_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(args, capsys)
    assert code == 3 and message in err and out == ""


def test_fuzz_json_prints_the_statistics_and_saved_failures_keep_the_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "store")
    code, out, err = run(["fuzz", "raft-kv", "--set", "reads=local", "--count", "60", "--strategy", "random",
                          "--no-shrink", "--store", store, "--json"], capsys)
    assert code == 1, err
    (result,) = objects(out)  # everything else went to stderr
    assert "FAILURE checker:linearizability" in err and "reads=\"local\"" in err
    assert result["workload"] == "raft-kv" and result["settings"] == {"reads": "local"}
    assert result["failures"][0]["signature"] == "checker:linearizability"
    assert result["stats"]["availability"]["histories"] == result["schedules"] > 0
    record = load_failure(result["failures"][0]["path"])
    assert record["workload_options"] == {"reads": "local"}
    assert record["workload_ref"] == "splitbrain.impls.raft.workload:RaftKVWorkload"
    code, out, _ = run(["replay", result["failures"][0]["path"]], capsys)
    assert code == 1 and "still fails: checker:linearizability" in out


def test_fuzz_json_of_a_clean_campaign(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["fuzz", "gossip-kv", "--set", "r=2", "--set", "w=2", "--count", "6",
                          "--store", str(tmp_path), "--json"], capsys)
    assert code == 0, err
    (result,) = objects(out)
    assert result["failures"] == [] and result["schedules"] == 6
    states = result["stats"]["availability"]["states"]
    assert sum(s["ops"] for s in states.values()) > 6
    page = Path(result["report"]).read_text()
    assert "gossip-kv/correct (r=2 w=2)" in page


# -- the settings themselves ------------------------------------------------------------------------------
def test_default_settings_leave_the_zoo_classes_as_they_were() -> None:
    assert GossipKVWorkload().node_class("correct") is GossipKVNode
    assert GossipKVWorkload(n=3, r=1, w=1).node_class("correct") is GossipKVNode
    assert RaftKVWorkload().node_class("correct") is RaftNode
    quorum = GossipKVWorkload(r=2, w=2)
    cls = quorum.node_class("vnode-vclock")
    assert cls is quorum.node_class("vnode-vclock") and cls.__name__ == "VnodeVClockNode[n=all,r=2,w=2]"
    assert (cls.read_quorum, cls.write_quorum, cls.replicas, cls.replace_by_clock) == (2, 2, None, True)
    again = pickle.loads(pickle.dumps(quorum))  # a campaign sends a workload built with settings to workers
    assert again.node_class("vnode-vclock") is cls and again.overrides == {"r": 2, "w": 2}
    local = RaftKVWorkload(reads="local").node_class("stale-read")
    assert local.__name__ == "StaleRead[reads=local]" and issubclass(local, RaftNode)


@pytest.mark.parametrize("settings", [{"r": 0}, {"w": 4}, {"n": 4}, {"n": 2, "r": 3}, {"r": True}, {"w": "2"}])
def test_quorum_settings_are_validated(settings: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match="must be an int from 1 to"):
        GossipKVWorkload(**settings)


def test_a_key_has_n_replicas_picked_by_its_hash() -> None:
    cls = GossipKVWorkload(node_count=5, n=3, r=2, w=2).node_class("correct")
    node: Any = cls.__new__(cls)
    node.nodes = ("n1", "n2", "n3", "n4", "n5")
    replicas = {key: node.replicas_of(key) for key in ("x", "y", "z")}
    assert all(len(r) == 3 and len(set(r)) == 3 for r in replicas.values())
    assert replicas["x"] == node.replicas_of("x") and len(set(replicas.values())) > 1


@pytest.mark.parametrize("settings", [{"r": 2, "w": 2}, {"r": 3, "w": 1}, {"n": 2, "r": 1, "w": 2}])
def test_correct_gossip_with_quorums_passes_its_own_checks_under_every_fault(settings: dict[str, Any]) -> None:
    """Crashes, skew, message faults: a quorum setting may cost availability, never a lost update."""
    workload = GossipKVWorkload(**settings)
    checks = history_checks(workload)
    for seed in range(6):
        result = run_schedule(workload, "correct", RandomSource(seed), faults=GOSSIP_FAULTS, max_steps=300,
                              checks=checks)
        assert not result.verdict.failed, (seed, result.verdict.message)


def test_a_minority_coordinator_fails_reads_and_leaves_writes_unanswered() -> None:
    from splitbrain.sim import FaultConfig, World

    once = FaultConfig(kinds=("partition",), weights={"partition": 100_000, "heal": 0}, budget=1)
    for seed in range(3):
        history = World(GossipKVWorkload(r=2, w=2), "correct", source=RandomSource(seed), faults=once,
                        max_steps=200).run().history
        split = next(op for op in history.ops if op.f == "partition")
        heal = next(op for op in history.ops if op.f == "heal")  # the quiesce phase's, after the last operation
        alone = {n for group in split.value for n in group if 2 * len(group) < 3}
        # the operations sent to the minority side while it was cut off (a timed-out write completes late)
        late = [o for o in history.operations if split.index < o.call and o.invoke.node in alone
                and (o.status == "info" or (o.ret is not None and o.ret < heal.index))]
        assert late and all(o.status != "ok" for o in late), seed
        assert {o.status for o in late if o.f == "read"} <= {"fail"}
        assert {o.status for o in late if o.f == "write"} <= {"info"}
        assert all("no read quorum" in str(o.completion.error) for o in late if o.f == "read" and o.completion)


# -- the multi-value register model ------------------------------------------------------------------------
def ops(*events: tuple[int, str, str, Any]) -> History:
    return History.from_ops([Op(process=p, type=t, f=f, value=v) for p, t, f, v in events])  # type: ignore[arg-type]


def test_siblings_register_accepts_siblings_of_concurrent_writes() -> None:
    from splitbrain.checker.linearizability import check_linearizability

    concurrent = ops((0, "invoke", "write", 1), (1, "invoke", "write", 2), (0, "ok", "write", 1),
                     (1, "ok", "write", 2), (2, "invoke", "read", None), (2, "ok", "read", (1, 2)),
                     (0, "invoke", "write", 3), (0, "ok", "write", 3), (2, "invoke", "read", None),
                     (2, "ok", "read", (2, 3)))
    assert check_linearizability(concurrent, SiblingsRegister()).valid is True


@pytest.mark.parametrize("reads", [((1,), (1, 2)), ((2,), (1,)), ((),)])
def test_siblings_register_refuses_stale_and_resurrected_siblings(reads: tuple[tuple[int, ...], ...]) -> None:
    from splitbrain.checker.linearizability import check_linearizability

    events: list[tuple[int, str, str, Any]] = [(0, "invoke", "write", 1), (0, "ok", "write", 1),
                                              (0, "invoke", "write", 2), (0, "ok", "write", 2)]
    for got in reads:
        events += [(1, "invoke", "read", None), (1, "ok", "read", got)]
    assert check_linearizability(ops(*events), SiblingsRegister()).valid is False
