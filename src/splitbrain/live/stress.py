"""Stress mode: one thread-safe object under many real OS threads, every call recorded, the history checked.

The controlled mode (:mod:`splitbrain.sim.threads`) *chooses* interleavings; stress mode lets the
operating system and the interpreter choose them, as production does, and makes racy ones more likely:

* the interpreter's switch interval (``sys.setswitchinterval``) is lowered for the run (5 ms by default
  in CPython; 1 µs here), so a thread holding the GIL is asked to hand it over after microseconds
  instead of milliseconds, in the middle of a read-modify-write as often as not;
* noise injection in the spirit of IBM's ConTest (Edelstein, Farchi, Nir, Ratsaby and Ur,
  "Multithreaded Java program test generation", IBM Systems Journal 41(1), 2002): the object's
  ``sync.point()`` marks — the shared-state accesses it declares — call ``time.sleep(0)``, which releases
  the GIL and yields the processor exactly where another thread's interference matters;
* every thread starts at a barrier, so they contend from the first call.

Every call goes through the thread-safe :class:`~splitbrain.histories.recorder.Recorder`, which stamps
``time.monotonic_ns()`` under its lock; the object reads the same clock (:class:`StressSync.now` returns
monotonic nanoseconds), so each decision's clock reading lies between its call's two stamps and the
history is checked with :func:`~splitbrain.checker.rate_limit.check_rate_limit` exactly as a simulated
one, with no tolerance needed. A race shows up only on some runs; :func:`stress_until` repeats a run up
to a stated number of attempts and reports the first violation.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from splitbrain.checker.rate_limit import RATE_LIMITED, check_rate_limit
from splitbrain.errors import UsageError
from splitbrain.histories.history import History
from splitbrain.histories.recorder import Recorder
from splitbrain.plugins import STRESS_GROUP, entry_points, import_path, is_import_path, load_entry_point
from splitbrain.sim.threads import LockLike

__all__ = ["StressResult", "StressSync", "run_stress", "stress_targets", "stress_until"]

NS = 1_000_000_000


class StressSync:
    """The :class:`~splitbrain.sim.threads.Sync` of stress runs: real locks, the monotonic clock in
    nanoseconds, and — with ``noise`` — a ``time.sleep(0)`` at every declared point (ConTest's noise)."""

    def __init__(self, *, noise: bool = True) -> None:
        self.noise = noise

    def lock(self) -> LockLike:
        return threading.Lock()

    def point(self, label: str) -> None:
        if self.noise:
            time.sleep(0)

    def now(self) -> int:
        return time.monotonic_ns()


@dataclass(frozen=True)
class StressResult:
    """One stress run: the history, the verdict and what happened."""

    target: str
    variant: str
    threads: int
    calls: int
    history: History
    valid: Any  # True | False | "unknown"
    explanation: str
    seconds: float
    admitted: int
    rejected: int
    errors: tuple[str, ...] = ()

    def summary(self) -> str:
        verdict = "passed" if self.valid is True else "VIOLATION" if self.valid is False else "unknown"
        return (
            f"{self.target}/{self.variant}: {self.calls} calls from {self.threads} threads in "
            f"{self.seconds:.2f} s, {self.admitted} admitted, {self.rejected} rejected: {verdict}"
        )


def stress_targets() -> list[str]:
    """The names of the stress targets installed packages register (entry-point group
    ``splitbrain.stress_targets``)."""
    return [entry.name for entry in entry_points(STRESS_GROUP)]


def _build(target: str, variant: str) -> Callable[..., Any]:
    """The limiter class for ``target`` (an entry-point name or ``pkg.mod:attr``) and ``variant``.

    A target is a class built as ``cls(rate_per_ns, burst, sync)`` with a ``try_acquire()`` method, or a
    mapping of variant names (``"correct"``, bug names) to such classes.
    """
    found = import_path(target, what="stress target") if is_import_path(target) else (
        load_entry_point(STRESS_GROUP, target)
    )
    if found is None:
        raise UsageError(
            f"unknown stress target {target!r} (registered: {', '.join(stress_targets()) or 'none'}; or give "
            "'package.module:Class', a class built as cls(rate_per_ns, burst, sync) with try_acquire())"
        )
    variants: Mapping[str, Any] = found if isinstance(found, Mapping) else {"correct": found}
    cls = variants.get(variant)
    if cls is None:
        raise UsageError(f"{target} has no variant {variant!r} (variants: {', '.join(variants)})")
    return cls


def run_stress(
    target: str,
    variant: str = "correct",
    *,
    threads: int = 8,
    calls: int = 2000,
    rate: float = 500.0,
    burst: int = 5,
    noise: bool = True,
    switch_interval: float = 1e-6,
) -> StressResult:
    """Run ``calls`` ``try_acquire()`` calls (split evenly over ``threads`` real threads) on a fresh
    ``target``/``variant`` limiter of ``rate`` tokens per second and ``burst``; check the history."""
    cls = _build(target, variant)
    if threads < 1 or calls < threads:
        raise UsageError(f"need at least 1 thread and at least one call per thread (got {threads}, {calls})")
    if not rate > 0 or burst < 1:
        raise UsageError(f"need rate > 0 per second and burst >= 1 (got {rate}, {burst})")
    if not 0 < switch_interval <= 1:
        raise UsageError(f"switch interval must be in (0, 1] seconds, got {switch_interval}")
    per_ns = Fraction(rate) / NS
    limiter = cls(per_ns, burst, StressSync(noise=noise))
    recorder = Recorder(source=f"stress {target}/{variant}")
    start = threading.Barrier(threads)
    errors: list[str] = []
    shares = [calls // threads + (1 if i < calls % threads else 0) for i in range(threads)]

    def client(share: int) -> None:
        worker = recorder.worker()
        try:
            start.wait()
            for _ in range(share):
                with worker.call("acquire") as call:
                    if limiter.try_acquire():
                        call.ok(True)
                    else:
                        call.fail(RATE_LIMITED)
        except Exception as exc:  # a crash of the object under test: keep it, report it
            errors.append(f"{type(exc).__name__}: {exc}")

    pool = [threading.Thread(target=client, args=(n,), name=f"stress-{i}") for i, n in enumerate(shares)]
    previous = sys.getswitchinterval()
    began = time.perf_counter()
    sys.setswitchinterval(switch_interval)
    try:
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    seconds = time.perf_counter() - began
    history = recorder.history()
    valid, explanation = check_rate_limit(history, rate=per_ns, burst=burst)
    if errors:
        valid, explanation = False, f"the object raised in {len(errors)} thread(s): {errors[0]}"
    counts = recorder.counts
    return StressResult(
        target=target, variant=variant, threads=threads, calls=calls, history=history, valid=valid,
        explanation=explanation, seconds=seconds, admitted=counts["ok"], rejected=counts["fail"],
        errors=tuple(errors),
    )


def stress_until(
    target: str, variant: str = "correct", *, attempts: int = 5, **options: Any
) -> tuple[StressResult, int]:
    """Repeat :func:`run_stress` until a run finds a violation or ``attempts`` runs passed; returns the
    last run and how many ran."""
    if attempts < 1:
        raise UsageError(f"attempts must be at least 1, got {attempts}")
    for attempt in range(1, attempts + 1):
        result = run_stress(target, variant, **options)
        if result.valid is False:
            return result, attempt
    return result, attempts
