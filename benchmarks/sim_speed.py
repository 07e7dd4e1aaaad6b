"""How fast the simulator runs: steps/s and deliveries/s per workload, and where the time goes.

Usage:
    python benchmarks/sim_speed.py [--repeat N] [--scale X] [--only NAME,...]   # timings, best of N
    python benchmarks/sim_speed.py --profile NAME                              # where NAME's time goes
    python benchmarks/sim_speed.py --instructions [--only NAME,...]            # instructions per step

Workloads:

* ``ping-pong`` — two hosts bouncing one message, no clients, no faults: the scenario the Python
  simulation peers (simloom, detangle, seedloop, simloop) were compared on in issue #22. Every step is a
  delivery or a time advance, so this measures the engine's own overhead.
* the zoo — ``raft-kv``, ``primary-backup``, ``paxos``, ``bank-2pc``, ``gossip-kv``, ``crdt-counter``
  and ``rate-limit-cluster`` with their own faults, clients and invariants, 40 seeds each (their node
  code and invariant checks are timed with the engine, as in a campaign; checking the history is not).

A *step* is a trace step (a delivery, a timer, a client action, a fault, a time advance); a *delivery*
hands a message to a node or a client. Timings are CPU seconds of this process, the best of
``--repeat`` runs, each started from a clean heap (``gc.collect()`` first, so that no run pays for
collecting the previous one's worlds): on a shared machine the wall clock also counts the time others
held the CPU, and the best run is the least disturbed one. ``--instructions`` counts the instructions
each step costs with valgrind's callgrind (the difference between running every seed and running one,
over the difference in steps): slow, but the same on any machine however loaded, so it compares two
versions exactly (it does not see what memory costs, the garbage collector's passes over the heap
above all, so CPU time gains less).

To compare two versions, run this same file with ``PYTHONPATH`` pointing at the other version's
``src`` directory: it uses only ``World``, ``Workload``, ``Node`` and ``load_workload``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from splitbrain.sim import NO_FAULTS, Node, Workload, World
from splitbrain.sim.loading import load_workload


class Pinger(Node):
    """Answers every ball with the next one; the last node to start serves the first ball."""

    def on_start(self) -> None:
        if self.id == self.nodes[-1]:
            self.send(self.nodes[0], 0)

    def on_message(self, src: str, msg: Any) -> None:
        self.send(src, msg + 1)


class PingPong(Workload):
    name = "ping-pong"
    model = "register"
    variants = {"correct": Pinger}
    node_count = 2
    clients = 0
    faults = NO_FAULTS
    delay = (1, 1)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], Workload]
    seeds: int
    max_steps: int | None  # None: the workload's own


CASES = [
    Case("ping-pong", PingPong, 1, 200_000),
    *(Case(name, (lambda n=name: load_workload(n)), 40, None) for name in (
        "raft-kv", "primary-backup", "paxos", "bank-2pc", "gossip-kv", "crdt-counter", "rate-limit-cluster",
    )),
]


def run_case(case: Case, workload: Workload, seeds: int, steps: int | None) -> tuple[int, int, float]:
    """``(steps, deliveries, CPU seconds)`` of running ``seeds`` seeds of ``case``: the seconds of building and
    running the worlds, not of counting their steps afterwards."""
    total = deliveries = 0
    spent = 0.0
    for seed in range(seeds):
        started = time.process_time()
        trace = World(workload, seed=seed, max_steps=steps).run().trace
        # World.run pauses the cyclic collector: the pass it defers comes with the next allocation after
        # it, here, and is part of what the run costs (this is that pass, a young-generation one)
        gc.collect(0)
        spent += time.process_time() - started
        total += len(trace.steps)
        deliveries += sum(1 for s in trace.steps if s.kind == "deliver")
    return total, deliveries, spent


def _timed(case: Case, workload: Workload, seeds: int, steps: int | None) -> tuple[int, int, float]:
    """:func:`run_case` from a clean heap: the worlds of the previous run (cyclic garbage, a 200,000-step
    ping-pong's included) are collected first, not billed to this one by its garbage collections."""
    gc.collect()
    return run_case(case, workload, seeds, steps)


def sizes(case: Case, scale: float) -> tuple[int, int | None]:
    """``(seeds, max_steps)`` for ``case`` at ``scale``."""
    if case.seeds == 1:  # one long run: scale its length
        return 1, max(1000, round((case.max_steps or 0) * scale))
    return max(1, round(case.seeds * scale)), case.max_steps


def timings(cases: list[Case], repeat: int, scale: float) -> None:
    print(f"{'workload':<20} {'steps':>9} {'steps/s':>10} {'deliveries/s':>13}  (best of {repeat}, CPU time)")
    for case in cases:
        workload = case.build()  # loading it (entry points, imports) is not what is measured
        seeds, steps = sizes(case, scale)
        best = min((_timed(case, workload, seeds, steps) for _ in range(repeat)), key=lambda t: t[2])
        total, deliveries, seconds = best
        print(f"{case.name:<20} {total:>9} {total / seconds:>10,.0f} {deliveries / seconds:>13,.0f}")


def _layer(filename: str) -> str:
    path = filename.replace(os.sep, "/")
    for marker, name in (("/splitbrain/impls/", "node code (the zoo) and its invariants"),
                         ("/splitbrain/sim/", "the simulator (splitbrain.sim)"),
                         ("/splitbrain/histories/", "recording the history (splitbrain.histories)"),
                         ("/random.py", "the RNG (random)"), ("benchmarks/", "node code (the benchmark)")):
        if marker in path:
            return name
    return "the standard library and builtins" if path.startswith(("~", "<")) or "python3" in path else "other"


def profile(case: Case, scale: float, top: int) -> None:
    workload = case.build()
    seeds, steps = sizes(case, scale)
    run_case(case, workload, 1, 200)  # warm up: imports and caches are not what is measured
    prof = cProfile.Profile()
    total, _, _ = prof.runcall(run_case, case, workload, seeds, steps)
    stats = pstats.Stats(prof)
    layers: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        layers[_layer(filename)] += own
    whole = sum(layers.values()) or 1.0
    print(f"{case.name}: {total} steps; own time by layer (cProfile, which inflates calls evenly):")
    for name, own in sorted(layers.items(), key=lambda kv: -kv[1]):
        print(f"  {100 * own / whole:5.1f}%  {name}")
    print()
    stats.sort_stats("tottime").print_stats(top)


def _count_steps(name: str, seeds: int, steps: int | None) -> None:
    """The child side of --instructions: run and print the number of steps."""
    case = next(c for c in CASES if c.name == name)
    workload = case.build()
    World(workload, seed=seeds + 1000, max_steps=min(steps or 400, 200)).run()  # warm up
    print("STEPS", run_case(case, workload, seeds, steps)[0])


def _callgrind(name: str, seeds: int, steps: int | None) -> tuple[int, int]:
    args = [sys.executable, os.path.abspath(__file__), "--count-steps", name, str(seeds), str(steps or 0)]
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *args],
                          capture_output=True, text=True, check=True)
    counted = re.search(r"STEPS (\d+)", done.stdout)
    refs = re.search(r"refs:\s+([\d,]+)", done.stderr)
    assert counted and refs, done.stderr[-500:]
    return int(counted.group(1)), int(refs.group(1).replace(",", ""))


