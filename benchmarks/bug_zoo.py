"""How fast the fuzzer finds each bug variant of every workload in ``SEARCH``, and how small it shrinks it.

For each bug variant of each workload (and a few campaign seeds): run seeded schedules
(``RandomSource``) with the variant's search faults until one fails, then shrink that trace to a
1-minimal one. Prints, per variant, the median schedules and seconds to the first failure, the median
shrunk trace length (steps, start and quiesce included) and the check that caught it, as a Markdown table.

    .venv/bin/python benchmarks/bug_zoo.py [--campaigns 5] [--budget 3000] [--workload raft-kv] [--shrink-replays 500]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

from splitbrain import load_workload
from splitbrain.fuzz.schedule import ScheduleResult, run_schedule
from splitbrain.fuzz.shrink import shrink_trace
from splitbrain.sim import RandomSource
from splitbrain.sim.loading import available_workloads


def first_failure(
    workload_name: str, variant: str, start: int, budget: int
) -> tuple[int, float, ScheduleResult] | None:
    """(schedules run, seconds, failing result) of the first failing seed from ``start``, or None."""
    workload = load_workload(workload_name)
    # a variant without search settings (the newer, deeper ones) is searched with the workload's defaults
    faults, steps = workload.search.get(variant, (None, None))
    began = time.perf_counter()
    for n in range(budget):
        result = run_schedule(workload, variant, RandomSource(start + n), faults=faults, max_steps=steps)
        if result.verdict.failed:
            return n + 1, time.perf_counter() - began, result
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=5)
    parser.add_argument("--budget", type=int, default=3000)
    searched = sorted(e.name for e in available_workloads() if load_workload(e.name).search)
    parser.add_argument("--workload", choices=searched, action="append")
    parser.add_argument("--shrink-replays", type=int, default=500)
    args = parser.parse_args()
    print("| workload | variant | found | median schedules | median seconds | shrunk steps (median) | caught by |")
    print("|---|---|---|---|---|---|---|")
    for name in args.workload or sorted(searched, reverse=True):
        workload = load_workload(name)
        for variant in workload.bug_variants:
            runs: list[int] = []
            secs: list[float] = []
            shrunk: list[int] = []
            caught: Counter[str] = Counter()
            for campaign in range(args.campaigns):
                found = first_failure(name, variant, campaign * 100_000, args.budget)
                if found is None:
                    continue
                n, seconds, result = found
                runs.append(n)
                secs.append(seconds)
                signature = result.verdict.signature
                assert signature is not None
                caught[signature] += 1
                small = shrink_trace(workload, result.trace, signature, max_replays=args.shrink_replays)
                shrunk.append(small.after)
            found_in = f"{len(runs)}/{args.campaigns}"
            if runs:
                print(
                    f"| {name} | {variant} | {found_in} | {statistics.median(runs):g} | "
                    f"{statistics.median(secs):.2f} | {statistics.median(shrunk):g} | "
                    f"{', '.join(f'{k} ({v})' for k, v in caught.most_common())} |",
                    flush=True,
                )
            else:
                print(f"| {name} | {variant} | 0/{args.campaigns} | > {args.budget} | | | |", flush=True)


if __name__ == "__main__":
    main()
