"""How short the consensus bugs shrink when the shrinker may run to a 1-minimal trace, and how many replays
that takes.

For each bug variant of ``raft-kv`` and ``paxos`` and each campaign (the seeds ``benchmarks/bug_zoo.py``
uses: seeded schedules from ``campaign * 100000`` with the variant's ``SEARCH`` faults), find the first
failure, then shrink it with ``shrink_trace`` and a replay budget (default 3,000). Prints, per variant, the
found and shrunk lengths (median and max, steps with start and quiesce), the replays spent (median and
max), how many shrinks ended 1-minimal, and the shrink seconds (median), as a Markdown table.

    .venv/bin/python benchmarks/shrink_minimal.py [--campaigns 5] [--replays 3000] [--workload raft-kv]
"""

from __future__ import annotations

import argparse
import statistics

from splitbrain import load_workload
from splitbrain.fuzz.schedule import run_schedule
from splitbrain.fuzz.shrink import ShrinkResult, shrink_trace
from splitbrain.impls.paxos.register import SEARCH as PAXOS_SEARCH
from splitbrain.impls.raft.workload import SEARCH as RAFT_SEARCH
from splitbrain.sim import RandomSource

SEARCH = {"raft-kv": RAFT_SEARCH, "paxos": PAXOS_SEARCH}


def shrink_campaign(name: str, variant: str, start: int, budget: int, replays: int) -> ShrinkResult | None:
    """The shrink of the first failure from seed ``start`` (None if none within ``budget`` schedules)."""
    workload = load_workload(name)
    faults, steps = SEARCH[name][variant]
    for seed in range(start, start + budget):
        result = run_schedule(workload, variant, RandomSource(seed), faults=faults, max_steps=steps)
        signature = result.verdict.signature
        if signature is not None:
            return shrink_trace(workload, result.trace, signature, max_replays=replays)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=5)
    parser.add_argument("--budget", type=int, default=3000, help="schedules per campaign to find the bug")
    parser.add_argument("--replays", type=int, default=3000, help="shrink replay budget")
    parser.add_argument("--workload", choices=sorted(SEARCH), action="append")
    args = parser.parse_args()
    print("| workload | variant | found steps (median / max) | shrunk steps (median / max) | "
          "replays (median / max) | 1-minimal | shrink seconds (median) |")
    print("|---|---|---|---|---|---|---|")
    for name in args.workload or sorted(SEARCH, reverse=True):
        for variant in load_workload(name).bug_variants:
            shrinks: list[ShrinkResult] = []
            for campaign in range(args.campaigns):
                small = shrink_campaign(name, variant, campaign * 100_000, args.budget, args.replays)
                if small is not None:
                    shrinks.append(small)
            if not shrinks:
                print(f"| {name} | {variant} | not found | | | | |", flush=True)
                continue

            def pair(values: list[int]) -> str:
                return f"{statistics.median(values):g} / {max(values)}"

            print(
                f"| {name} | {variant} | {pair([s.before for s in shrinks])} | {pair([s.after for s in shrinks])} | "
                f"{pair([s.replays for s in shrinks])} | {sum(s.minimal for s in shrinks)}/{len(shrinks)} | "
                f"{statistics.median(s.seconds for s in shrinks):.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
