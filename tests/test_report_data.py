"""The report data builders (pure Python): timeline, trace view, graph, campaign, and safe embedding."""

from __future__ import annotations

import io
import json
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

import splitbrain
from samples import eventual_failure_record, failure_record, register_history
from splitbrain.errors import UsageError
from splitbrain.fuzz.columns import render_columns, settle_phase
from splitbrain.fuzz.saved import trace_of, workload_for
from splitbrain.histories import History, Op
from splitbrain.report import (
    build_campaign,
    build_graph,
    build_timeline,
    build_trace_view,
    report_path_for,
    summary_from_report,
    write_campaign_report,
    write_graph_report,
    write_history_report,
    write_trace_report,
)
from splitbrain.report.html import embed_json, pack
from splitbrain.report.text import TEXT_LIMIT, short, show

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


def page_data(path: Path) -> Any:
    """The data a page embeds, with the table references resolved as the page's unpack() does."""
    text = path.read_text(encoding="utf-8")
    block = re.search(r'<script type="application/json" id="sb-data">(.*?)</script>', text, re.S)
    assert block is not None
    packed = json.loads(block.group(1))
    return unpack(packed["d"], packed["v"])


def unpack(x: Any, table: list[str]) -> Any:
    if isinstance(x, str):
        if not x.startswith("\ue000"):
            return x
        return x[1:] if x[1:2] == "\ue000" else table[int(x[1:])]
    if isinstance(x, list):
        return [unpack(v, table) for v in x]
    if isinstance(x, dict):
        return {k: unpack(v, table) for k, v in x.items()}
    return x


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
    assert data["unit"] == "tick"  # every event has a time, small enough to be simulated ticks
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


def test_show_renders_any_value_within_its_limit() -> None:
    assert show(None) == "nil" and show("a") == "'a'" and show((1, "b", (2,))) == "[1 'b' [2]]"
    assert show({"k": [1]}) == "{'k': [1]}" and show(frozenset({3, 1})) == "#{1 3}"
    huge = "x" * 20_000_000
    started = time.perf_counter()
    text = show(huge)
    assert time.perf_counter() - started < 0.5  # only the shown part is rendered
    assert text.startswith("'xxx") and text.endswith("… (cut: 20,000,000 characters)")
    assert len(text) < TEXT_LIMIT + 40
    assert show(list(range(100_000)), 50).endswith("… (cut: 100,000 items)")
    assert "integer of" in show(10**10_000)  # beyond int-to-str's digit limit: described, not raised
    deep: Any = ()
    for _ in range(10_000):
        deep = (deep,)
    assert len(show(deep)) < 100  # no RecursionError
    assert short("hello world", 6) == "hello…" and short(("a", None)) == "[a nil]"


def test_pack_stores_each_long_string_once_and_references_cannot_be_forged() -> None:
    long = "v" * 100
    data = {"a": long, "b": [long, {"c": long}], "forged": "\ue0000", "short": "ok", "nan": float("nan"),
            "big": 2**70, "obj": object, 5: "int key"}
    packed = pack(data)
    assert packed["v"] == [long]  # the one long string, once
    text = json.dumps(packed)
    assert text.count(long) == 1
    back = unpack(packed["d"], packed["v"])
    assert back["a"] == back["b"][0] == back["b"][1]["c"] == long
    assert back["forged"] == "\ue0000"  # a value that looks like a reference stays a value
    assert back["nan"] == "nan" and back["big"] == str(2**70) and back["5"] == "int key"
    packed = pack("y" * 10_000)
    cut = unpack(packed["d"], packed["v"])
    assert cut.startswith("yyy") and cut.endswith("… (cut: 10,000 characters in all)")


def test_a_twenty_megabyte_value_makes_a_small_correct_report(tmp_path: Path) -> None:
    big = "x" * 20_000_000
    history = History.from_ops([
        Op(process=0, type="invoke", f="write", value=big), Op(process=0, type="ok", f="write", value=big),
        Op(process=1, type="invoke", f="read"), Op(process=1, type="ok", f="read", value=big + "y"),
    ])
    result = splitbrain.check(history, "register")
    assert result.valid is False
    started = time.perf_counter()
    path = write_history_report(history, result, tmp_path / "big.html")
    seconds = time.perf_counter() - started
    size = path.stat().st_size
    assert size < 200_000, f"{size:,} bytes"  # was 120 MB: the value embedded six times, whole
    assert seconds < 5, f"{seconds:.1f} s"
    text = path.read_text()
    assert text.count("x" * TEXT_LIMIT) <= 2  # the value's shown part, and the read's (one more "y" long)
    data = page_data(path)
    write, read = data["ops"]
    assert write["in"] == write["out"] and write["in"].endswith("… (cut: 20,000,000 characters)")
    assert read["out"].endswith("… (cut: 20,000,001 characters)") and read["in"] == "nil"
    assert data["blocked"] == 1 and data["valid"] is False
    assert all(len(line) < TEXT_LIMIT + 60 for line in data["explain"])


