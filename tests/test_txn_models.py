"""The consistency-model lattice: for every pair of a model and the next stronger one, a hand-written history
the weaker allows and the stronger forbids; and the lattice's own laws (stronger models forbid more, the
boundary Elle calls :not / :also-not)."""

from __future__ import annotations

import pytest

from splitbrain.checker.consistency_models import (
    ALIASES,
    IMPLIES,
    MODELS,
    boundary,
    canonical,
    forbidden,
    stronger_or_equal,
    weaker_or_equal,
)
from splitbrain.checker.transactions import CONSISTENCY_MODELS, check_transactions
from splitbrain.histories import History
from test_txn_anomalies import CASES

#: (weaker, stronger) -> the anomaly whose hand-written history (test_txn_anomalies.CASES) separates them
BOUNDARIES: dict[tuple[str, str], str] = {
    ("read-uncommitted", "read-committed"): "G1a",
    ("read-uncommitted", "strong-session-read-uncommitted"): "G0-process",
    ("read-committed", "monotonic-atomic-view"): "fractured-read",
    ("read-committed", "cursor-stability"): "lost-update",
    ("read-committed", "strong-session-read-committed"): "G1c-process",
    ("strong-session-read-uncommitted", "strong-session-read-committed"): "G1c",
    ("strong-session-read-uncommitted", "strong-read-uncommitted"): "G0-realtime",
    ("strong-read-uncommitted", "strong-read-committed"): "G1a",
    ("strong-session-read-committed", "strong-read-committed"): "G1c-realtime",
    ("monotonic-atomic-view", "repeatable-read"): "G2-item",
    ("monotonic-atomic-view", "snapshot-isolation"): "G-single",
    ("cursor-stability", "repeatable-read"): "G2-item",
    ("cursor-stability", "snapshot-isolation"): "G-single",
    ("snapshot-isolation", "serializable"): "G2-item",
    ("snapshot-isolation", "strong-session-snapshot-isolation"): "G-single-process",
    ("strong-session-read-committed", "strong-session-snapshot-isolation"): "G-single",
    ("strong-session-snapshot-isolation", "strong-snapshot-isolation"): "G-single-realtime",
    ("strong-read-committed", "strong-snapshot-isolation"): "G-nonadjacent",
    ("serializable", "strong-session-serializable"): "G2-item-process",
    ("strong-session-snapshot-isolation", "strong-session-serializable"): "G2-item",
    ("strong-session-serializable", "strict-serializable"): "G2-item-realtime",
    ("strong-snapshot-isolation", "strict-serializable"): "G2-item",
}
#: With reads and writes of single keys, Adya's PL-2.99 and PL-3 differ only in predicate anti-dependencies:
#: no key-value history separates repeatable read from serializable.
SAME_FOR_KEYS = {("repeatable-read", "serializable")}


def test_every_edge_of_the_lattice_has_a_boundary_case() -> None:
    edges = {(weaker, stronger) for stronger, weakers in IMPLIES.items() for weaker in weakers}
    assert set(BOUNDARIES) | SAME_FOR_KEYS == edges


@pytest.mark.parametrize(("weaker", "stronger"), sorted(BOUNDARIES), ids=lambda m: m)
def test_allowed_by_the_weaker_forbidden_by_the_stronger(weaker: str, stronger: str) -> None:
    anomaly = BOUNDARIES[(weaker, stronger)]
    h = History.from_ops(CASES[anomaly][0])
    allowed = check_transactions(h, weaker)
    assert allowed.valid is True, allowed.explain()
    refused = check_transactions(h, stronger)
    assert refused.valid is False, refused.explain()
    assert stronger in refused.not_models + refused.also_not and weaker in refused.holds


def test_repeatable_read_and_serializable_agree_on_every_case() -> None:
    for ops, *_ in CASES.values():
        h = History.from_ops(ops)
        assert check_transactions(h, "repeatable-read").valid == check_transactions(h, "serializable").valid


def test_the_four_transaction_g2_item_of_elles_paper_shape() -> None:
    """Four transactions, each missing another's append, so that every cycle has two anti-dependencies side
    by side: not serializable, not repeatable read, yet snapshot isolation (the shape Elle reports as
    G2-item, written here with keys and values of its own)."""
    from txn_histories import serial

    h = History.from_ops(serial(
        (3, [("append", "k1", 7)]),
        (5, [("append", "k2", 4), ("r", "k1", None)]),
        (6, [("r", "k3", None), ("r", "k2", None), ("append", "k1", 8)]),
        (8, [("append", "k3", 4), ("r", "k1", (7,))]),
    ))
    for model in ("serializable", "repeatable-read"):
        r = check_transactions(h, model)
        assert r.valid is False and r.names == ["G2-item"], r.explain()
    si = check_transactions(h, "snapshot-isolation")
    assert si.valid is True and si.not_models == ("repeatable-read",)


def test_stronger_models_forbid_more() -> None:
    for stronger, weakers in IMPLIES.items():
        for weaker in weakers:
            assert forbidden(weaker) <= forbidden(stronger), (weaker, stronger)
    assert forbidden("strict-serializable") >= set(CASES)


def test_names_and_aliases() -> None:
    assert set(MODELS) | set(ALIASES) == set(CONSISTENCY_MODELS)
    assert canonical("PL-2.99") == "repeatable-read" and canonical("strong-serializable") == "strict-serializable"
    with pytest.raises(KeyError):
        canonical("linearizable")
    assert weaker_or_equal("serializable") >= {"repeatable-read", "snapshot-isolation", "read-uncommitted"}
    assert stronger_or_equal("snapshot-isolation") == {
        "snapshot-isolation", "serializable", "strong-session-snapshot-isolation", "strong-snapshot-isolation",
        "strong-session-serializable", "strict-serializable"}


def test_boundary_is_elles_not_and_also_not() -> None:
    assert boundary([]) == ((), (), MODELS)
    not_, also, holds = boundary(["G2-item"])
    assert not_ == ("repeatable-read",)
    assert also == ("serializable", "strong-session-serializable", "strict-serializable")
    assert "snapshot-isolation" in holds and "strong-snapshot-isolation" in holds
    not_, also, _ = boundary(["G1c-realtime", "lost-update"])
    assert not_ == ("cursor-stability", "strong-read-committed")
    assert "snapshot-isolation" in also and "monotonic-atomic-view" not in also + not_
