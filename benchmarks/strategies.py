"""Exploration strategies compared on the bug zoo: schedules and seconds to the first failure.

Usage: python benchmarks/strategies.py [--seeds 3] [--budget 8]

For every bug variant registered under the ``splitbrain.workloads`` entry points and every strategy (hypothesis,
random, pct at depth 3, swarm), runs a one-worker campaign without shrinking until the first failure,
within a per-run budget of ``--budget`` seconds, for seeds 0..n-1 (shards of 25 schedules). Prints
a Markdown table of the median schedules and seconds to the first failure and how many seeds found it.
A miss counts as the budget (so the median is a lower bound when a strategy misses).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

from splitbrain import load_workload
from splitbrain.fuzz.campaign import CampaignSpec, run_campaign
from splitbrain.sim.loading import available_workloads

STRATEGIES = ("hypothesis", "random", "pct", "swarm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=8.0, help="seconds per run")
    parser.add_argument("--depth", type=int, default=3)
    args = parser.parse_args()
    print("| workload / bug | " + " | ".join(STRATEGIES) + " |")
    print("|---|" + "---|" * len(STRATEGIES))
    for name in (e.name for e in available_workloads()):
        workload = load_workload(name)
        for variant in workload.bug_variants:
            cells = []
            for strategy in STRATEGIES:
                schedules, seconds, found = [], [], 0
                for seed in range(args.seeds):
                    with tempfile.TemporaryDirectory() as store:
                        report = run_campaign(CampaignSpec(
                            name, variant, seed=seed, seconds=args.budget, store=store, shrink=False,
                            strategy=strategy, depth=args.depth, shard_size=25,
                        ), replay_first=False)
                    found += bool(report.failures)
                    schedules.append(report.schedules)
                    seconds.append(report.seconds)
                cells.append(f"{statistics.median(schedules):g} / {statistics.median(seconds):.2f} s"
                             f" ({found}/{args.seeds})")
            print(f"| {name} / {variant} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
