"""Sample histories and failures for the report tests, the screenshots and the rendering benchmark.

A test fixture, not part of the package: ``scripts/screenshots.py`` and ``benchmarks/report_render.py``
import it from here.

:func:`register_history` simulates clients of a correct read/write register: each operation takes
effect at its completion, so the history is linearizable; ``bad_read_at`` (a fraction of the way in)
makes it not: at a moment past that point when no other call is open, a read fixes the value, and the
reader's next read returns an older value that no crashed write wrote and no later write writes. That
value was written, so only the search refutes it and the report shows its longest prefix (a value never
written is refuted before any search). A few operations fail or time out
(``info``), and a partition and a crash are recorded as nemesis events, so every element of the timeline
appears. Times are simulated ticks; ``clock_origin`` and ``clock_step`` turn them into a real clock's
readings (``time.monotonic_ns()`` of a server up for hours: trillions of nanoseconds).
"""

from __future__ import annotations

import random
from typing import Any

import msgspec

from splitbrain.histories.history import History
from splitbrain.histories.op import Op


def register_history(
    operations: int, *, processes: int = 8, seed: int = 0, bad_read_at: float | None = None,
    faults: bool = True, info_rate: float = 0.015, clock_origin: int = 0, clock_step: int = 1,
) -> History:
    """A register history of about ``operations`` operations (see the module docstring)."""
    rng = random.Random(seed)
    ops: list[Op] = []
    value: int | None = None
    pending: dict[int, tuple[str, int | None]] = {}
    live = list(range(processes))
    next_process = processes
    started = 0
    bad_done = bad_read_at is None
    stale: int | None = None  # the value of the bad read, once chosen
    stale_reader: int | None = None  # the process whose next read returns it
    t = 0
    fault_plan = {operations // 3: ("partition", [["n1"], ["n2", "n3"]]), operations // 2: ("heal", None),
                  (2 * operations) // 3: ("crash", "n2"), (3 * operations) // 4: ("restart", "n2")}
    while started < operations or pending:
        t += rng.randint(1, 3)
        idle = [p for p in live if p not in pending]
        if started < operations and idle and (not pending or rng.random() < 0.5):
            p = rng.choice(idle)
            if rng.random() < 0.5:
                f, arg = "write", rng.randint(0, 9)
                if arg == stale:
                    arg = (arg + 1) % 10  # the stale value is never written again
            else:
                f, arg = "read", None
            pending[p] = (f, arg)
            ops.append(Op(process=p, type="invoke", f=f, value=arg, time=t))
            if faults and started in fault_plan:
                kind, what = fault_plan.pop(started)
                ops.append(Op(process="nemesis", type="info", f=kind, value=what, time=t))
            started += 1
            continue
        p = rng.choice(sorted(pending))
        f, arg = pending.pop(p)
        roll = rng.random()
        if roll < 0.03:
            ops.append(Op(process=p, type="fail", f=f, value=arg, time=t))
        elif roll < 0.03 + info_rate and f == "write":
            ops.append(Op(process=p, type="info", f=f, value=arg, time=t))  # unknown: it did take effect
            value = arg
            live[live.index(p)] = next_process
            next_process += 1
        elif f == "write":
            value = arg
            ops.append(Op(process=p, type="ok", f=f, value=arg, time=t))
        elif p == stale_reader:
            ops.append(Op(process=p, type="ok", f=f, value=stale, time=t))
            stale_reader, bad_done = None, True
        else:
            ops.append(Op(process=p, type="ok", f=f, value=value, time=t))
            if not bad_done and stale is None and not pending and started >= operations * (bad_read_at or 0):
                # p's read, with no call open, pinned the value; its next read returns an older value that
                # no crashed write wrote and no later write writes: no order explains it, yet it was
                # written, so only the search can tell
                unknown = {o.value for o in ops if o.type == "info" and o.f == "write"}
                older = sorted({o.value for o in ops if o.type == "ok" and o.f == "write"} - unknown - {value})
                if older:
                    stale, stale_reader = older[0], p
    if clock_origin or clock_step != 1:
        ops = [msgspec.structs.replace(op, time=clock_origin + (op.time or 0) * clock_step) for op in ops]
    return History.from_ops(ops, source=f"sample register history ({operations} operations, seed {seed})")


def failure_record(seed: int = 5, *, shrink: bool = False) -> dict[str, Any]:
    """A failure record exactly as a campaign saves one: primary-backup's ``early-ack`` bug, found by the
    seeded random schedule ``seed`` (5 finds it at once), shrunk first when ``shrink`` (a few seconds)."""
    from splitbrain.fuzz.saved import failure_record as make_record
    from splitbrain.fuzz.schedule import run_schedule
    from splitbrain.fuzz.shrink import shrink_trace
    from splitbrain.sim.loading import load_workload
    from splitbrain.sim.scheduler import RandomSource

    workload = load_workload("primary-backup")
    found = run_schedule(workload, "early-ack", RandomSource(seed))
    signature = found.verdict.signature
    if signature is None:
        raise ValueError(f"seed {seed} does not find the early-ack bug; try another")
    result = found
    if shrink:
        shrunk = shrink_trace(workload, found.trace, signature).result
        if shrunk.verdict.signature == signature:
            result = shrunk
    stage = "shrunk" if shrink else "found"
    return make_record(workload, seed, result, stage=stage, steps_found=len(found.trace.steps))


def eventual_failure_record(seed: int = 0) -> dict[str, Any]:
    """A saved failure of an eventually consistent workload: crdt-counter's ``sum-merge`` bug under its
    search settings, found by the seeded random schedule ``seed`` (0 finds it at once). Its trace ends
    with the settle phase the views fold: a hundred-odd steps of anti-entropy after ``quiesce``."""
    from splitbrain.fuzz.saved import failure_record as make_record
    from splitbrain.fuzz.schedule import run_schedule
    from splitbrain.sim.loading import load_workload
    from splitbrain.sim.scheduler import RandomSource

    workload = load_workload("crdt-counter")
    faults, max_steps = workload.search_settings("sum-merge")
    found = run_schedule(workload, "sum-merge", RandomSource(seed), faults=faults, max_steps=max_steps)
    if found.verdict.signature is None:
        raise ValueError(f"seed {seed} does not find the sum-merge bug; try another")
    return make_record(workload, seed, found, stage="found", steps_found=len(found.trace.steps))
