"""Each fault kind, driven by hand on a probe workload: drop, duplicate, delay, reorder, partitions
(two-way and one-way) and heal, crash and restart, pause, clock skew and drift; clients' timeouts;
vector clocks along delivered messages; invariants."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from splitbrain import load_workload
from splitbrain.histories import NEMESIS
from splitbrain.sim import (
    FAULT_KINDS,
    ClientOp,
    FaultConfig,
    Node,
    Rand,
    ReplaySource,
    Request,
    Step,
    Trace,
    VectorClock,
    Workload,
    World,
    invariant,
)


class Probe(Node):
    """Records what it receives (memory and storage); sends and sets timers when a client asks."""

    def on_start(self) -> None:
        self.got: list[tuple[str, Any]] = []
        self.fired: list[tuple[str, int]] = []
        self.storage["starts"] = self.storage.get("starts", 0) + 1

    def on_message(self, src: str, msg: Any) -> None:
        self.got.append((src, msg))
        self.storage.setdefault("log", []).append(msg)

    def on_timer(self, name: str) -> None:
        self.fired.append((name, self.now()))

    def on_client(self, request: Request) -> None:
        if request.f == "send":
            dst, payload = request.value
            self.send(dst, payload)
            self.reply(request)
        elif request.f == "timer":
            self.set_timer(request.value, "t")
            self.reply(request)
        elif request.f == "ignore":
            pass  # never answers: the client times out
        else:
            self.fail(request, "unknown")


class ProbeWorkload(Workload):
    name = "probe"
    model = "register"
    variants = {"correct": Probe}
    node_count = 3
    clients = 1
    op_timeout = 50
    delay = (1, 1)

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("send", ("n2", rand.randint(0, 9)))


def world(faults: Any = FAULT_KINDS, **settings: Any) -> World:
    w = World(ProbeWorkload(**settings), seed=0, faults=faults)
    w.start()
    return w


def keys(w: World) -> list[str]:
    return [k for k, _ in w.enabled()]


def probe(w: World, node: str) -> Probe:
    n = w.node(node)
    assert isinstance(n, Probe)
    return n


def settle(w: World, limit: int = 500) -> None:
    """Deliver everything and fire every timer and timeout, advancing time as needed."""
    for _ in range(limit):
        ks = keys(w)
        ready = [k for k in ks if k.startswith(("deliver:", "timer:", "timeout:"))]
        if ready:
            w.step(ready[0])
        elif "advance" in ks:
            w.step("advance")
        else:
            return
    raise AssertionError("world did not settle")


def deliver(w: World, msg: int) -> Step:
    while f"deliver:{msg}" not in keys(w):
        w.step("advance")
    return w.step(f"deliver:{msg}")


def request(w: World, f: str, value: Any, node: str) -> Step:
    """Invoke ``f`` on ``node``, deliver the request and any answer; returns the request's delivery."""
    w.step("invoke:0", f=f, value=value, node=node)
    sent = w.steps[-1].sent
    assert sent is not None
    step = deliver(w, sent[0])
    for reply in [m.id for m in w.network.in_flight.values() if m.dst == "c0"]:
        deliver(w, reply)
    return step


def send(w: World, src: str, dst: str, payload: Any) -> int:
    """Have ``src`` send ``payload`` to ``dst``; returns the message id (it may be lost)."""
    step = request(w, "send", (dst, payload), src)
    assert step.sent is not None
    return step.sent[0]


def test_drop_loses_the_message() -> None:
    w = world()
    msg = send(w, "n1", "n2", "x")
    step = w.step(f"drop:{msg}")
    assert step.lost == [msg]
    settle(w)
    assert probe(w, "n2").got == []


def test_duplicate_arrives_twice() -> None:
    w = world()
    msg = send(w, "n1", "n2", "x")
    step = w.step(f"duplicate:{msg}")
    assert step.sent is not None and len(step.sent) == 1
    settle(w)
    assert probe(w, "n2").got == [("n1", "x"), ("n1", "x")]
    delivered = [d.msg for d in w.deliveries if d.dst == "n2"]
    assert delivered == sorted([msg, step.sent[0]]) or delivered == [step.sent[0], msg]


