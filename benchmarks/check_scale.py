"""How the linearizability check scales with a history's length and concurrency (issue #19).

Usage: python benchmarks/check_scale.py [--sizes 1000,10000,100000,1000000] [--clients 5,20,50]
       [--kinds valid,invalid,stale] [--timeout S] [--dir DIR] [--parse MB] [--markdown]

Generates Jepsen-log cas-register histories — values 0-4, reads, writes and compare-and-sets in equal
parts, about 0.5% of the writes and cas crashing (``:info :timed-out``, pending forever; half of them
took effect) — at each size and number of clients, ``valid`` (linearizable by construction) and
``invalid`` (the same history with a few reads corrupted to a value never written, which the check
refutes before any search) and ``stale`` (the same history with, at a moment in the middle when no call
is open, a new process writing 7, then 8, then reading 7: each value was written, so only the search
can refute it, after ordering everything before). Each check
runs in a fresh interpreter, so that its peak resident memory (Linux's VmHWM) is its own; the table
gives the parse time, the check time, the verdict, the search states and that peak.

``--parse MB`` measures parsing instead: a cas-register history of about MB megabytes written as EDN,
JSONL and a Jepsen log, each parsed in a fresh interpreter (time and peak memory).

The histories are written under ``--dir`` (default: a temporary directory) and reused when present.
The generator is seeded: the same arguments give the same files.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VALUES = 5
CRASH_RATE = 0.005
CORRUPTED_READS = 3

# the child's peak resident memory (Linux), read last: what its parse and check needed at most
_PEAK = r"""
def peak_rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0
"""

_CHILD = _PEAK + r"""
import json, sys, time
from splitbrain.checker import check_linearizability
from splitbrain.histories import read_history
path, timeout = sys.argv[1], float(sys.argv[2])
t0 = time.perf_counter()
history = read_history(path)
t1 = time.perf_counter()
result = check_linearizability(history, "cas-register", timeout=timeout)
t2 = time.perf_counter()
print(json.dumps({"parse": t1 - t0, "check": t2 - t1, "valid": result.valid, "reason": result.reason,
                  "states": result.stats.states, "ops": len(history.operations), "peak": peak_rss()}))
