"""Elle's inference rules one at a time, and Jepsen/Elle history files read as they are written.

Every history here is hand-made; the EDN texts follow the shape of Elle's published example files (no
``:process``, no ``:f``, ``:index`` as the order, nanosecond ``:time``) with keys and values of their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from splitbrain.checker.transactions import check_transactions
from splitbrain.checker.txn_graph import RW, WW, build
from splitbrain.errors import InvalidHistory
from splitbrain.histories import History, read_history
from splitbrain.histories.formats.edn import read as read_edn
from txn_histories import done, inv, serial

A, R, W = "append", "r", "w"


def edges(h: History, **options: bool) -> set[tuple[str, str, str]]:
    """The inferred edges as (from, to, rule)."""
    from splitbrain.checker.txn_graph import Options

    inf = build(h, Options(**options))
    g = inf.graph
    return {(inf.name(g.src[e]), inf.name(g.dst[e]), g.rule_of(e)) for e in range(len(g))}


# -- list-append -------------------------------------------------------------------------------------------
def test_the_longest_read_orders_appends() -> None:
    h = History.from_ops(serial((0, [(A, "x", 1)]), (1, [(A, "x", 2)]), (2, [(R, "x", (1,))]),
                                (3, [(R, "x", (1, 2))])))
    found = edges(h)
    assert ("T0", "T1", "append-order") in found  # ww
    assert ("T0", "T2", "append-read") in found and ("T1", "T3", "append-read") in found  # wr
    assert ("T2", "T1", "append-next") in found  # rw: T2 missed 2


def test_an_append_no_read_shows_still_follows_every_read() -> None:
    """Write skew seen only through the unread-append rule: no read shows either append, yet each
    transaction read the key the other appended to before that append."""
    t0 = [(R, "y", ()), (A, "x", 1)]
    t1 = [(R, "x", ()), (A, "y", 1)]
    h = History.from_ops([inv(0, t0), inv(1, t1), done(0, t0), done(1, t1)])
    assert {("T1", "T0", "append-before-unread"), ("T0", "T1", "append-before-unread")} <= edges(h)
    r = check_transactions(h, "serializable")
    assert r.names == ["G2-item"]
    assert "is in no read, so it came later" in r.anomalies[0].explanation
    assert check_transactions(h, "snapshot-isolation").valid is True
    # an append whose transaction may not have committed (info) need not be in the final version
    maybe = History.from_ops([inv(0, t0), inv(1, t1), done(0, t0, "info"), done(1, t1)])
    assert check_transactions(maybe, "serializable").valid is True


def test_unread_appends_follow_the_last_element_read() -> None:
    h = History.from_ops(serial((0, [(A, "x", 1)]), (1, [(R, "x", (1,))]), (2, [(A, "x", 2)])))
    found = edges(h)
    assert ("T0", "T2", "append-unread") in found and ("T1", "T2", "append-before-unread") in found


def test_a_read_after_the_readers_own_append_shows_the_order() -> None:
    """T1 appended 4 and then read [1 4]: that read orders its append after 1, and its prefix [1] is what
    T1 saw of others."""
    h = History.from_ops(serial((0, [(A, "x", 1)]), (1, [(A, "x", 4), (R, "x", (1, 4))]), (2, [(A, "x", 3)])))
    found = edges(h)
    assert ("T0", "T1", "append-order") in found and ("T0", "T1", "append-read") in found
    assert ("T1", "T2", "append-unread") in found


def test_aborted_and_unknown_elements_are_skipped_in_the_order() -> None:
    h = History.from_ops(serial((0, [(A, "x", 1)]), (1, [(A, "x", 2)], "fail"), (2, [(A, "x", 3)]),
                                (3, [(R, "x", (1, 2, 3))])))
    r = check_transactions(h, "read-uncommitted")
    assert r.valid is True and {"G1a", "dirty-update"} <= {a.name for a in r.allowed}
    assert ("T0", "T2", "append-order") in edges(h)  # across the aborted element


# -- rw-register -------------------------------------------------------------------------------------------
def test_nil_precedes_every_version_and_writes_follow_reads() -> None:
    h = History.from_ops(serial((0, [(R, "x", None), (W, "x", 1)]), (1, [(R, "x", 1), (W, "x", 2)]),
                                (2, [(R, "x", None)])))
    found = edges(h)
    assert ("T0", "T1", "register-order") in found and ("T0", "T1", "register-read") in found
    assert ("T2", "T0", "register-next") in found  # nil is before the first version...
    assert ("T2", "T1", "register-next") not in found  # ...which is the only one it directly precedes
    assert ("T0", "T1", "register-order") not in edges(h, wfr_keys=False)


def test_wfr_keys_finds_what_blind_inference_cannot() -> None:
    t1 = [(R, "x", 1), (R, "y", 5)]
    t2 = [(R, "x", 1), (W, "x", 2), (W, "y", 5)]
    h = History.from_ops([*serial((0, [(R, "x", None), (W, "x", 1)])), inv(1, t1), inv(2, t2), done(2, t2),
                          done(1, t1)])
    assert check_transactions(h, "snapshot-isolation").valid is False
    assert check_transactions(h, "snapshot-isolation", wfr_keys=False).valid is True


def test_sequential_keys_orders_versions_by_each_process() -> None:
    """Blind writes 1 and 2; process 2 sees 1 then 2, process 3 sees 2 then 1: under the assumption that
    the key is sequentially consistent, the version order would be a loop."""
    h = History.from_ops(serial((0, [(W, "x", 1)]), (1, [(W, "x", 2)]), (2, [(R, "x", 1)]), (3, [(R, "x", 2)]),
                                (2, [(R, "x", 2)]), (3, [(R, "x", 1)])))
    assert check_transactions(h, "read-uncommitted").valid is True
    r = check_transactions(h, "read-uncommitted", sequential_keys=True)
    assert r.names == ["cyclic-versions"] and "(sequential-keys)" in r.anomalies[0].explanation


def test_linearizable_keys_orders_versions_in_real_time() -> None:
    h = History.from_ops(serial((0, [(W, "x", 1)]), (1, [(W, "x", 2)]), (2, [(R, "x", 1)])))
    assert check_transactions(h, "serializable").valid is True
    r = check_transactions(h, "serializable", linearizable_keys=True)
    assert r.valid is False and r.names == ["cyclic-versions"]
    assert "(linearizable-keys)" in r.anomalies[0].explanation


# -- process and real-time order only where the history has them -----------------------------------------
def test_process_and_realtime_edges_need_processes_and_times() -> None:
    def rules(h: History) -> set[str]:
        return {rule for _, _, rule in edges(h)}

    assert "process" in rules(History.from_ops(serial((0, [(W, "x", 1)]), (0, [(W, "y", 1)]))))
    assert "process" not in rules(History.from_ops(serial((0, [(W, "x", 1)]), (1, [(W, "y", 1)]))))
    assert "realtime" in rules(History.from_ops(serial((0, [(W, "x", 1)]), (1, [(W, "y", 1)]), times=True)))
    assert "realtime" not in rules(History.from_ops(serial((0, [(W, "x", 1)]), (1, [(W, "y", 1)]))))
    # an info transaction may take effect any time later: no order leaves it
    info = History.from_ops(serial((0, [(W, "x", 1)], "info"), (0, [(W, "y", 1)]), times=True))
    assert rules(info) == set()


def test_kinds_are_bits_for_masks() -> None:
    assert WW & RW == 0 and WW | RW != WW


# -- Jepsen and Elle files as they are ---------------------------------------------------------------------
#: the shape of Elle's paper example: no :process, no :f, :index only (keys and values our own)
NO_PROCESS = """\
{:index 0 :type :invoke :value [[:append 10 1] [:append 10 2] [:append 11 5] [:append 12 1]]}
{:index 1 :type :ok     :value [[:append 10 1] [:append 10 2] [:append 11 5] [:append 12 1]]}
{:index 2 :type :invoke, :value [[:append 11 6] [:r 10 nil]]}
{:index 3 :type :ok,     :value [[:append 11 6] [:r 10 [1 2]]]}
{:index 4 :type :invoke, :value [[:append 12 3] [:r 11 nil] [:r 12 nil]]}
{:index 5 :type :ok,     :value [[:append 12 3] [:r 11 [5 6]] [:r 12 [1 3]]]}
{:index 6 :type :invoke, :value [[:r 11 nil] [:append 12 2]]}
{:index 7 :type :ok      :value [[:r 11 [5]] [:append 12 2]]}
"""


def test_ops_without_process_or_f_read_as_transactions(tmp_path: Path) -> None:
    path = tmp_path / "paper-shape.edn"
    path.write_text(NO_PROCESS)
    h = read_history(path)
    assert [op.f for op in h.operations] == ["txn"] * 4
    assert len({op.process for op in h.operations}) == 4  # each alone on a process of its own
    r = check_transactions(h, "serializable")
    # T3 missed T1's 6 on 11; T1 -wr-> T2 (11 read as [5 6]); T2's 3 precedes T3's unread 2 on 12
    assert r.names == ["G-single"], r.explain()
    assert "T3 < T1 < T2 < T3" in r.anomalies[0].explanation
    assert "note: no two transactions share a process" in check_transactions(h, "strict-serializable").explain()


def test_completions_without_process_pair_with_their_invoke() -> None:
    text = ("{:type :invoke :f :txn :value [[:w 1 1]]}\n{:process 4 :type :invoke :f :txn :value [[:r 1 nil]]}\n"
            "{:process 4 :type :ok :f :txn :value [[:r 1 1]]}\n{:type :ok :f :txn :value [[:w 1 1]]}\n")
    h = read_edn(text)
    first = h.operations[0]
    assert first.ok and first.process not in (4,) and h.operations[1].process == 4
    with pytest.raises(InvalidHistory, match="2 invokes of txn without :process are open"):
        read_edn("{:type :invoke :f :txn :value [[:w 1 1]]}\n{:type :invoke :f :txn :value [[:w 1 2]]}\n"
                 "{:type :ok :f :txn :value [[:w 1 1]]}\n", source="two.edn")
    with pytest.raises(InvalidHistory, match="has no :f"):
        read_edn("{:type :invoke :value 3}\n")


def test_index_is_the_order_and_time_may_be_nanoseconds() -> None:
    text = ("{:index 21 :time 1611884988123 :type :ok :process 2 :f :txn :value [[:append 3 1]]}\n"
            "{:index 20 :time 1611884987000 :type :invoke :process 2 :f :txn :value [[:append 3 1]]}\n"
            "{:index 30 :time 1611884990000 :type :invoke :process 5 :f :txn :value [[:r 3 nil]]}\n"
            "{:index 31 :time 1611884999999 :type :ok :process 5 :f :txn :value [[:r 3 []]]}\n")
    h = read_edn(text, source="ns.edn")
    assert [op.type for op in h.ops] == ["invoke", "ok", "invoke", "ok"]
    assert h.lines == (2, 1, 3, 4)
    r = check_transactions(h, "strict-serializable")
    assert r.names == ["G-single-realtime"]
    with pytest.raises(InvalidHistory, match=":index 20 is given twice"):
        read_edn(text.replace(":index 21", ":index 20"), source="dup.edn")


def test_a_read_of_nil_on_a_list_key_is_the_empty_list() -> None:
    h = read_edn("{:process 0 :type :invoke :f :txn :value [[:r 9 nil] [:append 9 1]]}\n"
                 "{:process 0 :type :ok :f :txn :value [[:r 9 nil] [:append 9 1]]}\n"
                 "{:process 1 :type :invoke :f :txn :value [[:r 9 nil]]}\n"
                 "{:process 1 :type :ok :f :txn :value [[:r 9 [1]]]}\n")
    assert check_transactions(h, "strict-serializable").valid is True


def test_micro_op_spellings() -> None:
    h = read_edn("{:process 0 :type :invoke :f :txn :value [[:write :x 1] [:read :y nil]]}\n"
                 "{:process 0 :type :ok :f :txn :value [[:write :x 1] [:read :y nil]]}\n")
    assert check_transactions(h).valid is True
