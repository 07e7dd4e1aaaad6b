"""The report data builders (pure Python): timeline, trace view, graph, campaign, and safe embedding."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import splitbrain
from samples import failure_record, register_history
from splitbrain.errors import UsageError
from splitbrain.histories import History, Op
from splitbrain.report import (
    build_campaign,
    build_graph,
    build_timeline,
    build_trace_view,
    report_path_for,
    write_campaign_report,
    write_graph_report,
    write_history_report,
    write_trace_report,
)
from splitbrain.report.html import embed_json

DATA = Path(os.environ.get("SPLITBRAIN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def stale_read() -> History:
    """p0 writes 1 and completes; later p1 reads nil: the read cannot be placed."""
    return History.from_ops([
        Op(process=0, type="invoke", f="write", value=1),
        Op(process=0, type="ok", f="write", value=1),
        Op(process="nemesis", type="info", f="partition", value=[["n1"], ["n2", "n3"]]),
        Op(process=1, type="invoke", f="read", value=None),
        Op(process=1, type="ok", f="read", value=None),
        Op(process="nemesis", type="info", f="heal", value=None),
    ])


def test_embed_json_cannot_close_the_script_element() -> None:
    value = {"x": "</script><script>alert(1)</script>", "y": "<!-- a & b -->", "z": "\u2028\u2029"}
    text = str(embed_json(value))
    assert "</" not in text and "<!--" not in text and "\u2028" not in text
    assert json.loads(text) == value


def test_timeline_of_an_invalid_history_highlights_the_blocked_operation() -> None:
    history = stale_read()
    result = splitbrain.check(history, "register")
    data = build_timeline(history, result)
    assert data["valid"] is False and data["unit"] == "event"
    assert data["blocked"] == 1
    write, read = data["ops"]
    assert (write["s"], write["e"], write["st"]) == (0, 1, "ok")
    assert (read["s"], read["e"]) == (3, 4)  # event indices: no op has a time
    assert write["b"] == "nil" and write["a"] == "1"  # replayed along the longest prefix
    assert read["b"] == "1" and "no legal state" in read["a"]
    assert data["prefixes"][data["main"]] == [0]
    assert data["faults"] == [{"kind": "partition", "s": 2, "e": 5, "label": "partition [[n1] [n2 n3]]"}]


def test_timeline_of_a_valid_history_follows_the_witness() -> None:
    history = register_history(40, seed=3)
    result = splitbrain.check(history, "register")
    assert result.valid is True
    data = build_timeline(history, result)
    assert data["unit"] == "time"  # every event has a time
    assert data["main"] == 0 and data["blocked"] is None
    order = data["prefixes"][0]
    for pos, oid in enumerate(order):
        op = data["ops"][oid]
        assert (op["p"], op["o"]) == (0, pos)
        if pos:  # states chain along the witness
            assert op["b"] == data["ops"][order[pos - 1]]["a"]
        if op["f"] == "write":
            assert op["a"] == op["d"].split()[2]
    points = data["lp"][0]
    assert points == sorted(points)
    for oid, t in zip(order, points, strict=True):
        op = data["ops"][oid]
        assert op["s"] <= t and (op["e"] is None or t <= op["e"])
    kinds = [f["kind"] for f in data["faults"]]
    assert kinds == ["partition", "crash"]  # each shaded until its heal / restart


def test_timeline_marks_operations_outside_the_failing_key() -> None:
    ops = []
    for key, read in (("a", 1), ("b", 5)):
        ops += [
            Op(process=0, type="invoke", f="put", key=key, value="x"),
            Op(process=0, type="ok", f="put", key=key, value="x"),
            Op(process=1, type="invoke", f="get", key=key),
            Op(process=1, type="ok", f="get", key=key, value="x" if read == 1 else "zzz"),
        ]
    history = History.from_ops(ops)
    result = splitbrain.check(history, "kv")
    data = build_timeline(history, result)
    assert data["partition"] == "b"
    assert [op.get("x") for op in data["ops"]] == [1, 1, None, None]


def test_timeline_without_a_result_or_a_model_still_draws() -> None:
    data = build_timeline(stale_read(), None)
    assert data["verdict"] == "not checked" and len(data["ops"]) == 2
    result = splitbrain.check(stale_read(), "register")
    data = build_timeline(stale_read(), result, model=object())  # not a model: states are left out
    assert "b" not in data["ops"][0]


def test_trace_view_columns_arrows_faults_and_state_changes() -> None:
    record = failure_record()
    data = build_trace_view(record)
    assert data["columns"][: data["clients"]] == ["c0", "c1", "c2"]
    assert data["columns"][data["clients"]:] == record["trace"]["nodes"]
    steps = record["trace"]["steps"]
    assert len(data["rows"]) == len(steps)
    delivered = {s["msg"] for s in steps if s["kind"] == "deliver"}
    arrows = {m["id"]: m for m in data["messages"]}
    for msg in delivered:
        m = arrows[msg]
        assert m["how"] == "deliver" and m["from"] < m["to"]
        assert steps[m["to"]]["msg"] == msg and msg in steps[m["from"]]["sent"]
    lost = {m for s in steps for m in s.get("lost") or []}
    assert all(arrows[m]["how"] == "lost" for m in lost if m in arrows)
    assert data["states_note"] == ""
    changes = data["changes"]
    assert len(changes) == len(steps)
    assert set(changes[0]) == set(record["trace"]["nodes"])  # the start step shows every node
    assert any(c == {} for c in changes)  # steps that change nothing show nothing
    current: dict[str, dict[str, str]] = {}
    for change in changes:  # every value shown differs from the node's value before the step
        for node, fields in change.items():
            state = current.setdefault(node, {})
            for name, value in fields.items():
                assert state.get(name) != value
                state[name] = value
                head = name.split(".")[0]  # a dict field shown whole ("{}") or by entry ("pending.2")
                for other in [k for k in state if k != name and (k == head or k.startswith(name + "."))]:
                    del state[other]
    assert sum(len(f) for c in changes[1:] for f in c.values()) < len(changes) * 2  # a few fields a step


def test_trace_view_shades_partitions_and_down_nodes() -> None:
    record = {"workload": "w", "variant": "v", "trace": {"nodes": ["n1", "n2"], "steps": [
        {"step": 0, "t": 0, "kind": "start"},
        {"step": 1, "t": 1, "kind": "partition", "groups": [["n1"], ["n2"]]},
        {"step": 2, "t": 2, "kind": "crash", "node": "n2"},
        {"step": 3, "t": 3, "kind": "heal"},
        {"step": 4, "t": 4, "kind": "restart", "node": "n2"},
    ]}}
    data = build_trace_view(record, states=False)
    assert data["bands"] == [{"from": 1, "to": 3, "label": "partition n1 | n2"}]
    assert data["down"] == [{"c": 1, "from": 2, "to": 4, "how": "down"}]


def test_graph_validation_and_cycle_order() -> None:
    graph = {"title": "G1c", "nodes": ["T3", "T1", {"id": "T2", "label": "T2 w y"}],
             "edges": [{"from": "T1", "to": "T2", "label": "wr x"}, {"from": "T2", "to": "T1", "label": "ww y"}]}
    data = build_graph(graph)
    assert [n["id"] for n in data["nodes"]] == ["T1", "T2", "T3"]
    assert data["nodes"][1]["label"] == "T2 w y"
    with pytest.raises(UsageError, match="unknown node 'T9'"):
        build_graph({"nodes": ["T1"], "edges": [{"from": "T1", "to": "T9"}]})
    with pytest.raises(UsageError, match="nodes"):
        build_graph({"edges": []})


def test_campaign_rates() -> None:
    data = build_campaign({"schedules": 30, "samples": [{"t": 2, "schedules": 30}, {"t": 0, "schedules": 0},
                                                          {"t": 1, "schedules": 10}]})
    assert [r["rate"] for r in data["rates"]] == [10.0, 20.0]
    assert data["seconds"] == 2.0
    with pytest.raises(UsageError):
        build_campaign({})


def test_writers_make_self_contained_pages(tmp_path: Path) -> None:
    history = stale_read()
    pages = [
        write_history_report(history, splitbrain.check(history, "register"), tmp_path / "h.html"),
        write_trace_report(failure_record(), tmp_path / "t.html", states=False),
        write_graph_report({"nodes": ["a"], "edges": [{"from": "a", "to": "a", "label": "</script>"}]},
                           tmp_path / "g.html"),
        write_campaign_report({"schedules": 3}, tmp_path / "c.html"),
    ]
    for page in pages:
        text = page.read_text()
        assert text.startswith("<!DOCTYPE html>")
        assert "src=" not in text and "href=\"http" not in text and "@import" not in text
        assert text.count("</script>") == 2  # the data block and the drawing code, nothing else
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary file
    assert report_path_for("x/f--v--1.json") == Path("x/f--v--1.html")


@pytest.mark.skipif(not (DATA / "porcupine").is_dir(), reason=f"reference histories not found under {DATA}")
def test_timeline_of_a_jepsen_etcd_history() -> None:
    from splitbrain.histories import read_history

    history = read_history(DATA / "porcupine/test_data/jepsen/etcd_000.log")
    result = splitbrain.check(history, "cas-register")
    data = build_timeline(history, result)
    blocked = data["ops"][data["blocked"]]
    assert result.counterexample is not None
    assert blocked["d"] == "p11 read nil -> 2" and blocked["b"] == result.counterexample.state
