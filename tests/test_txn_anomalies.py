"""Every anomaly the transaction checker names, each in a history written by hand from its published
definition (Adya 1999 for G0…G2, Elle's paper for the list-append ones, Bailis et al. for fractured reads),
checked under the weakest model that forbids it — and, where a weaker model exists, found but allowed there.

Histories read as Jepsen writes them: ``T`` numbers are invoke order; a transaction invoked before others
complete runs concurrently with them; ``times`` stamps every event (so real-time order is inferred).
"""

from __future__ import annotations

from typing import Any

import pytest

from splitbrain.checker.consistency_models import CYCLE_ANOMALIES, forbidden
from splitbrain.checker.transactions import check_transactions
from splitbrain.histories import History, Op
from txn_histories import Mop, done, inv, serial, timed

A, R, W = "append", "r", "w"


def concurrent(*txns: tuple[int, list[Mop]]) -> list[Op]:
    """All invoked, then all completed: no transaction precedes another in real time."""
    return [inv(p, m) for p, m in txns] + [done(p, m) for p, m in txns]


def events(*steps: tuple[str, int, list[Mop]]) -> list[Op]:
    """Explicit invokes ("i") and completions ("ok"/"fail"/"info"), in order, each at its own time."""
    return timed([inv(p, m) if kind == "i" else done(p, m, kind) for kind, p, m in steps])


