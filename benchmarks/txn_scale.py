"""The transaction checker at scale: list-append histories of 10k, 100k and 1M transactions.

Usage: python benchmarks/txn_scale.py [--sizes 10000,100000,1000000] [--variants valid,planted]
       [--consistency strict-serializable] [--seed 0]

For each size and variant a fresh process generates the history (``tests/txn_histories.generate``: ten
concurrent clients against a store that applies each transaction atomically when it completes — strict
serializable — with Jepsen's key rotation, 32 appends a key), builds the :class:`History`, and checks it;
``planted`` makes every 5,000th completion read a stale version of a key (dependency cycles) and every
20,000th fail after its appends were seen (G1a). Printed per run: the time to build the History from ops,
the check's wall-clock and CPU time, and the process's peak resident memory (generation and history
included, so it bounds what checking such a history costs). The Elle paper reports 55-73 s for 100k
transactions; the goals here are ≤ 10 s for 100k, ≤ 2 min for 1M, under 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

PLANTED = {"valid": (0, 0), "planted": (5_000, 20_000)}


def one(size: int, variant: str, consistency: str, seed: int) -> dict[str, object]:
    from splitbrain.checker.transactions import check_transactions
    from splitbrain.histories import History
    from txn_histories import generate

    stale, aborted = PLANTED[variant]
    ops = generate(size, stale_every=stale, aborted_every=aborted, seed=seed)
    started = time.perf_counter()
    history = History.from_ops(ops)
    built = time.perf_counter() - started
    del ops
    wall, cpu = time.perf_counter(), time.process_time()
    result = check_transactions(history, consistency)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "size": size, "variant": variant, "build": built, "wall": wall, "cpu": cpu,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "valid": result.valid,
        "types": list(result.anomaly_types), "edges": result.stats.get("edges"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--variants", default="valid,planted")
    parser.add_argument("--consistency", default="strict-serializable")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", nargs=2, metavar=("SIZE", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(int(args.one[0]), args.one[1], args.consistency, args.seed)))
        return
    load = os.getloadavg()[0]
    print(f"list-append histories checked at {args.consistency}; {os.cpu_count()} CPU(s), load {load:.1f}\n")
    print("| transactions | history | build History | check (wall) | check (CPU) | peak memory | verdict |")
    print("|---:|---|---:|---:|---:|---:|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        for variant in args.variants.split(","):
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(size), variant, "--consistency", args.consistency,
                 "--seed", str(args.seed)], capture_output=True, text=True, check=True)
            row = json.loads(out.stdout)
            verdict = {True: "valid", False: "invalid"}.get(row["valid"], "unknown")  # type: ignore[call-overload]
            if row["types"]:
                verdict += ": " + ", ".join(row["types"])  # type: ignore[arg-type]
            print(f"| {size:,} | {variant} | {row['build']:.1f} s | {row['wall']:.1f} s | {row['cpu']:.1f} s | "
                  f"{row['peak_mb']:,.0f} MB | {verdict} |", flush=True)


if __name__ == "__main__":
    main()