"""

_PARSE_CHILD = _PEAK + r"""
import json, sys, time
from splitbrain.histories import read_history
t0 = time.perf_counter()
history = read_history(sys.argv[1], format=sys.argv[2])
t1 = time.perf_counter()
print(json.dumps({"parse": t1 - t0, "ops": len(history.operations), "peak": peak_rss()}))
"""


def generate(n: int, clients: int, seed: int) -> list[tuple[int, str, str, object]]:
    """``n`` operations of ``clients`` concurrent clients on one cas register, as events
    ``(process, type, f, value)`` in real-time order; linearizable by construction.

    Every client runs one operation at a time; each takes effect at a random moment between its call and
    its completion (the simulation advances one random client per step: call, take effect, complete).
    A crashed write or cas completes ``:info`` (and its client continues under a new process id); half of
    them take effect, half never do.
    """
    rng = random.Random(seed)
    register: int | None = None
    events: list[tuple[int, str, str, object]] = []
    pid = list(range(clients))
    next_pid = clients
    # per client: None (idle) or [f, value, phase, output, crashed]; phase 0 called, 1 took effect
    running: list[list[object] | None] = [None] * clients
    started = 0
    while started < n or any(r is not None for r in running):
        c = rng.randrange(clients)
        r = running[c]
        if r is None:
            if started == n:
                continue
            started += 1
            f = rng.choice(("read", "write", "cas"))
            value: object = None if f == "read" else rng.randrange(VALUES) if f == "write" else (
                rng.randrange(VALUES), rng.randrange(VALUES))
            crashed = f != "read" and rng.random() < CRASH_RATE
            running[c] = [f, value, 0, None, crashed]
            events.append((pid[c], "invoke", f, value))
        elif r[2] == 0:
            f, value, _, _, crashed = r
            r[2] = 1
            if crashed and rng.random() < 0.5:
                r[3] = "never"
                continue
            if f == "read":
                r[3] = register
            elif f == "write":
                register = value  # type: ignore[assignment]
                r[3] = "ok"
            else:
                old, new = value  # type: ignore[misc]
                if register == old:
                    register = new
                    r[3] = "ok"
                else:
                    r[3] = "fail"
        else:
            f, value, _, output, crashed = r
            running[c] = None
            if crashed:
                events.append((pid[c], "info", f, ":timed-out"))
                pid[c] = next_pid
                next_pid += 1
            elif f == "read":
                events.append((pid[c], "ok", f, output))
            else:
                events.append((pid[c], str(output), f, value))
    return events


def corrupt(events: list[tuple[int, str, str, object]], count: int, seed: int) -> list[tuple[int, str, str, object]]:
    """``events`` with ``count`` completed reads (from the middle of the history) changed to a value the
    register never held at all, so that no order explains them."""
    rng = random.Random(seed)
    reads = [i for i, (_, typ, f, _) in enumerate(events) if typ == "ok" and f == "read"]
    middle = reads[len(reads) // 4: 3 * len(reads) // 4] or reads
    out = list(events)
    for i in rng.sample(middle, min(count, len(middle))):
        p, typ, f, _ = out[i]
        out[i] = (p, typ, f, VALUES + 1)
    return out


def contradict(events: list[tuple[int, str, str, object]]) -> list[tuple[int, str, str, object]]:
    """``events`` with, at the middle-most moment no call is open, a new process writing ``VALUES + 2``,
    then ``VALUES + 3``, then reading ``VALUES + 2``: a stale read that no crashed call can explain."""
    open_calls, quiet = 0, []
    for i, (_, typ, _, _) in enumerate(events):
        open_calls += 1 if typ == "invoke" else -1
        if open_calls == 0:
            quiet.append(i + 1)
    middle = [i for i in quiet if len(events) // 4 <= i <= 3 * len(events) // 4] or quiet
    at = middle[len(middle) // 2]
    p = 1 + max(e[0] for e in events)
    old, new = VALUES + 2, VALUES + 3
    inserted = [(p, "invoke", "write", old), (p, "ok", "write", old), (p, "invoke", "write", new),
                (p, "ok", "write", new), (p, "invoke", "read", None), (p, "ok", "read", old)]
    return events[:at] + inserted + events[at:]


def _edn(value: object) -> str:
    if value is None:
        return "nil"
    if isinstance(value, tuple):
        return "[" + " ".join(_edn(v) for v in value) + "]"
    return str(value)


def write_log(path: Path, events: list[tuple[int, str, str, object]]) -> None:
    with path.open("w") as fh:
        for p, typ, f, value in events:
            fh.write(f"INFO  jepsen.util - {p}\t:{typ}\t:{f}\t{_edn(value)}\n")


def write_edn(path: Path, events: list[tuple[int, str, str, object]]) -> None:
    with path.open("w") as fh:
        for p, typ, f, value in events:
            fh.write(f"{{:type :{typ}, :f :{f}, :value {_edn(value)}, :process {p}}}\n")


def write_jsonl(path: Path, events: list[tuple[int, str, str, object]]) -> None:
    with path.open("w") as fh:
        for p, typ, f, value in events:
            v = list(value) if isinstance(value, tuple) else value
            if value == ":timed-out":
                v = None
            fh.write(json.dumps({"process": p, "type": typ, "f": f, "value": v}) + "\n")


def history_file(root: Path, n: int, clients: int, kind: str) -> Path:
    path = root / f"cas-{n}-c{clients}-{kind}.log"
    if not path.exists():
        events = generate(n, clients, seed=n * 1000 + clients)
        if kind == "invalid":
            events = corrupt(events, CORRUPTED_READS, seed=n + clients)
        elif kind == "stale":
            events = contradict(events)
        write_log(path, events)
    return path


def run_child(code: str, *args: str) -> dict[str, object]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}",
                "wall": time.perf_counter() - started}
    out: dict[str, object] = json.loads(done.stdout)
    out["wall"] = time.perf_counter() - started
    return out


def _mib(n: object) -> str:
    return f"{int(n) / 2**20:,.0f} MiB" if isinstance(n, int) else "?"


def scale(args: argparse.Namespace, root: Path) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    clients = [int(c) for c in args.clients.split(",")]
    kinds = args.kinds.split(",")
    header = ("| ops | clients | history | parse | check | verdict | states | peak RSS |"
              if args.markdown else f"{'ops':>9} {'cl':>3} {'kind':>8} {'parse':>8} {'check':>8}  verdict   "
              f"{'states':>10} {'peak':>10}")
    print(header)
    if args.markdown:
        print("|---:|---:|---|---:|---:|---|---:|---:|")
    for n in sizes:
        for c in clients:
            for kind in kinds:
                path = history_file(root, n, c, kind)
                r = run_child(_CHILD, str(path), str(args.timeout))
                if "error" in r:
                    print(f"{n:>9} {c:>3} {kind:>8}  error: {r['error']}", flush=True)
                    continue
                verdict = {True: "valid", False: "invalid"}.get(r["valid"], "unknown")  # type: ignore[call-overload]
                if verdict == "unknown":
                    verdict += f" ({r['reason']})"
                if args.markdown:
                    print(f"| {n:,} | {c} | {kind} | {r['parse']:.2f} s | {r['check']:.2f} s | {verdict} | "
                          f"{r['states']:,} | {_mib(r['peak'])} |", flush=True)
                else:
                    print(f"{n:>9} {c:>3} {kind:>8} {r['parse']:>7.2f}s {r['check']:>7.2f}s  {verdict:<9} "
                          f"{r['states']:>10,} {_mib(r['peak']):>10}", flush=True)


def parse_speed(args: argparse.Namespace, root: Path) -> None:
    target = args.parse * 10**6
    n = 1000
    events = generate(n, 5, seed=7)
    probe = root / "probe.edn"
    write_edn(probe, events)
    n = max(1000, int(n * target / probe.stat().st_size))  # the EDN file is the widest: size it to that
    events = generate(n, 5, seed=7)
    print(f"{'format':>10} {'size':>10} {'ops':>10} {'parse':>8} {'MB/s':>6} {'peak':>10}")
    for fmt, write, ext in (("edn", write_edn, "edn"), ("jsonl", write_jsonl, "jsonl"),
                            ("jepsen-log", write_log, "log")):
        path = root / f"parse-{n}.{ext}"
        if not path.exists():
            write(path, events)
        size = path.stat().st_size
        r = run_child(_PARSE_CHILD, str(path), fmt)
        if "error" in r:
            print(f"{fmt:>10} error: {r['error']}")
            continue
        print(f"{fmt:>10} {size / 1e6:>8.0f}MB {r['ops']:>10,} {r['parse']:>7.2f}s {size / 1e6 / r['parse']:>6.0f} "
              f"{_mib(r['peak']):>10}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--clients", default="5,20,50")
    parser.add_argument("--kinds", default="valid,invalid,stale")
    parser.add_argument("--timeout", type=float, default=120.0, help="per check (verdict unknown beyond it)")
    parser.add_argument("--dir", default=None, help="where the histories are written (and reused)")
    parser.add_argument("--parse", type=float, default=None, metavar="MB", help="measure parse speed instead")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.dir or tmp)
        root.mkdir(parents=True, exist_ok=True)
        if args.parse:
            parse_speed(args, root)
        else:
            scale(args, root)


if __name__ == "__main__":
    main()