def test_delay_postpones_delivery() -> None:
    w = world()
    msg = send(w, "n1", "n2", "x")
    before = w.network.in_flight[msg].deliver_at
    w.step(f"delay:{msg}", delay=30)
    due = max(before, w.time) + 30
    assert w.network.in_flight[msg].deliver_at == due
    assert f"deliver:{msg}" not in keys(w)
    settle(w)
    assert probe(w, "n2").got == [("n1", "x")]
    assert [s.t for s in w.steps if s.kind == "deliver" and s.msg == msg] == [due]


def test_links_are_fifo_unless_reorder_is_allowed() -> None:
    for faults, may_overtake in ((["drop"], False), (["reorder"], True)):
        w = world(faults)
        first = send(w, "n1", "n2", "a")
        second = send(w, "n1", "n2", "b")
        ready = keys(w)
        assert f"deliver:{first}" in ready
        assert (f"deliver:{second}" in ready) is may_overtake, faults
        if may_overtake:
            w.step(f"deliver:{second}")
        settle(w)
        assert [m for _, m in probe(w, "n2").got] == (["b", "a"] if may_overtake else ["a", "b"])


def test_reordering_by_delay() -> None:
    w = world(["reorder", "delay"])
    first = send(w, "n1", "n2", "a")
    w.step(f"delay:{first}", delay=20)
    send(w, "n1", "n2", "b")
    settle(w)
    assert [m for _, m in probe(w, "n2").got] == ["b", "a"]


def test_partitioned_message_is_not_delivered_and_heal_delivers_again() -> None:
    w = world()
    w.step("partition", groups=[["n1"], ["n2", "n3"]])
    assert w.network.sorted_cuts() == [("n1", "n2"), ("n1", "n3"), ("n2", "n1"), ("n3", "n1")]
    step = request(w, "send", ("n2", "cut"), "n1")
    assert step.sent and step.lost == [step.sent[0]]
    send(w, "n3", "n2", "same side")
    settle(w)
    assert [m for _, m in probe(w, "n2").got] == ["same side"]
    w.step("heal")
    send(w, "n1", "n2", "healed")
    settle(w)
    assert [m for _, m in probe(w, "n2").got] == ["same side", "healed"]
    faults = [(op.f, op.value) for op in w.result().history.faults]
    assert faults == [("partition", (("n1",), ("n2", "n3"))), ("heal", None)]


def test_partition_loses_messages_in_flight() -> None:
    w = world()
    msg = send(w, "n1", "n2", "x")
    step = w.step("partition", groups=[["n1", "n3"], ["n2"]])
    assert step.lost == [msg]
    settle(w)
    assert probe(w, "n2").got == []


def test_oneway_partition_cuts_one_direction() -> None:
    w = world()
    w.step("oneway", groups=[["n1"], ["n2"]])
    send(w, "n1", "n2", "forward")
    send(w, "n2", "n1", "back")
    settle(w)
    assert probe(w, "n2").got == []
    assert probe(w, "n1").got == [("n2", "back")]


def test_bridge_cuts_the_two_sides_apart_and_keeps_the_bridge_talking_to_both() -> None:
    w = world()
    step = w.step("bridge", groups=[["n1"], ["n2"], ["n3"]])
    assert step.describe().endswith("bridge n1 <-> n2 <-> n3")
    for src, dst in (("n1", "n3"), ("n3", "n1"), ("n1", "n2"), ("n2", "n1"), ("n2", "n3"), ("n3", "n2")):
        send(w, src, dst, f"{src}-{dst}")
    settle(w)
    assert sorted(probe(w, "n1").got) == [("n2", "n2-n1")]
    assert sorted(probe(w, "n2").got) == [("n1", "n1-n2"), ("n3", "n3-n2")]
    assert sorted(probe(w, "n3").got) == [("n2", "n2-n3")]


