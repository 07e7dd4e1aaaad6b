"""Shared by the checker tests: user models written in plain Python (subclassing nothing), and long
generated histories."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from splitbrain.histories import UNKNOWN, Op, Operation


class Flaky:
    """A nondeterministic model: ``inc`` may add 1 or 2; ``read`` observes."""

    name = "flaky-counter"

    def init(self) -> int:
        return 0

    def step(self, state: int, op: Operation) -> Iterable[int]:
        if op.f == "inc":
            return (state + 1, state + 2)
        return (state,) if op.output is UNKNOWN or op.output == state else ()


def cas_history(
    n: int, clients: int, *, seed: int, crash_rate: float = 0.01, corrupt: int = 0, contradict: bool = False
) -> list[Op]:
    """A Jepsen-style cas-register history: ``n`` reads, writes and cas (values 0-4) by ``clients``
    concurrent clients, linearizable by construction (each takes effect at a random moment inside its
    interval); about ``crash_rate`` of the writes and cas crash (``info``; half of them took effect) and
    their client continues under a new process id. ``corrupt`` completed reads from the middle of the
    history then return a value the register never held (the history is not linearizable, and the check
    refutes it before any search: :mod:`splitbrain.checker.reachable`). ``contradict`` has a new process,
    at a moment in the middle when no call is open, write 8, then 9, then read 8: not linearizable either
    (no call pending can write 8 between), but each value alone is one some order gives, so only the
    search can tell. ``benchmarks/check_scale.py`` generates the same kind of history as a Jepsen
    log."""
    rng = random.Random(seed)
    register: Any = None
    events: list[Op] = []
    pid = list(range(clients))
    next_pid = clients
    running: list[list[Any] | None] = [None] * clients  # [f, value, took effect, output, crashed]
    started = 0
    while started < n or any(r is not None for r in running):
        c = rng.randrange(clients)
        r = running[c]
        if r is None:
            if started < n:
                started += 1
                f = rng.choice(("read", "write", "cas"))
                value: Any = None
                if f != "read":
                    value = rng.randrange(5) if f == "write" else (rng.randrange(5), rng.randrange(5))
                running[c] = [f, value, False, None, f != "read" and rng.random() < crash_rate]
                events.append(Op(process=pid[c], type="invoke", f=f, value=value))
        elif not r[2]:
            f, value, _, _, crashed = r
            r[2] = True
            if crashed and rng.random() < 0.5:
                continue  # it never took effect
            if f == "read":
                r[3] = register
            elif f == "write":
                register = value
                r[3] = "ok"
            else:
                r[3] = "ok" if register == value[0] else "fail"
                register = value[1] if register == value[0] else register
        else:
            f, value, _, output, crashed = r
            running[c] = None
            if crashed:
                events.append(Op(process=pid[c], type="info", f=f))
                pid[c] = next_pid
                next_pid += 1
            else:
                events.append(Op(process=pid[c], type="ok" if f == "read" else output, f=f,
                                 value=output if f == "read" else value))
    reads = [i for i, op in enumerate(events) if op.type == "ok" and op.f == "read"]
    for i in rng.sample(reads[len(reads) // 4: 3 * len(reads) // 4], corrupt):
        events[i] = Op(process=events[i].process, type="ok", f="read", value=7)
    if contradict:
        # at a moment in the middle when no call is open, a new process writes 8, then 9, then reads 8
        open_calls, quiet = 0, []
        for i, op in enumerate(events):
            open_calls += 1 if op.type == "invoke" else -1
            if open_calls == 0 and len(events) // 4 <= i <= 3 * len(events) // 4:
                quiet.append(i + 1)
        assert quiet, "no moment without an open call in the middle of the history"
        at = quiet[len(quiet) // 2]
        events[at:at] = [Op(process=next_pid, type=t, f=f, value=v) for f, v, out in
                         (("write", 8, 8), ("write", 9, 9), ("read", None, 8)) for t, v in
                         (("invoke", v), ("ok", out))]
    return events
