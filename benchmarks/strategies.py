"""Exploration strategies compared on the bug zoo: schedules and seconds to the first failure.

Usage: python benchmarks/strategies.py [--seeds 5] [--budget 5] [--strategy portfolio ...]
                                       [--workload raft-kv ...] [--variant commit-old-term ...]

For every bug variant registered under the ``splitbrain.workloads`` entry points (or those named) and
every strategy (the default portfolio, hypothesis, random, pct at depth 3, swarm), runs what
``splitbrain fuzz W --variant V --time BUDGET --seed S --strategy X --no-shrink`` runs — a one-worker
campaign with the workload's ordinary defaults (faults, run length, shard size) — until the first failure,
for seeds 1..n. Prints a Markdown table of the median schedules and seconds to the first failure and how
many seeds found it. A miss counts as the whole budget, so a median over seeds that missed is a lower
bound (marked ``>=``). Seconds are wall-clock on this machine; schedules do not depend on it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

from splitbrain import load_workload
from splitbrain.fuzz.campaign import CampaignSpec, run_campaign
from splitbrain.fuzz.strategies import STRATEGIES
from splitbrain.sim.loading import available_workloads


def measure(name: str, variant: str, strategy: str, seed: int, budget: float, depth: int) -> tuple[bool, int, float]:
    """(found, schedules run, seconds) of one campaign."""
    with tempfile.TemporaryDirectory() as store:
        report = run_campaign(CampaignSpec(
            name, variant, seed=seed, seconds=budget, store=store, shrink=False, strategy=strategy, depth=depth,
        ), replay_first=False)
    return bool(report.failures), report.schedules, report.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="campaign seeds 1..n")
    parser.add_argument("--budget", type=float, default=5.0, help="seconds per campaign")
    parser.add_argument("--depth", type=int, default=3, help="PCT depth")
    parser.add_argument("--strategy", action="append", choices=STRATEGIES, help="(repeatable) default: all")
    parser.add_argument("--workload", action="append", help="(repeatable) default: every registered one")
    parser.add_argument("--variant", action="append", help="(repeatable) default: every bug variant")
    args = parser.parse_args()
    strategies = args.strategy or list(STRATEGIES)
    print("| workload / bug | " + " | ".join(strategies) + " |")
    print("|---|" + "---|" * len(strategies))
    for name in args.workload or [e.name for e in available_workloads()]:
        workload = load_workload(name)
        for variant in workload.bug_variants:
            if args.variant and variant not in args.variant:
                continue
            cells = []
            for strategy in strategies:
                runs = [measure(name, variant, strategy, seed, args.budget, args.depth)
                        for seed in range(1, args.seeds + 1)]
                found = sum(f for f, _, _ in runs)
                bound = "" if found == len(runs) else ">="
                schedules = statistics.median(n for _, n, _ in runs)
                seconds = statistics.median(s for _, _, s in runs)
                cells.append(f"{bound}{schedules:g} / {bound}{seconds:.1f} s ({found}/{len(runs)})")
            print(f"| {name} / {variant} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