def instructions(cases: list[Case], scale: float) -> None:
    if shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind (callgrind) on the PATH")
    print(f"{'workload':<20} {'instructions/step':>18}  (callgrind: all seeds minus one seed)")
    for case in cases:
        seeds, steps = sizes(case, scale)
        small_seeds, small_steps = (1, max(1000, (steps or 0) // 20)) if case.seeds == 1 else (1, steps)
        few, few_ir = _callgrind(case.name, small_seeds, small_steps)
        many, many_ir = _callgrind(case.name, seeds, steps)
        print(f"{case.name:<20} {(many_ir - few_ir) // max(1, many - few):>18,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timings per workload; the best is shown")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every workload's size")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--profile", default=None, help="profile this workload instead of timing")
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    parser.add_argument("--instructions", action="store_true", help="count instructions per step (valgrind)")
    parser.add_argument("--count-steps", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count_steps:
        name, seeds, steps = args.count_steps
        _count_steps(name, int(seeds), int(steps) or None)
        return
    chosen = [c for c in CASES if not args.only or c.name in args.only.split(",")]
    if args.profile is not None:
        profile(next(c for c in CASES if c.name == args.profile), args.scale, args.top)
    elif args.instructions:
        instructions(chosen, args.scale)
    else:
        timings(chosen, args.repeat, args.scale)


if __name__ == "__main__":
    main()
