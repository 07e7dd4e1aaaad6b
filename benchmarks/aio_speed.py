"""What running unmodified asyncio code costs: aio-primary-backup against the callback primary-backup, and
the same asyncio server on simloom, side by side.

Usage: python benchmarks/aio_speed.py [--seeds N] [--repeat N] [--simloom-python PATH] [--seconds S]

Three measurements of the same system — a three-replica primary-backup register, three clients issuing
read / write / cas:

* ``primary-backup`` — the zoo's callback version (``Node`` handlers, one message per protocol message);
* ``aio-primary-backup`` — the asyncio TCP service (``splitbrain.aio``): every protocol message is a
  line of JSON on a TCP connection, so a message is a segment plus its share of acknowledgements, and
  every host step runs asyncio's own machinery (streams, tasks, futures);
* ``simloom`` — the very same server module (``src/splitbrain/impls/aio_primary_backup/server.py``
  imports only the standard library) on simloom's simulated hosts, run by ``benchmarks/aio_simloom.py``
  under a Python >= 3.12 that has simloom: ``--simloom-python``, else ``$SIMLOOM_PYTHON``, else the first
  ``python3.13``/``python3.12`` found (pyenv's too) that can import it. Skipped, and said so, when none.

Each is run for ``--seeds`` seeds without faults (the fault models differ between the tools; the engine's
cost is what is compared) and reported as trace steps per second (a splitbrain step; a simloom scheduler
step — not the same unit), completed operations per wall second, and virtual seconds simulated per wall
second: the last two are the comparable figures. Best of ``--repeat`` timings, as the machine is shared.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from splitbrain.sim import NO_FAULTS, World
from splitbrain.sim.loading import load_workload

ROOT = Path(__file__).resolve().parent.parent


def measure_splitbrain(name: str, seeds: int, repeat: int) -> dict[str, float]:
    workload = load_workload(name)
    tick = getattr(workload, "tick", 0.001)  # the callback zoo counts in abstract ticks; read them as ms
    best: dict[str, float] | None = None
    for _ in range(repeat):
        steps = ops = 0
        virtual = 0.0
        start = time.perf_counter()
        for seed in range(seeds):
            run = World(workload, seed=seed, faults=NO_FAULTS).run()
            steps += len(run.trace.steps)
            ops += sum(1 for o in run.history.operations if o.ok)
            virtual += run.world.time * tick
        wall = time.perf_counter() - start
        figures = {"wall": wall, "steps": steps, "ops": ops, "virtual": virtual}
        if best is None or wall < best["wall"]:
            best = figures
    assert best is not None
    return best


def find_simloom_python(given: str | None) -> str | None:
    candidates = [given] if given else []
    if os.environ.get("SIMLOOM_PYTHON"):
        candidates.append(os.environ["SIMLOOM_PYTHON"])
    for exe in ("python3.13", "python3.12"):
        found = shutil.which(exe)
        if found:
            candidates.append(found)
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3")), reverse=True)
    for exe in candidates:
        try:
            ok = subprocess.run([exe, "-c", "import simloom"], capture_output=True, timeout=60).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return exe
    return None


def measure_simloom(python: str, seeds: int, seconds: float, repeat: int) -> dict[str, float]:
    best: dict[str, float] | None = None
    for _ in range(repeat):
        done = subprocess.run([python, str(ROOT / "benchmarks/aio_simloom.py"), str(seeds), str(seconds)],
                              capture_output=True, text=True, check=True, timeout=1800)
        rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        figures = {key: float(sum(r[key] for r in rows)) for key in ("wall", "steps", "ops", "virtual")}
        if best is None or figures["wall"] < best["wall"]:
            best = figures
    assert best is not None
    return best


def line(name: str, f: dict[str, float]) -> str:
    wall = f["wall"]
    return (f"{name:<20} {f['steps'] / wall:>10,.0f} steps/s {f['ops'] / wall:>9,.0f} ops/s "
            f"{f['virtual'] / wall:>8.2f} virtual s/s   ({f['ops']:.0f} ops, {f['virtual']:.1f} virtual s, "
            f"{wall:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.5, help="virtual seconds per simloom run")
    parser.add_argument("--simloom-python", default=None)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {args.seeds} seeds, no faults, best of {args.repeat}")
    for name in ("primary-backup", "aio-primary-backup"):
        print(line(name, measure_splitbrain(name, args.seeds, args.repeat)), flush=True)
    python = find_simloom_python(args.simloom_python)
    if python is None:
        print("simloom              not measured: no Python >= 3.12 with simloom installed was found "
              "(pass --simloom-python or set SIMLOOM_PYTHON)")
        return
    version = subprocess.run([python, "-c", "import sys, simloom; print(sys.version.split()[0], simloom.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    figures = measure_simloom(python, args.seeds, args.seconds, args.repeat)
    print(line("simloom", figures) + f"  [Python/simloom {version}]")


if __name__ == "__main__":
    main()