# anomaly -> (history, weakest model forbidding it, a weaker model allowing it or None, text in explanation)
CASES: dict[str, tuple[list[Op], str, str | None, str]] = {
    "G0": (serial((0, [(A, "x", 1), (A, "y", 1)]), (1, [(A, "x", 2), (A, "y", 2)]),
                  (2, [(R, "x", (1, 2)), (R, "y", (2, 1))])),
           "read-uncommitted", None, "(G0: write cycle)"),
    "G1a": (serial((0, [(W, "x", 1)], "fail"), (1, [(R, "x", 1)])),
            "read-committed", "read-uncommitted", "T0 failed (aborted), yet T1 read 'x'=1"),
    "G1b": (serial((0, [(A, "x", 1), (A, "x", 2)]), (1, [(R, "x", (1,))])),
            "read-committed", "read-uncommitted", "the intermediate version (G1b)"),
    "G1c": (concurrent((0, [(A, "x", 1), (R, "y", (1,))]), (1, [(A, "y", 1), (R, "x", (1,))])),
            "read-committed", "read-uncommitted", "(G1c: circular information flow)"),
    # T2 saw T1's y (T1 had read T0's x) but not T0's x: read skew across writers, not a fractured read
    "G-single": (concurrent((0, [(A, "x", 1)]), (1, [(R, "x", (1,)), (A, "y", 1)]),
                            (2, [(R, "y", (1,)), (R, "x", ())])),
                 "snapshot-isolation", "cursor-stability", "(G-single: exactly one anti-dependency)"),
    # T0 -rw-> T1 -wr-> T2 -rw-> T3 -wr-> T0: two anti-dependencies, never side by side
    "G-nonadjacent": (concurrent((0, [(R, "x", ()), (R, "z", (1,))]), (1, [(A, "x", 1)]),
                                 (2, [(R, "x", (1,)), (R, "y", ())]), (3, [(A, "y", 1), (A, "z", 1)])),
                      "snapshot-isolation", "monotonic-atomic-view", "anti-dependencies, no two adjacent"),
    "G2-item": (concurrent((0, [(R, "x", ()), (R, "y", ()), (A, "x", 1)]),
                           (1, [(R, "x", ()), (R, "y", ()), (A, "y", 1)])),
                "repeatable-read", "snapshot-isolation", "(G2-item: anti-dependencies, two of them adjacent)"),
    # one process: T1 appends 1 before T0's 2 yet T0 ran first on the process
    "G0-process": (serial((0, [(A, "x", 2)]), (0, [(A, "x", 1)]), (1, [(R, "x", (1, 2))])),
                   "strong-session-read-uncommitted", "read-uncommitted", "on process 0 (process)"),
    "G1c-process": (serial((0, [(R, "x", (1,))]), (0, [(A, "x", 1)])),
                    "strong-session-read-committed", "read-committed", "(G1c-process"),
    "G-single-process": (serial((0, [(A, "x", 1)]), (0, [(R, "x", ())])),
                         "strong-session-snapshot-isolation", "snapshot-isolation", "(G-single-process"),
    # T0 -process-> T2 -rw-> T3 -process-> T1 -rw-> T0
    "G-nonadjacent-process": (
        [inv(0, [(A, "x", 1)]), inv(1, [(A, "y", 1)]), done(0, [(A, "x", 1)]), done(1, [(A, "y", 1)]),
         inv(0, [(R, "y", ())]), inv(1, [(R, "x", ())]), done(0, [(R, "y", ())]), done(1, [(R, "x", ())])],
        "strong-session-snapshot-isolation", "snapshot-isolation", "(G-nonadjacent-process"),
    # T0 -process-> T2 -rw-> T1 -rw-> T0
    "G2-item-process": (
        [inv(0, [(A, "y", 1)]), inv(1, [(R, "y", ()), (A, "x", 1)]), done(0, [(A, "y", 1)]),
         inv(0, [(R, "x", ())]), done(0, [(R, "x", ())]), done(1, [(R, "y", ()), (A, "x", 1)])],
        "strong-session-serializable", "serializable", "(G2-item-process"),
    "G0-realtime": (serial((0, [(A, "x", 2)]), (1, [(A, "x", 1)]), (2, [(R, "x", (1, 2))]), times=True),
                    "strong-read-uncommitted", "strong-session-read-uncommitted", "(rt)"),
    "G1c-realtime": (serial((0, [(R, "x", (1,))]), (1, [(A, "x", 1)]), times=True),
                     "strong-read-committed", "strong-session-read-committed", "(G1c-realtime"),
    "G-single-realtime": (serial((0, [(A, "x", 1)]), (1, [(R, "x", ())]), times=True),
                          "strong-snapshot-isolation", "strong-session-snapshot-isolation", "(G-single-realtime"),
    # only T0 -rt-> T3: T0 -rt-> T3 -rw-> T2 -wr-> T1 -rw-> T0, with no one-anti-dependency cycle
    "G-nonadjacent-realtime": (
        events(("i", 0, [(A, "x", 1)]), ("i", 1, [(R, "x", ()), (R, "z", (1,))]), ("i", 2, [(A, "y", 1), (A, "z", 1)]),
               ("ok", 0, [(A, "x", 1)]), ("i", 3, [(R, "y", ())]), ("ok", 3, [(R, "y", ())]),
               ("ok", 1, [(R, "x", ()), (R, "z", (1,))]), ("ok", 2, [(A, "y", 1), (A, "z", 1)])),
        "strong-snapshot-isolation", "strong-session-snapshot-isolation", "(G-nonadjacent-realtime"),
    # T0 -rt-> T2 -rw-> T1 -rw-> T0
    "G2-item-realtime": (
        events(("i", 0, [(A, "y", 1)]), ("i", 1, [(R, "y", ()), (A, "x", 1)]), ("ok", 0, [(A, "y", 1)]),
               ("i", 2, [(R, "x", ())]), ("ok", 2, [(R, "x", ())]), ("ok", 1, [(R, "y", ()), (A, "x", 1)])),
        "strict-serializable", "strong-session-serializable", "(G2-item-realtime"),
    "internal": (serial((0, [(R, "x", ()), (A, "x", 1), (R, "x", ())])),
                 "monotonic-atomic-view", "read-committed", "should read [1], what it read or wrote there before"),
    "fractured-read": (concurrent((0, [(A, "x", 1), (A, "y", 1)]), (1, [(R, "x", (1,)), (R, "y", ())])),
                       "monotonic-atomic-view", "read-committed", "it saw part of T0's effects and not the rest"),
    "lost-update": (serial((0, [(A, "x", 1)])) + concurrent((1, [(R, "x", (1,)), (A, "x", 2)]),
                                                           (2, [(R, "x", (1,)), (A, "x", 3)]))
                    + serial((3, [(R, "x", (1, 2, 3))])),
                    "cursor-stability", "monotonic-atomic-view", "(the same version) and all wrote 'x'"),
    "duplicate-elements": (serial((0, [(A, "x", 1)]), (1, [(R, "x", (1, 1))])),
                           "read-uncommitted", None, "holds 1 more than once"),
    "incompatible-order": (serial((0, [(A, "x", 1)]), (1, [(A, "x", 2)]), (2, [(R, "x", (1,))]),
                                  (3, [(R, "x", (2,))])),
                           "read-committed", "read-uncommitted", "neither is a prefix of the other"),
    "garbage-read": (serial((0, [(R, "x", 9)])), "read-uncommitted", None, "no transaction wrote 9 to 'x'"),
    # T0 read 1 then wrote 2, T1 read 2 then wrote 1: the version order would be a loop
    "cyclic-versions": (serial((0, [(R, "x", 1), (W, "x", 2)]), (1, [(R, "x", 2), (W, "x", 1)])),
                        "read-uncommitted", None, "would have to come in a cycle 1 < 2 < 1"),
    "dirty-update": (serial((0, [(A, "x", 1)], "fail"), (1, [(A, "x", 2)]), (2, [(R, "x", (1, 2))])),
                     "read-committed", "read-uncommitted", "a committed update built on an aborted one"),
    "future-read": (serial((0, [(R, "x", (1,)), (A, "x", 1)])),
                    "read-committed", "read-uncommitted", "holds its own later append (future-read)"),
}


