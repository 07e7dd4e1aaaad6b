"""Simulated events per second: a 5-node primary-backup world with every fault, for a fixed step count.

Usage: python benchmarks/sim_throughput.py [--steps N] [--seeds K] [--variant NAME]

Each seed is a fresh world run for ``--steps`` chosen steps plus its quiesce phase; every step (message
delivery, timer, client action, fault, time advance) counts as one event. Invariants are checked after
each step, as in a campaign; history checking is not included.
"""

from __future__ import annotations

import argparse
import time

from splitbrain.impls.primary_backup.register import PrimaryBackupWorkload
from splitbrain.sim import World


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="chosen steps per world (default 20000)")
    parser.add_argument("--seeds", type=int, default=5, help="worlds to run (default 5)")
    parser.add_argument("--variant", default="correct")
    args = parser.parse_args()

    workload = PrimaryBackupWorkload(node_count=5, clients=5)
    events = 0
    started = time.perf_counter()
    for seed in range(args.seeds):
        result = World(workload, args.variant, seed=seed, max_steps=args.steps).run()
        events += len(result.trace.steps)
    seconds = time.perf_counter() - started
    print(
        f"5-node {workload.name}/{args.variant}: {events} events in {seconds:.2f} s "
        f"= {events / seconds:,.0f} simulated events/s ({args.seeds} worlds of {args.steps} steps)"
    )


if __name__ == "__main__":
    main()
