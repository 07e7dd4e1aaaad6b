"""Known-answer tests: every Porcupine corpus history gives the verdict its README lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitbrain.checker import check_linearizability
from splitbrain.histories import read_history

LINEARIZABLE_ETCD = {
    2, 5, 7, 18, 25, 31, 38, 45, 48, 49, 51, 53, 56, 67, 75, 76, 80, 87, 92, 98, 100, 101, 102,
}
ETCD_NUMBERS = [n for n in range(103) if n != 95]  # etcd_095.log is empty upstream


def test_corpus_counts_match_readme(porcupine: Path) -> None:
    files = sorted((porcupine / "jepsen").glob("etcd_*.log"))
    nonempty = [f for f in files if f.stat().st_size > 0]
    assert len(nonempty) == 102
    assert len(LINEARIZABLE_ETCD) == 23


@pytest.mark.parametrize("number", ETCD_NUMBERS, ids=lambda n: f"etcd_{n:03d}")
def test_etcd_verdict(porcupine: Path, number: int) -> None:
    history = read_history(porcupine / "jepsen" / f"etcd_{number:03d}.log")
    result = check_linearizability(history, "cas-register", timeout=120)
    assert result.valid is (number in LINEARIZABLE_ETCD)
    if result.valid is False:
        cx = result.counterexample
        assert cx is not None and cx.blocked is not None
        # the blocked operation completed, so it really had to be placed
        assert cx.blocked.status == "ok"
    else:
        witness = [op for part in result.witness or [] for op in part]
        assert all(op.status in ("ok", "info") for op in witness)
        assert {op.id for op in witness} >= {
            op.id for op in history.operations if op.status == "ok"
        }


KV = [
    ("c01-ok.txt", True), ("c01-bad.txt", False), ("c10-ok.txt", True), ("c10-bad.txt", False),
    ("c50-ok.txt", True), ("c50-bad.txt", False),
]


@pytest.mark.parametrize(("name", "expected"), KV)
def test_kv_partitioned(porcupine: Path, name: str, expected: bool) -> None:
    history = read_history(porcupine / "kv" / name)
    result = check_linearizability(history, "kv", timeout=120)
    assert result.valid is expected
    assert result.stats.partitions == len(history.keys())


@pytest.mark.parametrize(("name", "expected"), KV)
def test_kv_unpartitioned_never_wrong(porcupine: Path, name: str, expected: bool) -> None:
    """Without partitioning, small histories must get their verdict; c50 may give up, never lie."""
    timeout = 5.0 if name.startswith("c50") else 120.0
    result = check_linearizability(
        read_history(porcupine / "kv" / name), "kv", timeout=timeout, partition=False
    )
    assert result.stats.partitions == 1
    if name.startswith("c50"):
        assert result.valid in (expected, "unknown")
    else:
        assert result.valid is expected