def test_timeline_times_are_relative_to_the_first_event_in_a_guessed_unit() -> None:
    origin, step = 7_351_839_123_456, 1_234_567  # a server's time.monotonic_ns(): two hours after boot
    history = register_history(30, seed=1, clock_origin=origin, clock_step=step)
    data = build_timeline(history, splitbrain.check(history, "register"))
    first = min(op.time for op in history.ops if op.time is not None)
    assert data["unit"] == "ns" and data["origin"] == first
    assert data["span"] == max(op.time for op in history.ops if op.time is not None) - first
    ops = {o.id: o for o in history.operations}
    for op in data["ops"]:
        assert op["s"] == ops[op["i"]].invoke.time - first
    ticks = build_timeline(register_history(30, seed=1), None)
    assert ticks["unit"] == "tick" and ticks["ops"][0]["s"] == 0
    forced = build_timeline(register_history(30, seed=1), None, unit="ns")
    assert forced["unit"] == "ns"
    with pytest.raises(UsageError, match=r"'ns' \(a real clock\) or 'tick'"):
        build_timeline(history, None, unit="hours")


def test_timeline_panel_values_nodes_and_errors() -> None:
    history = History.from_ops([
        Op(process=0, type="invoke", f="write", value=(1, 2), node="n1"),
        Op(process=0, type="fail", f="write", value=(1, 2), node="n1", error="timeout: leader gone"),
        Op(process=1, type="invoke", f="read"),
    ])
    write, read = build_timeline(history, None)["ops"]
    assert (write["in"], write["node"], write["err"]) == ("[1 2]", "n1", "timeout: leader gone")
    assert write["out"] is None  # a failed operation has no output: it did not happen
    assert read["out"] is None and "node" not in read and "err" not in read


def test_campaign_links_are_relative_to_the_page_and_only_to_files_that_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / ".splitbrain"
    (store / "failures").mkdir(parents=True)
    with_report = store / "failures" / "w--v--1 #a?.json"
    with_report.write_text("{}")
    report_path_for(with_report).write_text("<html></html>")
    bare = store / "failures" / "w--v--2.json"
    bare.write_text("{}")
    monkeypatch.chdir(tmp_path)  # the campaign prints paths relative to the working directory
    summary = {"schedules": 1, "failures": [
        {"path": ".splitbrain/failures/w--v--1 #a?.json"}, {"path": str(bare)}, {"path": "gone.json"}, {}]}
    hrefs = [f["href"] for f in build_campaign(summary, page_folder=".splitbrain")["failures"]]
    assert hrefs == ["failures/w--v--1%20%23a%3F.html", "failures/w--v--2.json", None, None]
    absolute = build_campaign(summary)["failures"][0]["href"]
    assert absolute.startswith("file://") and absolute.endswith(".html")


def test_summary_from_report_reads_when_each_failure_was_saved(tmp_path: Path) -> None:
    started = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
    saved = tmp_path / "f.json"
    saved.write_text(json.dumps({"found_at": (started + timedelta(seconds=7)).isoformat(timespec="seconds")}))
    unreadable = tmp_path / "bad.json"
    unreadable.write_text("not json")
    failures = [SimpleNamespace(path=str(p), signature="checker:x", message="m") for p in (saved, unreadable)]
    report = SimpleNamespace(spec=SimpleNamespace(workload="w", variant="v"), seconds=20.0, schedules=9, unknown=0,
                             failures=failures)
    summary = summary_from_report(report, started_at=started)
    assert [f["t"] for f in summary["failures"]] == [7.0, None]
    data = build_campaign(summary)
    assert data["failures"][0]["at"] == "2025-05-01 12:00:07 UTC" and data["failures"][1]["at"] is None
    # without the start, the campaign is taken to have ended now: a failure saved just now is at its end
    now = summary_from_report(report)
    assert now["failures"][0]["t"] in (0.0, 20.0)  # clamped into the campaign


