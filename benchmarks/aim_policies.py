"""Why the portfolio's moving cut: one aimed policy, with and without drawn heals, short and long gaps.

Usage: python benchmarks/aim_policies.py [--workload raft-kv] [--variant commit-old-term] [--runs 300]
                                         [--seed 1]

Runs ``--runs`` schedules of one policy — ``isolate`` aimed at the node that just took a client's request,
fired two to four times, each at least a gap after the last, over no drawn faults — in four settings:
drawn heals on or off (:func:`splitbrain.fuzz.portfolio.moving_isolation`), and the least gap drawn from
1/8-1/2 of a run (the aimed arm's old gaps) or from 1/50-1/10 of one. Prints how many schedules failed.
The schedules come from the portfolio's own machinery (``_Portfolio``: the shard's generator, its learned
run length) so that they are what the arms run; this reaches into the module's private parts on purpose.
"""

from __future__ import annotations

import argparse
import time

from splitbrain import load_workload
from splitbrain.fuzz import portfolio as pf
from splitbrain.fuzz.schedule import history_checks
from splitbrain.fuzz.stats import StatsObserver
from splitbrain.sim import FaultConfig

#: (heals, least gap from, to: a share of the run, as written, as a fraction)
SETTINGS = (("drawn heals", "1/8", "1/2"), ("drawn heals", "1/50", "1/10"), ("no drawn heals", "1/8", "1/2"),
            ("no drawn heals", "1/50", "1/10"))


def share(fraction: str) -> float:
    top, bottom = fraction.split("/")
    return int(top) / int(bottom)


def failures(workload_name: str, variant: str, runs: int, seed: int, heals: bool, low: float, high: float) -> int:
    """How many of ``runs`` schedules of the policy fail."""
    workload = load_workload(workload_name)
    observer = StatsObserver(workload)
    search = pf._Portfolio(observer.wrap(workload), observer, variant, seed=seed,
                           base=FaultConfig.coerce(workload.faults), steps=workload.max_steps,
                           checks=history_checks(workload), arms=pf.ARMS)
    found = 0
    for _ in range(runs):
        rng, horizon = search.rng, search.horizon
        mix = pf.quiet_mix(search.base) if heals else pf.moving_isolation(pf.quiet_mix(search.base))
        schedule_seed = search._seed()
        spaced = pf._Spaced(rng.randrange(horizon // 3 + 1), rng.randrange(int(horizon * low), int(horizon * high) + 1))
        aim = pf.Aim("isolate", pf._requestee, pf.when(pf._took_request, "took_request") & pf.when(spaced, "spaced"),
                     times=rng.choice((2, 3, 4)), name="benchmark policy")
        plan = pf.Plan("aimed", search.steps, schedule_seed, ((0, schedule_seed, mix),), (aim,))
        result, marks = search.run(plan)
        search.learn("aimed", plan, result, marks)
        found += result.verdict.signature is not None
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="raft-kv")
    parser.add_argument("--variant", default="commit-old-term")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"{args.workload}/{args.variant}: isolate the requestee 2-4 times, no drawn faults, {args.runs} "
          f"schedules, seed {args.seed}\n")
    print("| heals | least gap (share of a run) | failing schedules | seconds |")
    print("|---|---|---:|---:|")
    for label, low, high in SETTINGS:
        started = time.perf_counter()
        found = failures(args.workload, args.variant, args.runs, args.seed, label == "drawn heals", share(low),
                         share(high))
        print(f"| {label} | {low}-{high} | {found} | {time.perf_counter() - started:.1f} |", flush=True)


if __name__ == "__main__":
    main()