def test_bridge_is_opt_in_so_saved_seeds_keep_their_schedules() -> None:
    assert "bridge" in FAULT_KINDS and "bridge" not in FaultConfig().kinds
    assert "bridge" not in keys(world(faults=None))
    assert "bridge" in keys(world(faults=["bridge"]))


def test_crash_loses_memory_keeps_storage() -> None:
    w = world()
    send(w, "n1", "n2", "kept")
    settle(w)
    before = probe(w, "n2")
    assert before.got == [("n1", "kept")] and w.storage("n2")["log"] == ["kept"]
    w.step("crash:n2")
    assert w.node("n2") is None and not w.is_up("n2")
    w.step("restart:n2")
    after = probe(w, "n2")
    assert after is not before
    assert after.got == []  # memory is fresh
    assert w.storage("n2") == {"starts": 2, "log": ["kept"]}  # storage survived
    before.send("n1", "from a dead incarnation")  # ignored: that incarnation can do nothing
    assert all(m.payload != "from a dead incarnation" for m in w.network.in_flight.values())


def test_a_message_in_flight_at_a_crash_reaches_the_next_incarnation() -> None:
    """The network holds a message for as long as it likes: one sent before the crash, not yet delivered,
    waits while the node is down and is delivered to the restarted node (Paxos's forgotten promise needs
    this). One sent while the node is down is lost: nobody listens."""
    w = world()
    held = send(w, "n1", "n2", "sent before the crash")
    step = w.step("crash:n2")
    assert not step.lost and held in w.network.in_flight
    assert f"deliver:{held}" not in keys(w)  # not while n2 is down
    w.step(f"deliver:{send(w, 'n1', 'n3', 'elsewhere')}")
    assert "sent while down" not in [m.payload for m in w.network.in_flight.values()]
    lost = send(w, "n1", "n2", "sent while down")
    assert lost not in w.network.in_flight
    w.step("restart:n2")
    settle(w)
    assert probe(w, "n2").got == [("n1", "sent before the crash")]
    assert w.trace().version == 2


def test_a_version_1_trace_replays_with_its_crashes_losing_the_messages_in_flight() -> None:
    """Saved traces from before messages outlived crashes keep their meaning: replayed, the crash loses
    what was in flight to the node, and the replay records a version-1 trace again."""
    w = world()
    send(w, "n1", "n2", "in flight")
    w.step("crash:n2")
    w.step("restart:n2")
    settle(w)
    assert probe(w, "n2").got == [("n1", "in flight")]
    old = msgspec.structs.replace(w.trace(), version=1)
    again = World(ProbeWorkload(), source=ReplaySource(Trace.loads(old.dumps())), faults=FAULT_KINDS)
    result = again.run()
    crash = next(s for s in result.trace.steps if s.kind == "crash")
    assert crash.lost and result.trace.version == 1
    assert probe(again, "n2").got == []


def test_crashed_node_refuses_clients_and_crash_during_request_is_info() -> None:
    w = world()
    w.step("crash:n2")
    w.step("invoke:0", f="send", value=("n1", "x"), node="n2")
    settle(w)
    history = w.result().history
    done = [op for op in history.ops if op.type != "invoke" and op.process != NEMESIS]
    assert [(op.type, op.error) for op in done] == [("fail", "connection refused")]
    w.step("restart:n2")
    request(w, "ignore", None, "n2")  # n2 holds the request, then crashes
    w.step("crash:n2")
    settle(w)
    last = w.result().history.ops[-1]
    assert (last.type, last.error) == ("info", "connection reset")


def test_pause_stops_processing_until_resume() -> None:
    w = world()
    w.step("pause:n2")
    send(w, "n1", "n2", "x")
    for _ in range(5):
        if "advance" in keys(w):
            w.step("advance")
    assert not any(k.startswith("deliver:") and "n2" in k for k in keys(w))
    assert probe(w, "n2").got == [] and w.is_paused("n2")
    w.step("resume:n2")
    settle(w)
    assert probe(w, "n2").got == [("n1", "x")]


