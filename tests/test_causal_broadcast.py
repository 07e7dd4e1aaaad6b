"""causal-broadcast: BSS causal delivery with anti-entropy repair; the correct version delivers every
message everywhere in causal order under every fault, and both bugs are found, with their signatures,
and shrunk."""

from __future__ import annotations

from typing import Any

import pytest

from consensus_support import first_default_failure, passes
from eventual_support import drive, run_phase
from splitbrain import load_workload
from splitbrain.fuzz.schedule import ScheduleResult, history_checks, judge
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.histories import History, Op, dumps_history
from splitbrain.impls.eventual.causal_broadcast import SEARCH, CausalBroadcastWorkload, check_reliable_delivery
from splitbrain.sim import FaultConfig, RunResult, World, replay

WORKLOAD = load_workload("causal-broadcast")
CHECKS = history_checks(WORKLOAD)
BUDGET = 10  # schedules of the default search (from seed 1) to find each bug
# shrunk trace lengths after 150 replays: (whole trace, steps before quiesce); with anti-entropy about
# 100 steps of the trace are the settling after quiesce, which shrinking cannot remove
DELIVERY_BOUND = (160, 40)
RETRANSMIT_BOUND = (20, 10)


def test_registered_with_its_checks() -> None:
    assert WORKLOAD.bug_variants == ["deliver-on-receipt", "no-retransmit"]
    assert [name for name, _ in CHECKS] == ["causal-delivery", "causality", "reliable-delivery"]


# -- the correct version ------------------------------------------------------------------------------
def test_correct_version_passes_seeded_campaigns() -> None:
    assert passes(WORKLOAD, range(40)) > 2000
    passes(WORKLOAD, range(100, 120), *SEARCH["deliver-on-receipt"])


def test_correct_version_delivers_everything_despite_heavy_drops() -> None:
    lossy = FaultConfig(kinds=("drop", "duplicate", "reorder", "partition", "crash"),
                        weights={"drop": 60, "duplicate": 20, "partition": 20, "crash": 10, "restart": 30})
    passes(WORKLOAD, range(200, 230), lossy)


@pytest.mark.slow
def test_correct_version_passes_a_long_campaign() -> None:
    passes(WORKLOAD, range(1000, 3000))
    passes(CausalBroadcastWorkload(node_count=4, clients=4), range(300))


def test_history_records_every_send_and_delivery_with_protocol_clocks() -> None:
    history = World(WORKLOAD, seed=2).run().history
    events = [o for o in history.operations if o.f in ("send", "deliver")]
    assert events and all(o.process == o.invoke.node and o.invoke.vclock == o.completion.vclock  # type: ignore[union-attr]
                          for o in events)
    sends = {o.input: o for o in events if o.f == "send"}
    acked = [o.input for o in history.operations if o.f == "broadcast" and o.ok]
    assert acked and set(acked) <= set(sends)
    for d in (o for o in events if o.f == "deliver"):
        sent = sends[d.input].invoke.vclock
        assert sent is not None and d.invoke.vclock is not None
        assert all(d.invoke.vclock.get(k, 0) >= n for k, n in sent.items())  # a delivery follows its send


# -- finding the bugs ----------------------------------------------------------------------------------
def first_failure(variant: str, signature: str) -> ScheduleResult:
    """The first failure of the default search (the portfolio, the workload's own faults) from seed 1."""
    return first_default_failure(WORKLOAD, variant, BUDGET, caught_by={signature})[1]


def test_fuzzing_finds_and_shrinks_deliver_on_receipt() -> None:
    result = first_failure("deliver-on-receipt", "checker:causal-delivery")
    small = shrink_trace(WORKLOAD, result.trace, "checker:causal-delivery", max_replays=150)
    assert small.after <= DELIVERY_BOUND[0] and run_phase(small.trace) <= DELIVERY_BOUND[1], small.trace.describe()
    assert "that send happened before" in small.result.verdict.message


