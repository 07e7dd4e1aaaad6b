"""The portfolio's kingmaker arm alone: schedules to the first failure, per seed, and where its cut falls.

Usage: python benchmarks/kingmaker.py [--workload raft-reconfig] [--variant config-before-noop]
                                      [--seeds 1-8] [--runs 200] [--cut first|random]

Runs the ``kingmaker`` arm alone (``portfolio_search(..., arms=("kingmaker",))``: what the portfolio runs
when it picks that arm) on each seed, up to ``--runs`` schedules, and prints the schedules to the first
failure per seed and their total. ``--cut random`` moves the arm's cut from the first request to the moving
cut's start (a random moment of the run's first third), the comparison in docs/explanation/search.md.
This reaches into the portfolio's private parts on purpose, as benchmarks/aim_policies.py does.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from splitbrain import load_workload
from splitbrain.fuzz import portfolio as pf
from splitbrain.fuzz.stats import StatsObserver
from splitbrain.fuzz.strategies import process_independent_hypothesis


def seeds_of(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


ARM_PLAN = pf._Portfolio._kingmaker


def random_cut(search: pf._Portfolio) -> pf.Plan:
    """The arm's plan with its cut at the moving cut's start instead of the first request."""
    plan = ARM_PLAN(search)
    cut = dataclasses.replace(search._spaced_aim("isolate", "requestee", "moving cut"), times=1,
                              name="the moving cut's first cut")
    return pf.Plan(plan.arm, plan.steps, plan.seed, plan.splices, (cut, plan.aims[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="raft-reconfig")
    parser.add_argument("--variant", default="config-before-noop")
    parser.add_argument("--seeds", default="1-8", help="a seed or a range, e.g. 1-36")
    parser.add_argument("--runs", type=int, default=200, help="most schedules per seed")
    parser.add_argument("--cut", choices=("first", "random"), default="first")
    args = parser.parse_args()
    if args.cut == "random":
        pf._Portfolio._kingmaker = random_cut  # type: ignore[method-assign]
    workload = load_workload(args.workload)
    total = missed = 0
    started = time.perf_counter()
    per_seed = []
    for seed in seeds_of(args.seeds):
        observer = StatsObserver(workload)
        with process_independent_hypothesis():
            outcome = pf.portfolio_search(observer.wrap(workload), args.variant, observer=observer,
                                          seed_value=seed, examples=args.runs, arms=("kingmaker",))
        found = outcome.failure is not None
        per_seed.append(str(outcome.schedules) if found else f">{outcome.schedules}")
        total += outcome.schedules
        missed += not found
    seconds = time.perf_counter() - started
    print(f"{args.workload}/{args.variant}, kingmaker arm alone, cut at the {args.cut} "
          f"{'request' if args.cut == 'first' else 'moment'}, seeds {args.seeds}: " + ", ".join(per_seed))
    print(f"total {total} schedules, {missed} seed(s) without a failure in {args.runs}, {seconds:.1f} s")


if __name__ == "__main__":
    main()
