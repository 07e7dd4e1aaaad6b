"""Helpers shared by the eventually consistent workloads' tests (gossip-kv, CRDTs, causal broadcast)."""

from __future__ import annotations

from collections.abc import Callable

from splitbrain.sim import Trace, World

QUIET = ("deliver", "timer", "timeout", "advance")


def drive(world: World, done: Callable[[], bool], limit: int = 500) -> None:
    """Run deliveries, timers and time — never a fault or a new operation, first enabled first — until
    ``done()``."""
    for _ in range(limit):
        if done():
            return
        quiet = [k for k, _ in world.enabled() if k.split(":")[0] in QUIET]
        if not quiet:
            raise AssertionError("nothing left to run, and still not there")
        world.step(quiet[0])
    raise AssertionError(f"not there after {limit} steps")


def run_phase(trace: Trace) -> int:
    """Steps before the quiesce marker: the schedule proper, without the healing and settling after it."""
    return next(i for i, s in enumerate(trace.steps) if s.kind == "quiesce")
