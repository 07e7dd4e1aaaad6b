"""What a user's first campaign gets on every bug of the zoo: ``splitbrain fuzz W --variant V --time T``.

For each bug variant of each registered workload, run the default campaign (the portfolio strategy, the
workload's own faults and run length, as many worker processes as the CLI's ``--workers auto``: one per
usable CPU) with a time budget, for a few campaign seeds, and
print as a Markdown table: how many seeds found the bug, the median schedules and seconds to the first
failure, and the saved trace's length (steps, start and quiesce included) and deviations from the
default order (:mod:`splitbrain.fuzz.deviations`), medians over the seeds that found it; then what the
breadth-first search for a shorter trace (:mod:`splitbrain.fuzz.shortest`) did: the median steps it
started from (ddmin's and the deviations pass's trace), on how many seeds it found a shorter one, and
the median seconds it took.

    .venv/bin/python benchmarks/default_campaigns.py [--time 5] [--seeds 1,2,3] [--workload raft-kv ...]

``--per-seed`` prints, after each row, one line per seed that found the bug: steps before and after the
search, its candidates and seconds, and whether it covered its bound.

Seconds include shrinking only in the total column, not in "to find": the campaign's own statistics say
when the first failure was found.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from splitbrain import load_workload
from splitbrain.fuzz.campaign import CampaignSpec, run_campaign
from splitbrain.fuzz.executors import auto_workers
from splitbrain.sim.loading import available_workloads


def median(values: list[float]) -> str:
    return "-" if not values else f"{statistics.median(values):g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time", type=float, default=5.0, help="time budget per campaign (seconds)")
    parser.add_argument("--seeds", default="1,2,3", help="campaign seeds, comma-separated")
    parser.add_argument("--workload", action="append", help="only these workloads (repeatable)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes per campaign (default: the CLI's --workers auto, one per usable CPU)")
    parser.add_argument("--per-seed", action="store_true", help="also what the shortest-trace search did per seed")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    names = args.workload or sorted(e.name for e in available_workloads())
    workers = args.workers or auto_workers(None, CampaignSpec.shard_size)
    print(f"campaigns: splitbrain fuzz W --variant V --time {args.time:g} --seed S, S in {seeds}; "
          f"{workers} worker(s)\n")
    print("| workload | variant | found | schedules to find | seconds in all | steps | deviations "
          "| steps before search | search shortened | search seconds |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        workload = load_workload(name)
        for variant in workload.bug_variants:
            found = 0
            schedules: list[float] = []
            seconds: list[float] = []
            steps: list[float] = []
            deviations: list[float] = []
            searched: list[float] = []
            search_seconds: list[float] = []
            shortened = 0
            lines: list[str] = []
            for seed in seeds:
                with tempfile.TemporaryDirectory() as store:
                    began = time.perf_counter()
                    report = run_campaign(CampaignSpec(name, variant, seed=seed, seconds=args.time, store=store,
                                                        workers=workers))
                    took = time.perf_counter() - began
                if not report.failures:
                    continue
                found += 1
                failure = report.failures[0]
                schedules.append(report.schedules)
                seconds.append(round(took, 1))
                steps.append(failure.steps_shrunk)
                if failure.deviations is not None:
                    deviations.append(failure.deviations)
                if failure.shortest is not None:
                    searched.append(failure.shortest["before"])
                    search_seconds.append(failure.shortest["seconds"])
                    shortened += failure.shortest["after"] < failure.shortest["before"]
                    s = failure.shortest
                    lines.append(f"    seed {seed}: {s['before']} -> {s['after']} steps, {s['candidates']} candidates, "
                                 f"{s['seconds']} s, {'bound covered' if s['complete'] else s['reason']}")
            print(f"| {name} | {variant} | {found}/{len(seeds)} | {median(schedules)} | {median(seconds)} | "
                  f"{median(steps)} | {median(deviations)} | {median(searched)} | {shortened}/{found} | "
                  f"{median(search_seconds)} |", flush=True)
            if args.per_seed:
                print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
