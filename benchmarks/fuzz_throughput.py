"""Schedules per second of a fuzz campaign with 1 and 2 worker processes.

Usage: python benchmarks/fuzz_throughput.py [--workload primary-backup] [--examples 800]

Runs the correct variant (so every schedule runs to the end and is checked) with a fixed seed and prints
schedules/s per worker count and the scaling efficiency.
"""

from __future__ import annotations

import argparse
import tempfile

from splitbrain.fuzz.campaign import CampaignSpec, run_campaign


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workload", default="primary-backup")
    parser.add_argument("--examples", type=int, default=800)
    args = parser.parse_args()
    rates = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as store:
            report = run_campaign(CampaignSpec(
                args.workload, "correct", seed=7, examples=args.examples, workers=workers, store=store
            ))
        rates[workers] = report.schedules / report.seconds
        print(f"{args.workload}: {workers} worker(s): {report.schedules} schedules in {report.seconds:.1f} s "
              f"= {rates[workers]:.1f} schedules/s")
    print(f"scaling efficiency with 2 workers: {rates[2] / (2 * rates[1]):.0%}")


if __name__ == "__main__":
    main()
