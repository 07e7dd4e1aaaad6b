"""Per-file and total linearizability check times on the Porcupine corpus.

Usage: python benchmarks/check_corpus.py [--data DIR] [--no-c50] [--timeout S] [--repeat N]

DIR defaults to $SPLITBRAIN_DATA or ../shared/data (the directory holding porcupine/test_data).
Times cover the check only (files are parsed first). Prints one line per file and the totals that the
README records. The unpartitioned kv checks each run in a fresh process, so that the peak resident memory
printed is that check's own. ``SPLITBRAIN_PURE_PYTHON=1`` measures the pure-Python engine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from splitbrain.checker import check_linearizability, fast
from splitbrain.histories import read_history


def _data_dir(arg: str | None) -> Path:
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    root = Path(arg or os.environ.get("SPLITBRAIN_DATA") or default)
    corpus = root / "porcupine" / "test_data"
    if not corpus.is_dir():
        raise SystemExit(f"no Porcupine corpus under {root}: set SPLITBRAIN_DATA or pass --data")
    return corpus


def _time(path: Path, model: str, partition: bool, timeout: float, repeat: int = 1) -> tuple[float, object, str]:
    """The best of ``repeat`` check times (the machine may be shared: the minimum is the least noisy)."""
    history = read_history(path)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = check_linearizability(history, model, partition=partition, timeout=timeout)
        best = min(best, time.perf_counter() - start)
    return best, result.valid, result.reason or ""


def _peak_mib() -> float:
    """This process's peak resident memory in MiB. Linux's VmHWM where there is one: ``ru_maxrss``
    survives ``exec``, so a fresh interpreter would report its forking parent's peak when that is higher."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _isolated(path: Path, timeout: float) -> tuple[float, object, str, float]:
    """Check ``path`` unpartitioned in a fresh interpreter: (seconds, verdict, reason, peak MiB)."""
    code = (
        "import json, sys; import splitbrain.models;"
        f"from check_corpus import _peak_mib, _time; s, v, r = _time(__import__('pathlib').Path({str(path)!r}), "
        f"'kv', False, {timeout!r});"
        "print(json.dumps([s, v, r, _peak_mib()]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parent,
    )
    seconds, valid, reason, peak = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, valid, reason, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--no-c50", action="store_true", help="skip c50 without partitioning")
    parser.add_argument("--repeat", type=int, default=3, help="runs per partitioned check; the best counts")
    args = parser.parse_args()
    corpus = _data_dir(args.data)
    engine = "compiled core" if fast.available() else "pure Python"
    print(f"engine: {engine}; process peak so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")

    etcd_times = []
    for path in sorted((corpus / "jepsen").glob("etcd_*.log")):
        if path.stat().st_size == 0:
            continue
        seconds, valid, _ = _time(path, "cas-register", True, args.timeout, args.repeat)
        etcd_times.append((seconds, path.name))
        print(f"{path.name:<16} {valid!s:<8} {seconds * 1000:9.2f} ms")
    total = sum(s for s, _ in etcd_times)
    print(f"etcd: {len(etcd_times)} files, total {total:.3f} s, median "
          f"{statistics.median(s for s, _ in etcd_times) * 1e6:.0f} us, slowest "
          + ", ".join(f"{n} {s:.3f} s" for s, n in sorted(etcd_times, reverse=True)[:3]))

    kv_total = 0.0
    for name in ("c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad"):
        seconds, valid, _ = _time(corpus / "kv" / f"{name}.txt", "kv", True, args.timeout, args.repeat)
        kv_total += seconds
        print(f"kv {name:<8} partitioned    {valid!s:<8} {seconds * 1000:9.2f} ms")
    print(f"kv partitioned: total {kv_total:.3f} s")

    names = ["c10-ok", "c10-bad"] + ([] if args.no_c50 else ["c50-ok", "c50-bad"])
    for name in names:
        seconds, valid, reason, peak = _isolated(corpus / "kv" / f"{name}.txt", args.timeout)
        print(f"kv {name:<8} unpartitioned  {valid!s:<8} {seconds:9.3f} s  peak {peak:6.0f} MiB {reason}")


if __name__ == "__main__":
    main()
