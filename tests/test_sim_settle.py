"""The simulator's hooks for eventually consistent systems: ``Workload.settle``, ``Workload.final_reads``,
``Node.record`` and ``Rand.unique`` — each does what it says, and a workload that uses none of them runs
exactly as before (the quiesce phase still ends with the last client operation)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

from eventual_support import drive
from splitbrain import load_workload
from splitbrain.errors import UsageError
from splitbrain.histories import dumps_history
from splitbrain.impls.eventual.gossip import GossipKVWorkload
from splitbrain.sim import ClientOp, Node, Rand, Request, Workload, World, replay


def test_without_the_hooks_quiesce_ends_with_the_last_client_operation() -> None:
    for name in ("primary-backup", "paxos"):
        workload = load_workload(name)
        assert workload.settle == 0
        for seed in range(3):
            result = World(workload, seed=seed).run()
            last = result.trace.steps[-1]  # a client's operation completed: a reply or a timeout
            assert (last.kind == "deliver" and last.dst is not None and last.dst.startswith("c")) or (
                last.kind == "timeout"
            ), last
            assert not any(o.f == "final-read" for o in result.history.ops)


def test_settling_only_appends_to_the_run() -> None:
    """Same seed, with and without settling: the run without is a prefix of the run with, which goes
    on for the settle ticks after the last operation and then records one final read per node and key."""
    quick = GossipKVWorkload()
    quick.settle = 0  # (the constructor refuses a settle too short to converge; here that is the point)
    for seed in (1, 2):
        short = World(quick, seed=seed).run()
        long = World(GossipKVWorkload(), seed=seed).run()
        n = len(short.trace.steps)
        assert long.trace.steps[:n] == short.trace.steps
        finals = [o for o in long.history.ops if o.f == "final-read"]
        assert long.history.ops[: len(long.history.ops) - len(finals)][: len(short.history.ops)] == tuple(
            o for o in short.history.ops if o.f != "final-read"
        )
        assert long.world.time >= short.world.time + 100
        assert [(o.process, o.type, o.key) for o in finals[:2]] == [("n1", "invoke", "x"), ("n1", "ok", "x")]
        assert len(finals) == 2 * 3 * 2  # invoke and ok, three nodes, two keys


def test_final_reads_are_stamped_one_tick_of_their_node_each() -> None:
    result = World(GossipKVWorkload(), seed=3).run()
    world = result.world
    finals = [o for o in result.history.operations if o.f == "final-read"]
    n1 = [o.invoke.vclock for o in finals if o.process == "n1"]
    assert n1[0] is not None and n1[1] is not None
    assert n1[1]["n1"] == n1[0]["n1"] + 1 and n1[1] == world.vclock("n1").to_dict()


def test_settle_must_be_a_non_negative_int() -> None:
    with pytest.raises(UsageError, match="settle must be an int >= 0"):
        GossipKVWorkload(settle=-5)


class Recorder(Node):
    """Records a ``note`` event per request, with its own clock when the request carries one."""

    def on_client(self, request: Request) -> None:
        self.record("note", request.value, key="k", vclock=request.key)
        self.reply(request)


class Notes(Workload):
    name = "notes"
    model = "register"
    variants = {"correct": Recorder}
    node_count = 1
    clients = 1
    faults = ()  # type: ignore[assignment]
    max_steps = 30

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("write", rand.unique())


def test_node_events_and_unique_values() -> None:
    result = World(Notes(), seed=0).run()
    notes = [o for o in result.history.operations if o.f == "note"]
    writes = [o.input for o in result.history.operations if o.f == "write"]
    assert writes == list(range(1, len(writes) + 1))  # unique() counts per world: 1, 2, 3, ...
    assert [o.input for o in notes] == writes
    assert all(o.process == "n1" and o.key == "k" and o.ok and o.output == o.input for o in notes)
    ticks = [o.invoke.vclock["n1"] for o in notes if o.invoke.vclock]
    assert ticks == sorted(ticks) and len(set(ticks)) == len(ticks)  # the node's clock, ticked per event
    again = World(Notes(), seed=0).run()  # a second world counts from 1 again: runs stay deterministic
    assert dumps_history(again.history) == dumps_history(result.history)
    assert dumps_history(replay(result.trace, Notes()).history) == dumps_history(result.history)


def test_a_node_may_stamp_its_events_with_its_own_clock_but_not_a_broken_one() -> None:
    world = World(Notes(), seed=0)
    world.start()
    world.step("invoke:0", f="write", value=1, op_key={"app": 3})
    drive(world, lambda: world.clients[0].waiting is None)
    note = next(o for o in world.recorder.ops if o.f == "note")
    assert note.vclock == {"app": 3}
    world.step("invoke:0", f="write", value=2, op_key={"app": -1})
    with pytest.raises(UsageError, match="n1 recorded note with a bad vector clock"):
        drive(world, lambda: world.clients[0].waiting is None)


class BadFinals(Notes):
    name = "bad-finals"

    def final_reads(self, world: Any) -> Any:
        yield "n9", "k", 1


def test_a_final_read_at_an_unknown_node_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="final read at unknown node 'n9'"):
        World(BadFinals(), seed=0).run()


def test_documentation_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parent.parent
    page = root / "docs" / "how-to" / "transactions-and-causality.md"
    found = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    blocks = [block for block in found if "class GrowOnlyKV" in block]
    assert blocks, "the grow-only store example is not in docs/how-to/transactions-and-causality.md"
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], page.name, "exec"), {"__name__": "docs_eventual_example"})
    assert "mail-only, seed 0: checker:convergence" in out.getvalue()
    assert "the replicas of 'x' disagree after the run" in out.getvalue()