def test_the_settle_phase_of_an_eventual_trace_is_found_and_summed_up() -> None:
    record = eventual_failure_record()
    steps = record["trace"]["steps"]
    data = build_trace_view(record)
    fold = data["fold"]
    assert fold is not None and fold["to"] == len(steps) - 1 and fold["to"] - fold["from"] + 1 >= 100
    quiesce = next(i for i, s in enumerate(steps) if s["kind"] == "quiesce")
    assert fold["from"] > quiesce
    for s in steps[fold["from"]:]:
        assert s["kind"] in ("timer", "deliver", "advance") and s.get("client") is None
        assert not (s.get("src") or "n").startswith("c") and not (s.get("dst") or "n").startswith("c")
    assert "timers (anti-entropy)" in fold["summary"] and "messages delivered" in fold["summary"]
    # the net change: each node's counter as it ends, which the folded steps inflated
    assert set(fold["net"]) == set(record["trace"]["nodes"])
    final = {}
    for change in data["changes"]:
        for node, fields in change.items():
            final.setdefault(node, {}).update(fields)
    for node, fields in fold["net"].items():
        assert all(final[node][k] == v for k, v in fields.items())
    assert build_trace_view(failure_record(), states=False)["fold"] is None  # a short quiesce: nothing folded


def test_the_text_view_folds_the_settle_phase_unless_asked_not_to() -> None:
    record = eventual_failure_record()
    trace, workload = trace_of(record), workload_for(record)
    first, last = settle_phase(trace.steps, trace.nodes) or (0, 0)

    def text(**options: Any) -> str:
        out = io.StringIO()
        render_columns(workload, trace, Console(file=out, width=400), **options)
        return out.getvalue()

    folded, unfolded = text(), text(fold_settle=False)
    assert f"{last - first + 1} settle steps folded" in folded and f"{first}-{last}" in folded
    assert "settle steps folded" not in unfolded
    assert folded.count("\n") < unfolded.count("\n") / 2


def test_a_timeline_shows_any_checkers_verdict() -> None:
    from splitbrain.checker.result import PropertyResult

    result = PropertyResult(valid=False, explanation="3 admitted in a window of 10 ticks, the limit is 2",
                            checker="rate-limit")
    data = build_timeline(stale_read(), result)
    assert data["valid"] is False and data["verdict"] == "invalid" and data["prefixes"] == []
    assert "3 admitted" in data["explain"][0] and data["blocked"] is None


def test_campaign_availability_is_drawn_from_numbers_only() -> None:
    from splitbrain.histories.availability import availability

    history = History.from_ops([
        Op(process=0, type="invoke", f="read", time=0, node="n1"),
        Op(process=0, type="ok", f="read", time=3, node="n1"),
        Op(process="nemesis", type="info", f="partition", value=[["n1", "n2"], ["n3"]], time=5),
        Op(process=1, type="invoke", f="read", time=6, node="n3"),
        Op(process=1, type="fail", f="read", time=9, node="n3"),
    ])
    measured = availability(history).to_json()
    data = build_campaign({"schedules": 1, "availability": measured})["availability"]
    assert [s["state"] for s in data["states"]] == ["healthy", "partition-minority"]  # states with operations
    assert data["states"][0] == {"state": "healthy", "ops": 1, "ok": 1, "fail": 0, "info": 0, "median": 3.0,
                                 "p95": 3.0, "max": 3.0, "mean": 3.0}
    assert data["unit"] == "tick" and data["histories"] == 1 and data["bins"][6]["partition"] == 1.0
    hostile = {"states": {"<b>": {"ok": "1", "fail": 2, "latency": {"median": "x", "max": float("nan")}}},
               "series": {"bins": [{"t0": 0, "t1": "1"}, {"t0": 0, "t1": 4, "availability": True, "ops": 2}]}}
    data = build_campaign({"schedules": 1, "availability": hostile})["availability"]
    assert data["states"] == [{"state": "<b>", "ops": 2, "ok": 0, "fail": 2, "info": 0, "median": None, "p95": None,
                               "max": None, "mean": None}]
    assert data["bins"] == [{"t0": 0.0, "t1": 4.0, "ops": 2.0, "ok": None, "fail": None, "info": None,
                             "availability": None, "latency": None, "partition": None, "crash": None,
                             "histories": None}]
    assert build_campaign({"schedules": 1, "availability": "nothing"})["availability"] is None
    assert build_campaign({"schedules": 1})["availability"] is None


def test_summary_from_report_carries_the_campaigns_availability() -> None:
    from splitbrain.fuzz.stats import CampaignStats
    from splitbrain.histories.availability import availability

    stats = CampaignStats()
    report = SimpleNamespace(spec=SimpleNamespace(workload="w", variant="v"), seconds=1.0, schedules=1, unknown=0,
                             failures=[], stats=stats)
    assert "availability" not in summary_from_report(report)  # nothing measured, nothing drawn
    stats.availability.merge(availability(stale_read()))
    summary = summary_from_report(report)
    assert summary["availability"]["operations"] == 2 and summary["title"] == "w/v"
    built = SimpleNamespace(workload=SimpleNamespace(overrides={"r": 2}), variant="v", label="gossip-kv/v")
    assert summary_from_report(SimpleNamespace(**{**vars(report), "spec": built}))["title"] == "gossip-kv/v (r=2)"
