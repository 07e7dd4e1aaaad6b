"""Per-file and total linearizability check times on the Porcupine corpus.

Usage: python benchmarks/check_corpus.py [--data DIR] [--unpartitioned-c50] [--timeout S]

DIR defaults to $SPLITBRAIN_DATA or ../shared/data (the directory holding porcupine/test_data).
Times cover the check only (files are parsed first). Prints one line per file and the totals that the
README records.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from splitbrain.checker import check_linearizability
from splitbrain.histories import read_history


def _data_dir(arg: str | None) -> Path:
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    root = Path(arg or os.environ.get("SPLITBRAIN_DATA") or default)
    corpus = root / "porcupine" / "test_data"
    if not corpus.is_dir():
        raise SystemExit(f"no Porcupine corpus under {root}: set SPLITBRAIN_DATA or pass --data")
    return corpus


def _time(path: Path, model: str, partition: bool, timeout: float) -> tuple[float, object, str]:
    history = read_history(path)
    start = time.perf_counter()
    result = check_linearizability(history, model, partition=partition, timeout=timeout)
    return time.perf_counter() - start, result.valid, result.reason or ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--unpartitioned-c50", action="store_true", help="also time c50 without partitioning")
    args = parser.parse_args()
    corpus = _data_dir(args.data)

    etcd_times = []
    for path in sorted((corpus / "jepsen").glob("etcd_*.log")):
        if path.stat().st_size == 0:
            continue
        seconds, valid, _ = _time(path, "cas-register", True, args.timeout)
        etcd_times.append((seconds, path.name))
        print(f"{path.name:<16} {valid!s:<8} {seconds * 1000:9.2f} ms")
    total = sum(s for s, _ in etcd_times)
    print(f"etcd: {len(etcd_times)} files, total {total:.3f} s, median "
          f"{statistics.median(s for s, _ in etcd_times) * 1e6:.0f} us, slowest "
          + ", ".join(f"{n} {s:.3f} s" for s, n in sorted(etcd_times, reverse=True)[:3]))

    kv_total = 0.0
    for name in ("c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad"):
        seconds, valid, _ = _time(corpus / "kv" / f"{name}.txt", "kv", True, args.timeout)
        kv_total += seconds
        print(f"kv {name:<8} partitioned    {valid!s:<8} {seconds * 1000:9.2f} ms")
    print(f"kv partitioned: total {kv_total:.3f} s")

    names = ["c10-ok", "c10-bad"] + (["c50-ok", "c50-bad"] if args.unpartitioned_c50 else [])
    for name in names:
        seconds, valid, reason = _time(corpus / "kv" / f"{name}.txt", "kv", False, args.timeout)
        print(f"kv {name:<8} unpartitioned  {valid!s:<8} {seconds:9.3f} s {reason}")


if __name__ == "__main__":
    main()
