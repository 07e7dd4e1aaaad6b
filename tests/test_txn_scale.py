"""The transaction checker on generated list-append histories: strict-serializable ones pass under every
model, planted faults are found, and the scale goals hold (100k transactions in ≤ 10 s: marked slow;
``benchmarks/txn_scale.py`` measures 1M). Times are CPU seconds of the check, so that a busy machine does not
fail the test: the wall-clock figures are the benchmark's."""

from __future__ import annotations

import time

import pytest

from splitbrain.checker.consistency_models import MODELS
from splitbrain.checker.transactions import check_transactions
from splitbrain.histories import History
from txn_histories import generate


@pytest.mark.parametrize("seed", range(4))
def test_generated_strict_serializable_histories_pass_every_model(seed: int) -> None:
    h = History.from_ops(generate(400, processes=4, active_keys=3, max_appends=12, seed=seed))
    for model in MODELS:
        r = check_transactions(h, model)
        assert r.valid is True, r.explain()
    assert r.stats["edges"] > 1000 and r.holds == MODELS


def test_planted_stale_reads_and_aborted_reads_are_found() -> None:
    h = History.from_ops(generate(5_000, stale_every=500, aborted_every=1_500, seed=1))
    r = check_transactions(h, "strict-serializable")
    assert r.valid is False
    assert {"G1a", "G-single"} <= set(r.anomaly_types), r.anomaly_types
    assert all(a.graph is not None for a in r.anomalies if a.name.startswith("G-single"))
    assert check_transactions(h, "read-uncommitted").valid is True  # neither G0 nor garbage was planted


def test_a_history_that_is_one_big_cycle_is_decided_and_explained() -> None:
    """Every read stale: the dependency graph is one large strongly connected component (like Elle's
    huge-scc example). Every class is still decided, and examples spelled out within the budget."""
    h = History.from_ops(generate(3_000, stale_every=2, seed=2))
    started = time.process_time()
    r = check_transactions(h, "strict-serializable", max_searches=50)
    assert time.process_time() - started < 20
    assert r.valid is False and r.stats["cyclic-core"] > 500
    assert r.stats["searches"] <= 50


def _cpu_seconds(n: int, **planted: int) -> tuple[float, object]:
    h = History.from_ops(generate(n, **planted))
    started = time.process_time()
    r = check_transactions(h, "strict-serializable")
    return time.process_time() - started, r.valid


def test_ten_thousand_transactions_take_well_under_a_second_or_two() -> None:
    seconds, valid = _cpu_seconds(10_000)
    assert valid is True and seconds < 2.5


@pytest.mark.slow
@pytest.mark.parametrize("planted", [{}, {"stale_every": 5_000, "aborted_every": 20_000}], ids=["valid", "planted"])
def test_a_hundred_thousand_transactions_in_ten_seconds(planted: dict[str, int]) -> None:
    seconds, valid = _cpu_seconds(100_000, **planted)
    assert valid is (not planted) and seconds < 10
