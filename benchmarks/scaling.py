"""Campaign throughput by executor and worker count: schedules/s and scaling efficiency.

Usage: python benchmarks/scaling.py [--workload primary-backup] [--examples 600] [--strategy hypothesis]

Runs the correct variant (every schedule runs to the end and is checked) with a fixed seed on: one
process (inline), a process pool of 2, and a local Dask cluster of 2 and 4 single-threaded workers (when
Dask is installed). Executors are started and warmed up before timing, so the figures are steady-state
throughput. Efficiency is ``rate(n) / (n * rate(1))``; it cannot exceed ``cores / n`` on a machine with
fewer cores than workers.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from splitbrain.fuzz.campaign import CampaignSpec, run_campaign
from splitbrain.fuzz.executors import make_executor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workload", default="primary-backup")
    parser.add_argument("--examples", type=int, default=600)
    parser.add_argument("--strategy", default="hypothesis")
    args = parser.parse_args()
    configs = [("process", 1), ("process", 2), ("dask-local", 2), ("dask-local", 4)]
    base = None
    print(f"{args.workload}/correct, {args.examples} schedules, strategy {args.strategy}, "
          f"{os.cpu_count()} CPU(s)\n")
    print("| executor | workers | schedules/s | speed-up | efficiency |")
    print("|---|---|---|---|---|")
    for kind, workers in configs:
        try:
            handle = make_executor(kind, workers=workers)
        except Exception as exc:  # Dask not installed
            print(f"| {kind} | {workers} | skipped: {exc} | | |")
            continue
        with handle, tempfile.TemporaryDirectory() as store:
            spec = CampaignSpec(args.workload, "correct", seed=7, examples=args.examples, workers=workers,
                                store=store, strategy=args.strategy, shard_size=25)
            warm = CampaignSpec(args.workload, "correct", seed=1, examples=workers, workers=workers,
                                store=store, shard_size=1)
            run_campaign(warm, executor=handle.executor, parallelism=handle.parallelism, replay_first=False)
            report = run_campaign(spec, executor=handle.executor, parallelism=handle.parallelism,
                                  replay_first=False)
        rate = report.schedules / report.seconds
        base = base or rate
        print(f"| {kind} | {workers} | {rate:.1f} | {rate / base:.2f}x | {rate / (workers * base):.0%} |",
              flush=True)


if __name__ == "__main__":
    main()
