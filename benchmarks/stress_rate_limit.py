"""How often stress mode catches each limiter's ``check-then-act`` race with real threads, with and without noise.

For each target (``token-bucket``, ``leaky-bucket``), variant (``correct``, ``check-then-act``) and noise
setting, run ``--runs`` stress runs (``--calls`` calls from ``--threads`` threads, switch interval 1 µs)
and print, as a Markdown table, how many runs the checker flagged, the median run time and the median
time to check a history.

    .venv/bin/python benchmarks/stress_rate_limit.py [--runs 20] [--calls 2000] [--threads 8]
"""

from __future__ import annotations

import argparse
import statistics
import time

from splitbrain.live.stress import run_stress, stress_targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    print("| target | variant | noise | flagged runs | median run | median check | median admitted |")
    print("|---|---|---|---|---|---|---|")
    for target in stress_targets():
        for variant in ("correct", "check-then-act"):
            for noise in (True, False):
                flagged, runs, checks, admitted = 0, [], [], []
                for _ in range(args.runs):
                    began = time.perf_counter()
                    result = run_stress(target, variant, threads=args.threads, calls=args.calls, noise=noise)
                    checks.append(time.perf_counter() - began - result.seconds)
                    runs.append(result.seconds)
                    admitted.append(result.admitted)
                    flagged += result.valid is False
                print(
                    f"| {target} | {variant} | {'on' if noise else 'off'} | {flagged}/{args.runs} | "
                    f"{statistics.median(runs):.2f} s | {statistics.median(checks):.2f} s | "
                    f"{statistics.median(admitted):g} |", flush=True,
                )


if __name__ == "__main__":
    main()
