"""The Elle-style transaction checker, end to end: classic anomalies by hand, serial histories pass under
every model, budgets, and the CLI. (Every anomaly type: test_txn_anomalies.py; every model boundary:
test_txn_models.py; the inference rules and Jepsen files: test_txn_inference.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splitbrain.checker.transactions import CONSISTENCY_MODELS, check_transactions
from splitbrain.cli import main
from splitbrain.histories import History, Op, dumps_history
from txn_histories import Mop, done, inv, serial


def check(ops: list[Op], model: str = "serializable") -> Any:
    return check_transactions(History.from_ops(ops), model)


def test_g0_write_cycle() -> None:
    h = serial(
        (0, [("append", "x", 1), ("append", "y", 1)]),
        (1, [("append", "x", 2), ("append", "y", 2)]),
        (2, [("r", "x", (1, 2)), ("r", "y", (2, 1))]),
    )
    r = check(h, "read-committed")
    assert r.valid is False and "G0" in r.names
    g0 = next(a for a in r.anomalies if a.name == "G0")
    assert "T0 appended 1 to 'x'; T1 appended 2 right after it (ww" in g0.explanation
    assert "so T0 < T1 < T0" in g0.explanation or "so T1 < T0 < T1" in g0.explanation
    assert {e["label"] for e in g0.graph["edges"]} == {"ww"}


@pytest.mark.parametrize("workload", ["append", "register"])
def test_g1a_aborted_read(workload: str) -> None:
    if workload == "append":
        h = serial((0, [("append", "x", 1)], "fail"), (1, [("r", "x", (1,))]))
    else:
        h = serial((0, [("w", "x", 1)], "fail"), (1, [("r", "x", 1)]))
    r = check(h, "read-committed")
    assert r.names == ["G1a"]
    assert "T0 failed (aborted), yet T1 read" in r.anomalies[0].explanation


def test_info_writes_may_be_read() -> None:
    h = serial((0, [("w", "x", 1)], "info"), (1, [("r", "x", 1)]))
    for model in CONSISTENCY_MODELS:
        assert check(h, model).valid is True


@pytest.mark.parametrize("workload", ["append", "register"])
def test_g1b_intermediate_read(workload: str) -> None:
    if workload == "append":
        h = serial((0, [("append", "x", 1), ("append", "x", 2)]), (1, [("r", "x", (1,))]))
    else:
        h = serial((0, [("w", "x", 1), ("w", "x", 2)]), (1, [("r", "x", 1)]))
    r = check(h, "read-committed")
    assert "G1b" in r.names and r.valid is False
    assert "the intermediate version (G1b)" in r.anomalies[0].explanation


def test_g1c_circular_information_flow() -> None:
    t0 = [("append", "x", 1), ("r", "y", (1,))]
    t1 = [("append", "y", 1), ("r", "x", (1,))]
    h = [inv(0, t0), inv(1, t1), done(0, t0), done(1, t1)]
    r = check(h, "read-committed")
    assert r.names == ["G1c"]
    text = r.anomalies[0].explanation
    assert "(wr)" in text and "circular information flow" in text


def test_g_single_read_skew_and_model_table() -> None:
    # T0 (p1) reads x before T1's (p0) append but y after it: it saw half of T1 (a fractured read too)
    t0 = [("append", "x", 1), ("append", "y", 1)]
    t1 = [("r", "x", ()), ("r", "y", (1,))]
    h = [inv(1, t1), inv(0, t0), done(0, t0), done(1, t1), *serial((2, [("r", "x", (1,))]))]
    assert check(h, "read-committed").valid is True
    r = check(h, "snapshot-isolation")
    assert r.valid is False and r.names == ["G-single", "fractured-read"]
    text = r.anomalies[0].explanation
    assert "T0 read 'x'=[]; T1 appended 1, a later element (rw: T0 read a version before T1's write)" in text
    assert "exactly one anti-dependency" in text
    assert check(h, "serializable").valid is False
    assert check(h, "monotonic-atomic-view").names == ["fractured-read"]


def test_lost_update_is_named() -> None:
    t1 = [("r", "x", (1,)), ("append", "x", 2)]
    t2 = [("r", "x", (1,)), ("append", "x", 3)]
    h = [*serial((0, [("append", "x", 1)])), inv(1, t1), inv(2, t2), done(1, t1), done(2, t2)]
    h += serial((3, [("r", "x", (1, 2, 3))]))
    rc = check(h, "read-committed")
    assert rc.valid is True and {"lost-update", "G-single"} <= {a.name for a in rc.allowed}
    r = check(h, "snapshot-isolation")
    assert r.valid is False and {"lost-update", "G-single"} <= set(r.names)
    lost = next(a for a in r.anomalies if a.name == "lost-update")
    assert "read 'x'=[1] (the same version) and all wrote 'x'" in lost.explanation


def test_g2_write_skew_allowed_by_snapshot_isolation() -> None:
    t1 = [("r", "x", None), ("r", "y", None), ("w", "x", 1)]
    t2 = [("r", "x", None), ("r", "y", None), ("w", "y", 1)]
    h = [inv(1, t1), inv(2, t2), done(1, t1), done(2, t2)]
    assert check(h, "snapshot-isolation").valid is True
    r = check(h, "serializable")
    assert r.valid is False and r.names == ["G2-item"]
    assert "anti-dependencies, two of them adjacent" in r.anomalies[0].explanation
    assert check(h, "snapshot-isolation").allowed[0].name == "G2-item"
    assert (r.not_models, r.also_not) == (("repeatable-read",), ("serializable", "strong-session-serializable",
                                                                  "strict-serializable"))


def test_realtime_cycle_only_for_strict_serializable() -> None:
    h = serial((0, [("w", "x", 1)]), (1, [("r", "x", None)]), times=True)
    assert check(h, "serializable").valid is True
    r = check(h, "strict-serializable")
    assert r.valid is False and r.names == ["G-single-realtime"]
    assert "completed (event 1) before T1 was invoked (event 2) (rt)" in r.anomalies[0].explanation
    untimed = check(serial((0, [("w", "x", 1)]), (1, [("r", "x", None)])), "strict-serializable")
    assert untimed.valid is True and "no :time" in untimed.explain()  # no real-time order is claimed


def test_malformed_reads() -> None:
    r = check(serial((0, [("append", "x", 1)]), (1, [("r", "x", (1,))]), (2, [("r", "x", (2,))])))
    assert "incompatible-order" in r.names
    r = check(serial((0, [("r", "x", 9)])))
    assert r.names == ["garbage-read"]


def test_a_search_budget_still_says_which_cycle_must_exist() -> None:
    t1 = [("r", "x", None), ("r", "y", None), ("w", "x", 1)]
    t2 = [("r", "x", None), ("r", "y", None), ("w", "y", 1)]
    h = History.from_ops([inv(1, t1), inv(2, t2), done(1, t1), done(2, t2)])
    r = check_transactions(h, "serializable", max_searches=0)
    assert r.valid is False and r.names == ["G2-item"] and r.anomalies[0].graph is None
    assert "a G2-item cycle (anti-dependencies, two of them adjacent) must exist: the rw edge" in r.explain()
    assert "spelling-out of examples stopped" in (r.reason or "")
    with pytest.raises(ValueError, match="unknown consistency model"):
        check_transactions(h, "linearizable")


def test_running_out_of_time_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    from splitbrain.checker import deadline

    monkeypatch.setattr(deadline, "_EVERY", 1)
    r = check_transactions(History.from_ops(serial((0, [("w", "x", 1)]), (1, [("r", "x", 1)]))), timeout=1e-9)
    assert r.valid == "unknown" and "ran out while inferring dependencies" in (r.reason or "")


# -- valid histories are never flagged ----------------------------------------------------------------

LIST_KEYS, REG_KEYS = ("a", "b"), ("x", "y")


@st.composite
def serial_history(draw: st.DrawFn) -> list[Op]:
    """A serial execution of random transactions against an in-memory store; some fail (no effect),
    some end ``info`` (applied, outcome unknown, the process retires)."""
    store: dict[str, Any] = {}
    counter = 0
    ops: list[Op] = []
    processes = list(range(3))
    next_process = 3
    for _ in range(draw(st.integers(1, 8))):
        slot = draw(st.integers(0, len(processes) - 1))
        p = processes[slot]
        mops: list[Mop] = []
        staged = dict(store)
        for _ in range(draw(st.integers(1, 4))):
            key = draw(st.sampled_from(LIST_KEYS + REG_KEYS))
            if draw(st.booleans()):
                mops.append(("r", key, staged.get(key, () if key in LIST_KEYS else None)))
                continue
            counter += 1
            if key in LIST_KEYS:
                staged[key] = (*staged.get(key, ()), counter)
                mops.append(("append", key, counter))
            else:
                staged[key] = counter
                mops.append(("w", key, counter))
        status = draw(st.sampled_from(["ok", "ok", "ok", "fail", "info"]))
        if status != "fail":
            store = staged
        ops += [inv(p, mops), done(p, mops, status)]
        if status == "info":
            processes[slot] = next_process
            next_process += 1
    return ops


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(serial_history())
def test_serial_histories_are_valid_under_every_model(ops: list[Op]) -> None:
    h = History.from_ops(ops)
    for model in CONSISTENCY_MODELS:
        r = check_transactions(h, model)
        assert r.valid is True, r.explain()


# -- the CLI -------------------------------------------------------------------------------------------

def test_cli_txn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t1 = [("r", "x", None), ("r", "y", None), ("w", "x", 1)]
    t2 = [("r", "x", None), ("r", "y", None), ("w", "y", 1)]
    path = tmp_path / "skew.jsonl"
    path.write_text(dumps_history(History.from_ops([inv(1, t1), inv(2, t2), done(1, t1), done(2, t2)]),
                                  format="jsonl"))
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(path), "--checker", "txn", "--consistency", "snapshot-isolation"])
    assert exit_info.value.code in (0, None)
    assert "valid (snapshot-isolation)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(path), "--checker", "txn", "--json"])
    assert exit_info.value.code == 1
    row = json.loads(capsys.readouterr().out)
    assert row["valid"] is False and row["checker"] == "txn" and row["operations"] == 2
    assert row["anomalies"][0]["name"] == "G2-item" and row["anomalies"][0]["events"] == [0, 1]
    assert row["not"] == ["repeatable-read"] and "snapshot-isolation" in row["holds"]
    assert row["anomaly_types"] == ["G2-item"]
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(path)])
    assert exit_info.value.code == 3
    assert "Missing option '--model'" in capsys.readouterr().err
    page = tmp_path / "cycle.html"
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(path), "--checker", "txn", "--html", str(page)])
    assert exit_info.value.code == 1
    assert f"report: {page}" in capsys.readouterr().out
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "G2-item" in text and '"rw' in text  # the labelled cycle


@pytest.mark.parametrize("name", ["read-committed", "repeatable-read", "PL-2.99", "strong-session-serializable"])
def test_cli_takes_every_model_name(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(dumps_history(History.from_ops(serial((0, [("w", "x", 1)]))), format="jsonl"))
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(path), "--checker", "txn", "--consistency", name, "--sequential-keys"])
    assert exit_info.value.code in (0, None), capsys.readouterr()


def test_the_public_check_passes_the_register_options_through() -> None:
    import splitbrain
    from splitbrain.errors import UsageError

    h = History.from_ops(serial((0, [("w", "x", 1)]), (1, [("w", "x", 2)]), (2, [("r", "x", 1)]),
                                (3, [("r", "x", 2)]), (2, [("r", "x", 2)]), (3, [("r", "x", 1)])))
    assert splitbrain.check(h, checker="txn", consistency="read-uncommitted").valid is True
    r = splitbrain.check(h, checker="txn", consistency="read-uncommitted", sequential_keys=True)
    assert r.valid is False and "cyclic-versions" in r.explain()
    with pytest.raises(UsageError, match="apply only to checker='txn'"):
        splitbrain.check(h, "register", linearizable_keys=True)