def test_skewed_clock_reads_skewed_and_drift_moves_timers() -> None:
    w = world()
    w.step("skew:n1", skew=50, drift=0)
    assert probe(w, "n1").now() == w.time + 50
    assert probe(w, "n2").now() == w.time
    w.step("skew:n1", skew=-7, drift=500_000)  # 1.5x fast
    set_at = request(w, "timer", 30, "n1").t  # 30 local ticks = 20 virtual ticks
    assert w.timers()[("n1", "t")] == set_at + 20
    settle(w)
    (name, local), = probe(w, "n1").fired
    t = set_at + 20
    assert name == "t" and local == t + t // 2 - 7


def test_client_timeout_records_info_and_retires_the_process() -> None:
    w = world()
    request(w, "ignore", None, "n1")
    settle(w)
    ops = w.result().history.ops
    assert [(op.process, op.type, op.error) for op in ops] == [(0, "invoke", None), (0, "info", "timeout")]
    assert ops[1].time == 50  # op_timeout after the invoke at t=0
    assert w.clients[0].process == 1
    request(w, "send", ("n2", "x"), "n1")
    settle(w)
    assert w.result().history.ops[-1].process == 1


def test_vector_clocks_respect_happens_before() -> None:
    workload = load_workload("primary-backup")
    for seed in range(5):
        result = World(workload, seed=seed).run()
        deliveries = result.world.deliveries
        assert deliveries
        for d in deliveries:
            assert d.sent.compare(d.received) == "before", d
            assert d.received[d.dst] >= 1
        history = result.history
        last: dict[object, VectorClock] = {}
        for op in history.ops:
            if op.process == NEMESIS:
                continue
            assert op.vclock is not None
            clock = VectorClock(op.vclock)
            if op.process in last:
                assert last[op.process].compare(clock) == "before", op
            last[op.process] = clock
        for operation in history.operations:
            if operation.status == "ok":
                assert operation.completion is not None and operation.completion.vclock is not None
                inv = VectorClock(operation.invoke.vclock or {})
                done = VectorClock(operation.completion.vclock)
                assert inv.compare(done) == "before"
                # the reply carried the node's knowledge, which includes the request's send event
                assert done[operation.invoke.node or ""] >= 1


@invariant
def nothing_received(w: World) -> str | None:
    for node_id in w.node_ids:
        node = w.node(node_id)
        if isinstance(node, Probe) and node.got:
            return f"{node_id} received {node.got[0][1]!r}"
    return None


def test_invariant_violation_ends_the_run_at_its_step() -> None:
    result = World(ProbeWorkload(invariants=(nothing_received,)), seed=1, faults=()).run()
    violation = result.invariant_violation
    assert violation is not None and violation.name == "nothing-received"
    step = result.trace.steps[violation.step]
    assert step is result.trace.steps[-1] and step.kind == "deliver" and step.dst == "n2"
    assert "received" in violation.message


def test_no_faults_means_no_fault_steps() -> None:
    kinds = {s.kind for s in World(ProbeWorkload(), seed=3, faults=()).run().trace.steps}
    assert kinds <= {"start", "invoke", "deliver", "advance", "timer", "timeout", "quiesce"}


def test_max_down_keeps_a_majority_up() -> None:
    w = world()
    w.step("crash:n1")
    assert not any(k.startswith(("crash:", "pause:")) for k in keys(w))


@pytest.mark.parametrize(
    "kind", ["drop", "duplicate", "delay", "partition", "oneway", "bridge", "crash", "pause", "skew"]
)
def test_each_fault_kind_occurs_under_random_schedules(kind: str) -> None:
    workload = load_workload("primary-backup")
    seen = set()
    for seed in range(20):
        seen |= {s.kind for s in World(workload, seed=seed, faults=[kind]).run().trace.steps}
        if kind in seen:
            break
    assert kind in seen
