"""The causality checker: one hand-built history per violation, and causally consistent runs pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitbrain.checker.causality import check_causal, happens_before_graph
from splitbrain.cli import main
from splitbrain.histories import History, Op, dumps_history

Clock = dict[str, int]


def call(p: Any, f: str, key: Any = None, value: Any = None, out: Any = None, vc: Clock | None = None,
         vc2: Clock | None = None, node: str | None = None, status: str = "ok") -> list[Op]:
    """An invoke and its completion; ``vc2`` (the completion's clock) defaults to ``vc``."""
    written = value if f not in ("read", "final-read") else None
    result = out if f in ("read", "final-read") else value
    return [
        Op(process=p, type="invoke", f=f, key=key, value=written, vclock=vc, node=node),
        Op(process=p, type=status, f=f, key=key, value=result, vclock=vc2 or vc, node=node),  # type: ignore[arg-type]
    ]


def check(ops: list[Op]) -> Any:
    return check_causal(History.from_ops(ops))


def test_read_your_writes() -> None:
    r = check(call(0, "write", "x", 1) + call(0, "read", "x", out=None))
    assert r.valid is False and r.names == ["read-your-writes"]
    assert "read 'x'=nil — a version older than 1" in r.anomalies[0].explanation


def test_monotonic_reads() -> None:
    r = check(call(1, "write", "x", 1) + call(0, "read", "x", out=1) + call(0, "read", "x", out=None))
    assert r.names == ["monotonic-reads"]


def test_monotonic_writes_seen_in_final_read() -> None:
    h = call(0, "write", "x", 1, node="n1") + call(0, "write", "x", 2, node="n2")
    h += call("n1", "final-read", "x", out=1, node="n1") + call("n2", "final-read", "x", out=1, node="n2")
    r = check(h)
    assert r.names == ["monotonic-writes", "monotonic-writes"]
    assert "the same session wrote it later" in r.anomalies[0].explanation


def test_writes_follow_reads() -> None:
    h = call(1, "write", "x", 1) + call(0, "read", "x", out=1) + call(0, "write", "x", 2)
    h += call("n1", "final-read", "x", out=1, node="n1")
    r = check(h)
    assert r.names == ["writes-follow-reads"]


def test_causal_read_misses_a_preceding_write() -> None:
    h = call(0, "write", "x", 1, vc={"a": 1}, vc2={"a": 2})
    h += call(1, "read", "x", out=None, vc={"a": 2, "b": 1}, vc2={"a": 2, "b": 2})
    r = check(h)
    assert r.names == ["causal-read"] and r.anomalies[0].events == (0, 1, 2, 3)
    assert "happened before the read" in r.anomalies[0].explanation
    # the same read with a concurrent clock is fine
    ok = call(0, "write", "x", 1, vc={"a": 1}, vc2={"a": 2})
    ok += call(1, "read", "x", out=None, vc={"b": 1}, vc2={"b": 2})
    assert check(ok).valid is True


def test_stale_final_read_and_unwritten_read() -> None:
    r = check(call(0, "write", "x", 1) + call("n1", "final-read", "x", out=None, node="n1"))
    assert r.names == ["stale-final-read"]
    r = check(call(0, "read", "x", out=7))
    assert r.names == ["unwritten-read"]


def test_lost_concurrent_update_with_siblings() -> None:
    h = call(0, "write", "x", 1, vc={"a": 1}, vc2={"a": 2}) + call(1, "write", "x", 2, vc={"b": 1}, vc2={"b": 2})
    h += call(2, "read", "x", out=frozenset({1, 2}))
    h += call("n1", "final-read", "x", out=(1,), node="n1") + call("n2", "final-read", "x", out=(1,), node="n2")
    r = check(h)
    assert r.names == ["lost-update"]
    assert "wrote 'x'=2 and was acknowledged" in r.anomalies[0].explanation
    good = h[:-4] + call("n1", "final-read", "x", out=(1, 2), node="n1")
    assert check(good).valid is True


def test_non_convergence() -> None:
    h = call(0, "write", "x", 1, vc={"a": 1}, vc2={"a": 2}) + call(1, "write", "x", 2, vc={"b": 1}, vc2={"b": 2})
    h += call("n1", "final-read", "x", out=1, node="n1") + call("n2", "final-read", "x", out=2, node="n2")
    r = check(h)
    assert r.names == ["non-convergence"]
    assert "the replicas of 'x' disagree" in r.anomalies[0].explanation


def broadcast(deliveries_at_n3: list[str]) -> list[Op]:
    h = call("n1", "send", value="m1", vc={"n1": 1}, node="n1")
    h += call("n2", "deliver", value="m1", vc={"n1": 1, "n2": 1}, node="n2")
    h += call("n2", "send", value="m2", vc={"n1": 1, "n2": 2}, node="n2")
    clocks = {"m1": {"n1": 1}, "m2": {"n1": 1, "n2": 2}}
    seen: Clock = {"n3": 0}
    for m in deliveries_at_n3:
        seen = {**seen, **clocks[m], "n3": seen["n3"] + 1}
        h += call("n3", "deliver", value=m, vc=dict(seen), node="n3")
    return h


def test_causal_delivery() -> None:
    assert check(broadcast(["m1", "m2"])).valid is True
    r = check(broadcast(["m2", "m1"]))
    assert r.names == ["causal-delivery"]
    assert "n3 delivered 'm2' at event 6 but 'm1' only later" in r.anomalies[0].explanation
    assert check(broadcast(["m2"])).names == ["causal-delivery"]


def test_clock_contradictions() -> None:
    # two different events with the same clock: each is "before" the other
    r = check(call(0, "write", "x", 1, vc={"a": 1}) + call(1, "write", "y", 1, vc={"a": 1}))
    assert r.names == ["clock-cycle"] and r.anomalies[0].graph is not None
    # a process whose clock goes backwards
    r = check(call(0, "write", "x", 1, vc={"a": 2}) + call(0, "write", "y", 2, vc={"a": 1}))
    assert r.names == ["clock-regression"]
    # a process whose clock becomes concurrent with its previous event
    r = check(call(0, "write", "x", 1, vc={"a": 2}) + call(0, "write", "y", 2, vc={"b": 1}))
    assert r.names == ["clock-regression"]
    # a delivery not after its send
    h = call("n1", "send", value="m", vc={"n1": 2}, node="n1") + call("n2", "deliver", value="m", vc={"n2": 1})
    assert check(h).names == ["receive-before-send"]
    h = call("n1", "send", value="m", vc={"n1": 2}, node="n1") + call("n2", "deliver", value="m", vc={"n1": 1})
    assert "receive-before-send" in check(h).names


def test_happens_before_graph_edges() -> None:
    g = happens_before_graph(History.from_ops(broadcast(["m1", "m2"])))
    labels = {(a, b): lab for a, b, lab in g.edges(data="label")}
    assert labels[(0, 3)] == "message" and labels[(3, 4)] == "process"


# -- a causally consistent store is never flagged ------------------------------------------------------

@st.composite
def single_copy_run(draw: st.DrawFn) -> list[Op]:
    """Clients issue writes and reads to one store (replicated to nodes synchronously), stamping proper
    vector clocks: the client ticks on send, the store merges and ticks, the client merges the reply.
    Then every node does a final read. Sends and deliveries of a causal broadcast ride along: every
    node delivers each message right away, in send order."""
    store: dict[str, Any] = {}
    clocks: dict[str, Clock] = {"s": {}}
    counter = 0
    ops: list[Op] = []
    nodes = ("n1", "n2")

    def tick(name: str, *merge: Clock) -> Clock:
        vc = dict(clocks.get(name, {}))
        for other in merge:
            for k, v in other.items():
                vc[k] = max(vc.get(k, 0), v)
        vc[name] = vc.get(name, 0) + 1
        clocks[name] = vc
        return vc

    for _ in range(draw(st.integers(1, 12))):
        p = draw(st.integers(0, 2))
        client = f"c{p}"
        kind = draw(st.sampled_from(["write", "read", "send"]))
        if kind == "send":
            node = draw(st.sampled_from(nodes))
            counter += 1
            sent = tick(node)
            ops += call(node, "send", value=f"m{counter}", vc=sent, node=node)
            for other in nodes:
                vc = tick(other, sent)
                ops += call(other, "deliver", value=f"m{counter}", vc=vc, vc2=tick(other), node=other)
            continue
        key = draw(st.sampled_from(["x", "y"]))
        start = tick(client)
        server = tick("s", start)
        if kind == "write":
            counter += 1
            store[key] = counter
            ops += call(p, "write", key, counter, vc=start, vc2=tick(client, server))
        else:
            ops += call(p, "read", key, out=store.get(key), vc=start, vc2=tick(client, server))
    for node in nodes:
        for key in ("x", "y"):
            ops += call(f"f{node}", "final-read", key, out=store.get(key), vc=tick(f"f{node}", clocks["s"]),
                        node=node)
    return ops


@settings(max_examples=150, deadline=None)
@given(single_copy_run())
def test_causally_consistent_runs_are_valid(ops: list[Op]) -> None:
    r = check(ops)
    assert r.valid is True, r.explain()


def test_cli_causal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ryw.jsonl"
    path.write_text(dumps_history(History.from_ops(call(0, "write", "x", 1) + call(0, "read", "x")),
                                  format="jsonl"))
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(path), "--checker", "causal"])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "invalid (causal)" in out and "read-your-writes" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(path), "--checker", "causal", "--json"])
    row = json.loads(capsys.readouterr().out)
    assert row["checker"] == "causal" and row["valid"] is False and row["file"] == str(path)
    assert row["anomalies"][0]["name"] == "read-your-writes" and row["anomalies"][0]["events"] == [0, 1, 2, 3]


def test_the_version_order_is_transitive() -> None:
    """1 before 2 (2's writer read 1 first) and 2 before 3 (likewise): a session that read 3 and then 1
    went backwards, though no single step links 1 to 3."""
    ops = (call(0, "write", "x", 1) + call(1, "read", "x", out=1) + call(1, "write", "x", 2)
           + call(2, "read", "x", out=2) + call(2, "write", "x", 3)
           + call(3, "read", "x", out=3) + call(3, "read", "x", out=1))
    r = check(ops)
    assert r.valid is False and r.names == ["monotonic-reads"]
