"""Transaction histories for the tests and ``benchmarks/txn_scale.py`` (a fixture, not part of the package).

Hand-made histories are written with :func:`txn` (one transaction's invoke and completion) and
:func:`serial`; :func:`generate` simulates a strict-serializable list-append store under concurrent
clients, the way Jepsen's list-append workload drives a database, optionally with planted faults.
"""

from __future__ import annotations

import random
from typing import Any

from splitbrain.histories import History, Op

Mop = tuple[str, Any, Any]

__all__ = ["Mop", "done", "generate", "history", "inv", "serial", "txn"]


def inv(p: int, mops: list[Mop], time: int | None = None) -> Op:
    """The invoke of a transaction: reads carry nil, writes their value."""
    value = tuple((f, k, None if f == "r" else v) for f, k, v in mops)
    return Op(process=p, type="invoke", f="txn", value=value, time=time)


def done(p: int, mops: list[Mop], status: str = "ok", time: int | None = None) -> Op:
    """The completion: an ok one carries what the reads returned, the others the invoke's value."""
    value = tuple(mops) if status == "ok" else tuple((f, k, None if f == "r" else v) for f, k, v in mops)
    return Op(process=p, type=status, f="txn", value=value, time=time)  # type: ignore[arg-type]


def txn(p: int, mops: list[Mop], status: str = "ok") -> list[Op]:
    return [inv(p, mops), done(p, mops, status)]


def serial(*txns: tuple[int, list[Mop]] | tuple[int, list[Mop], str], times: bool = False) -> list[Op]:
    """Transactions one after another; with ``times``, each event at its own time (so real-time edges
    are inferred)."""
    ops: list[Op] = []
    for t in txns:
        status = t[2] if len(t) == 3 else "ok"
        ops += txn(t[0], t[1], status)
    return timed(ops) if times else ops


def timed(ops: list[Op]) -> list[Op]:
    """The same events, each stamped with its position as its time."""
    return [Op(process=op.process, type=op.type, f=op.f, value=op.value, time=i) for i, op in enumerate(ops)]


def history(ops: list[Op]) -> History:
    return History.from_ops(ops)


def generate(n: int, *, processes: int = 10, active_keys: int = 8, max_appends: int = 32, stale_every: int = 0,
             aborted_every: int = 0, seed: int = 0) -> list[Op]:
    """``n`` list-append transactions by ``processes`` concurrent clients against a store that applies
    each transaction atomically when it completes: a strict-serializable history, with times.

    Keys rotate as in Jepsen: ``active_keys`` are in use at once, and a key that has taken
    ``max_appends`` appends is retired for a fresh one. Every ``stale_every``-th transaction reads a stale
    version of one key (planting dependency cycles: G-single, G2-item, their real-time forms); every
    ``aborted_every``-th transaction fails after its appends became visible (planting G1a). Ops carry
    their index, as a recorder's do, so :meth:`History.from_ops` keeps them as they are.
    """
    rng = random.Random(seed)
    store: dict[int, tuple[int, ...]] = {}
    appends: dict[int, int] = {}
    keys = list(range(active_keys))
    next_key = active_keys
    element = 0
    ops: list[Op] = []
    running: dict[int, list[Mop]] = {}
    idle = list(range(processes))
    started = 0
    time = 0
    while started < n or running:
        if idle and started < n and (not running or rng.random() < 0.5):
            p = idle.pop(rng.randrange(len(idle)))
            mops: list[Mop] = []
            for _ in range(rng.randint(1, 4)):
                k = keys[rng.randrange(active_keys)]
                if rng.random() < 0.5:
                    mops.append(("r", k, None))
                else:
                    element += 1
                    mops.append(("append", k, element))
            running[p] = mops
            started += 1
            ops.append(Op(process=p, type="invoke", f="txn", value=tuple(mops), time=time, index=len(ops)))
        else:
            p = rng.choice(list(running))
            mops = running.pop(p)
            serial_no = len(ops)
            stale = stale_every and serial_no % stale_every == 0
            aborted = aborted_every and serial_no % aborted_every == 0
            out: list[Mop] = []
            for f, k, v in mops:
                if f == "r":
                    seen = store.get(k, ())
                    if stale and seen:
                        seen, stale = seen[: rng.randrange(len(seen))], False
                    out.append(("r", k, seen))
                else:
                    store[k] = (*store.get(k, ()), v)
                    appends[k] = appends.get(k, 0) + 1
                    if appends[k] >= max_appends and k in keys:
                        keys[keys.index(k)] = next_key
                        next_key += 1
                    out.append((f, k, v))
            status = "fail" if aborted and any(f == "append" for f, _, _ in mops) else "ok"
            value = tuple(out) if status == "ok" else tuple(mops)
            ops.append(Op(process=p, type=status, f="txn", value=value, time=time,  # type: ignore[arg-type]
                          index=len(ops)))
            idle.append(p)
        time += rng.randint(1, 1000)
    return ops