def test_fuzzing_finds_and_shrinks_no_retransmit() -> None:
    result = first_failure("no-retransmit", "checker:reliable-delivery")
    small = shrink_trace(WORKLOAD, result.trace, "checker:reliable-delivery", max_replays=150)
    assert small.after <= RETRANSMIT_BOUND[0] and run_phase(small.trace) <= RETRANSMIT_BOUND[1], small.trace.describe()
    assert "never delivered" in small.result.verdict.message


# -- the classic scenario, by hand -----------------------------------------------------------------------
def reply_overtakes(variant: str) -> RunResult:
    """n1 broadcasts 1; its copy to n3 is lost; n2 delivers 1 and then broadcasts 2, which reaches n3
    first."""
    world = World(WORKLOAD, variant, seed=0, faults=["drop"])
    world.start()
    world.step("invoke:0", f="broadcast", value=1, node="n1")
    drive(world, lambda: "n1>n3#1" in world.network.in_flight)
    world.step("drop:n1>n3#1")
    drive(world, lambda: world.clients[0].waiting is None and ("n1", 1) in world.storage("n2")["log"])
    world.step("invoke:1", f="broadcast", value=2, node="n2")
    drive(world, lambda: received(world, "n3", ("n2", 1)))
    world.quiesce()
    return world.result()


def received(world: World, node: str, message: tuple[str, int]) -> bool:
    """``node`` has the message: delivered, or held back for its causal predecessors."""
    live: Any = world.node(node)
    return message in world.storage(node)["log"] or message in live.held


def delivered_at(result: RunResult, node: str) -> list[Any]:
    return [o.input for o in result.history.operations if o.f == "deliver" and o.invoke.node == node]


def test_deliver_on_receipt_lets_a_reply_overtake_its_cause() -> None:
    good = reply_overtakes("correct")
    assert delivered_at(good, "n3") == [1, 2]  # held 2 back until the repair brought 1
    assert judge(good, CHECKS).signature is None
    bad = reply_overtakes("deliver-on-receipt")
    assert delivered_at(bad, "n3") == [2, 1]
    verdict = judge(bad, CHECKS)
    assert verdict.signature == "checker:causal-delivery"
    assert "n3 delivered 2 at event" in verdict.message and "but 1 only later" in verdict.message


def test_no_retransmit_never_repairs_the_lost_copy() -> None:
    bad = reply_overtakes("no-retransmit")
    assert delivered_at(bad, "n3") == []  # 1 was lost, so 2 waits for it forever
    verdict = judge(bad, CHECKS)
    assert verdict.signature == "checker:reliable-delivery"
    assert "n3 never delivered 1, 2" in verdict.message


# -- the reliable-delivery check on hand-built histories -------------------------------------------------
def event(node: str, f: str, mid: Any) -> list[Op]:
    return [Op(process=node, type=t, f=f, value=mid, node=node) for t in ("invoke", "ok")]


def test_reliable_delivery_check_names_each_problem() -> None:
    check = check_reliable_delivery(("n1", "n2"))
    ok = event("n1", "send", 1) + event("n1", "deliver", 1) + event("n2", "deliver", 1)
    assert check(History.from_ops(ok))[0] is True
    verdict, text = check(History.from_ops(event("n1", "send", 1) + event("n1", "deliver", 1)))
    assert verdict is False and "n2 never delivered 1" in text
    verdict, text = check(History.from_ops(ok + event("n2", "deliver", 1) + event("n2", "deliver", 7)))
    assert "n2 delivered 1 more than once" in text and "n2 delivered 7, which no node sent" in text
    acked = [Op(process=0, type="invoke", f="broadcast", value=9, node="n1"),
             Op(process=0, type="ok", f="broadcast", value=None, node="n1")]
    verdict, text = check(History.from_ops(ok + acked))
    assert verdict is False and "broadcast of 9 was acknowledged by n1 but never sent" in text


def test_runs_replay_exactly() -> None:
    for variant in ("correct", "deliver-on-receipt"):
        original = World(WORKLOAD, variant, seed=9).run()
        again = replay(original.trace, WORKLOAD)
        assert again.trace.dumps() == original.trace.dumps()
        assert dumps_history(again.history) == dumps_history(original.history)