def test_every_anomaly_the_lattice_knows_has_a_case() -> None:
    from splitbrain.checker.consistency_models import ANOMALY_IMPLIES

    assert set(CASES) == set(ANOMALY_IMPLIES)
    assert set(CYCLE_ANOMALIES) <= set(CASES)


@pytest.mark.parametrize("anomaly", sorted(CASES))
def test_each_anomaly_is_found_named_and_explained(anomaly: str) -> None:
    ops, model, weaker, text = CASES[anomaly]
    h = History.from_ops(ops)
    r = check_transactions(h, model)
    assert r.valid is False, r.explain()
    assert anomaly in r.names, r.explain()
    assert anomaly in forbidden(model)
    found = next(a for a in r.anomalies if a.name == anomaly)
    assert text in found.explanation, found.explanation
    assert anomaly in r.anomaly_types and model in r.not_models + r.also_not
    if weaker is not None:
        allowed = check_transactions(h, weaker)
        assert allowed.valid is True, allowed.explain()
        assert anomaly in [a.name for a in allowed.allowed] and anomaly not in forbidden(weaker)


@pytest.mark.parametrize("anomaly", [a for a in CYCLE_ANOMALIES])
def test_cycles_come_with_their_graph(anomaly: str) -> None:
    ops, model, _, _ = CASES[anomaly]
    r = check_transactions(History.from_ops(ops), model)
    cycle = next(a for a in r.anomalies if a.name == anomaly)
    assert cycle.graph is not None and cycle.graph["title"] == anomaly
    labels = [e["label"] for e in cycle.graph["edges"]]
    rw = labels.count("rw")
    expected_rw: dict[str, Any] = {"G0": 0, "G1c": 0, "G-single": 1}
    base = anomaly.removesuffix("-process").removesuffix("-realtime")
    assert rw == expected_rw.get(base, rw) and (base not in ("G-nonadjacent", "G2-item") or rw >= 2)
    assert ("rt" in labels) == anomaly.endswith("-realtime")
    assert "process" in labels or not anomaly.endswith("-process")


def test_register_forms_of_the_read_anomalies() -> None:
    g1b = check_transactions(History.from_ops(serial((0, [(W, "x", 1), (W, "x", 2)]), (1, [(R, "x", 1)]))),
                             "read-committed")
    assert g1b.names == ["G1b"]
    future = check_transactions(History.from_ops(serial((0, [(R, "x", 1), (W, "x", 1)]))), "read-committed")
    assert "future-read" in future.names
    internal = check_transactions(History.from_ops(serial((0, [(W, "x", 1), (R, "x", 2)]))), "serializable")
    assert "internal" in internal.names and "should read 1" in internal.anomalies[0].explanation


def test_an_unreadable_history_is_refused_not_judged() -> None:
    from splitbrain.errors import InvalidHistory

    twice = serial((0, [(A, "x", 1)]), (1, [(A, "x", 1)]))
    with pytest.raises(InvalidHistory, match="appended to 'x' twice"):
        check_transactions(History.from_ops(twice))
    mixed = serial((0, [(A, "x", 1)]), (1, [(W, "x", 2)]))
    with pytest.raises(InvalidHistory, match="both appended to and written"):
        check_transactions(History.from_ops(mixed))
