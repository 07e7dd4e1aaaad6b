"""`World`: the single-threaded discrete-event loop over virtual time.

Each step the world lists the enabled events in a canonical order — deliverable messages (by id), due
timers (by node and name), client timeouts and invocations (by slot), ``advance``, then the faults the
configuration and budget allow — and asks its choice source for one by stable key.

Time is an integer that moves only on an ``advance`` step, which jumps to the next deadline (a message's
delivery time, a timer, a client's timeout or back-off) — or, given ``to`` (a replayed step), to the
time it recorded, so that removing steps from a trace does not move the later ones in time. When nothing
is ready, ``advance`` is the normal next step; while events are ready it is still enabled with the small
``stall`` weight, so ready events sometimes run late, as if the whole system stalled. Random per-message
delays, the free choice among ready messages and the ``delay`` fault give reordering; timers fire at (or
after) their deadline.

A run has three phases: ``start`` (every node's ``on_start``), ``run`` (up to ``max_steps`` steps chosen
by the source) and ``quiesce`` (heal, resume and restart everything, stop faults and new operations, and
let messages, timers and timeouts run until every client's operation has completed). Every step of every
phase is a trace step; invariants are checked after each one and the first violation ends the run.

Nothing here reads the wall clock, the global ``random`` or the iteration order of a set or a hash, so
the same workload, variant and choices give a byte-identical trace and history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from splitbrain.errors import UsageError
from splitbrain.histories import History
from splitbrain.sim.faults import FaultConfig
from splitbrain.sim.nemesis import NemesisSteps
from splitbrain.sim.node import Request
from splitbrain.sim.runtime import Delivery, Violation
from splitbrain.sim.scheduler import Choice, ChoiceSource, ReplaySource
from splitbrain.sim.sessions import ClientSteps
from splitbrain.sim.trace import Step, Trace
from splitbrain.sim.workload import Workload

__all__ = [
    "RunResult",
    "World",
    "replay",
]


_NEVER = 1 << 62  # later than any deadline


@dataclass(frozen=True)
class RunResult:
    """What a run produced. ``world`` is the final world, for inspecting nodes, storage and clocks."""

    trace: Trace
    history: History
    invariant_violation: Violation | None
    world: World
    skipped: int = 0


class World(ClientSteps, NemesisSteps):
    """A seeded simulation of ``workload``'s ``variant`` (see the module docstring).

    Pass ``seed`` (a :class:`RandomSource`) or any ``source``; ``faults`` and ``max_steps`` override the
    workload's. Use :meth:`run` for a whole run, or :meth:`start`, :meth:`enabled`, :meth:`step` and
    :meth:`quiesce` to drive it by hand.
    """

    def __init__(
        self,
        workload: Workload,
        variant: str = "correct",
        *,
        seed: int | None = None,
        source: ChoiceSource | None = None,
        faults: FaultConfig | Any = None,
        max_steps: int | None = None,
        max_quiesce_steps: int = 20_000,
    ) -> None:
        super().__init__(
            workload, variant, seed=seed, source=source, faults=faults, max_steps=max_steps,
            max_quiesce_steps=max_quiesce_steps,
        )
        self._handlers: dict[str, Callable[[str, Mapping[str, Any]], None]] = {
            kind: getattr(self, f"_do_{kind}")
            for kind in (
                "start", "deliver", "timer", "timeout", "invoke", "advance", "drop", "duplicate", "delay",
                "partition", "oneway", "bridge", "heal", "crash", "restart", "pause", "resume", "skew", "quiesce",
            )
        }

    # -- driving -----------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Start, run up to ``max_steps`` chosen steps, quiesce, and return the result."""
        try:
            self.start()
            steps = 0
            while self.violation is None and self.phase == "run" and steps < self.max_steps:
                enabled = self.enabled()
                key = self.source.choose(enabled, "run") if enabled else None
                if key is None:
                    break
                self._execute(key, self._params())
                steps += 1
            if self.violation is None:
                self.quiesce()
        finally:
            self.close()
        return self.result()

    def close(self) -> None:
        """Let every live node release what the simulation gave it (the controlled threads of a
        :class:`~splitbrain.sim.threads.ThreadedNode`); :meth:`run` does it at the end. The nodes stay
        inspectable."""
        for node in self.live_nodes():
            discard = getattr(node, "_discard", None)
            if discard is not None:
                discard()

    def start(self) -> None:
        """Run every node's ``on_start`` (the first step); does nothing once started."""
        if self.phase != "start":
            return
        self.source.choose([("start", 1)], "start")  # lets a replay line up the step's draws
        self._execute("start", {})
        self.phase = "run"

    def quiesce(self) -> None:
        """Heal, resume and restart everything, then run without faults or new operations until every
        client's operation has completed (or ``max_quiesce_steps``), then for the workload's ``settle``
        ticks more, and record its ``final_reads``."""
        self.start()
        if self.phase == "quiesce" or self.violation is not None:
            return
        self.phase = "quiesce"
        self.source.choose([("quiesce", 1)], "quiesce")
        self._execute("quiesce", self._params())
        steps = 0
        settled_at: int | None = None  # the time settling ends, once every client is done
        while self.violation is None and steps < self.max_quiesce_steps:
            if all(slot.waiting is None for slot in self.clients):
                if settled_at is None:
                    settled_at = self.time + self.workload.settle
                if self.time >= settled_at:
                    break
            enabled = self.enabled()
            key = self.source.choose(enabled, "quiesce") if enabled else None
            if key is None:
                break
            params = self._params()
            if settled_at is not None:
                # settling runs deadline by deadline: a time jump recorded in an edited trace (a shrink
                # that removed the steps in between) must not skip the settling the final reads rely on
                params.pop("to", None)
            self._execute(key, params)
            steps += 1
        if self.violation is None:
            self._record_final_reads()

    def step(self, key: str, **params: Any) -> Step:
        """Execute the enabled event ``key`` (e.g. ``"deliver:3"``, ``"crash:n1"``); ``params`` give a
        fault's or invocation's parameters instead of drawing them (``groups=[["n1"], ["n2", "n3"]]``,
        ``f="write", value=3, node="n1"``, ``skew=50, drift=0``, ``delay=10``, ``to=120`` for ``advance``)."""
        self.start()
        keys = [k for k, _ in self.enabled()]
        if key not in keys:
            raise UsageError(
                f"{key!r} is not enabled at step {len(self.steps)} (t={self.time}); enabled: {keys}"
            )
        return self._execute(key, params)

    def result(self) -> RunResult:
        return RunResult(
            trace=self.trace(), history=self.recorder.history(), invariant_violation=self.violation,
            world=self, skipped=self.source.skipped,
        )

    def trace(self) -> Trace:
        return Trace(
            workload=self.workload.name, variant=self.variant, seed=self.source.seed,
            max_steps=self.max_steps, nodes=list(self.node_ids), faults=self.faults, steps=list(self.steps),
        )

    # -- the enabled events --------------------------------------------------------------------------
    def enabled(self) -> list[Choice]:
        """The events that may run now, as ``(key, weight)`` in canonical order."""
        w, now, quiescing = self._w, self.time, self.phase == "quiesce"
        ready: list[Choice] = []
        later = _NEVER
        heads: set[tuple[str, str]] | None = None if self._reorder else set()
        w_deliver = w["deliver"]
        for m in self.network.in_flight.values():
            if heads is not None:
                link = (m.src, m.dst)
                if link in heads:
                    continue
                heads.add(link)
            if m.deliver_at > now:
                if m.deliver_at < later:
                    later = m.deliver_at
            elif self._receptive(m.dst):
                ready.append(("deliver:" + m.id, w_deliver))
        for timer in sorted(self._timers):
            deadline = self._timers[timer]
            if deadline > now:
                if deadline < later:
                    later = deadline
            elif self._receptive(timer[0]):
                ready.append((f"timer:{timer[0]}:{timer[1]}", w["timer"]))
        for slot in self.clients:
            if slot.waiting is not None:
                if slot.deadline > now:
                    later = min(later, slot.deadline)
                else:
                    ready.append((f"timeout:{slot.index}", w["timeout"]))
            elif quiescing:
                continue
            elif slot.next_at > now:
                later = min(later, slot.next_at)
            else:
                ready.append((f"invoke:{slot.index}", w["invoke"]))
        self._later = None if later is _NEVER else later
        if later is not _NEVER:
            if not ready:
                ready.append(("advance", w["advance"]))
            elif not quiescing and w["stall"]:
                ready.append(("advance", w["stall"]))
        if not quiescing:
            ready += self._fault_choices()
        return ready

    # -- executing a step --------------------------------------------------------------------------
    def _params(self) -> dict[str, Any]:
        rec = self.source.recorded()
        if rec is None:
            return {}
        return {name: value for name in rec.__struct_fields__ if (value := getattr(rec, name)) is not None}

    def _execute(self, key: str, params: Mapping[str, Any]) -> Step:
        kind, _, arg = key.partition(":")
        self._rec, self._draws, self._sent, self._lost = {}, [], [], []
        t = self.time
        self._handlers[kind](arg, params)
        step = Step(
            step=len(self.steps), t=t, kind=kind, **self._rec, sent=self._sent or None,
            lost=self._lost or None, draws=self._draws or None,
        )
        self.steps.append(step)
        self.source.executed(step)
        for inv in self.workload.invariants:
            problem = inv.check(self)
            if problem is not None:
                self.violation = Violation(inv.name, problem, step.step)
                break
        return step

    def _do_start(self, arg: str, params: Mapping[str, Any]) -> None:
        for node_id in self.node_ids:
            self._boot(node_id)

    def _do_deliver(self, arg: str, params: Mapping[str, Any]) -> None:
        m = self.network.pop(arg)
        self._rec.update(msg=m.id, src=m.src, dst=m.dst)
        vc = self._vclocks[m.dst] = self._vclocks[m.dst].merge(m.vclock).tick(m.dst)
        self.deliveries.append(Delivery(m.id, m.src, m.dst, m.vclock, vc))
        slot = self._slots.get(m.dst)
        if slot is not None:
            self._client_receive(slot, m.payload, vc)
        elif m.client:
            req: Request = m.payload
            self._rec.update(process=req.process, f=req.f)
            if self._slots[req.client].waiting is req:
                self._slots[req.client].at = m.dst
            self._call(m.dst, "on_client", req)
        else:
            self._call(m.dst, "on_message", m.src, m.payload)

    def _do_timer(self, arg: str, params: Mapping[str, Any]) -> None:
        node_id, _, name = arg.partition(":")
        del self._timers[(node_id, name)]
        self._rec.update(node=node_id, timer=name)
        self._call(node_id, "on_timer", name)

    def _do_advance(self, arg: str, params: Mapping[str, Any]) -> None:
        # ``to`` (a replayed step's, or World.step's) jumps to that time instead of the next deadline, so
        # a trace with steps removed keeps the times it recorded (anything due meanwhile just runs late)
        assert self._later is not None and self._later > self.time
        target = params.get("to")
        self.time = target if isinstance(target, int) and target > self.time else self._later
        self._rec["to"] = self.time


def replay(trace: Trace, workload: Workload, *, fallback_seed: int | None = None) -> RunResult:
    """Run ``workload`` again following ``trace``; a full trace reproduces its history exactly."""
    if trace.workload != workload.name:
        raise UsageError(f"the trace is of workload {trace.workload!r}, not {workload.name!r}")
    if list(workload.node_ids) != trace.nodes:
        raise UsageError(
            f"the trace has nodes {trace.nodes}; workload {workload.name} has {list(workload.node_ids)}"
        )
    source = ReplaySource(trace, fallback_seed=fallback_seed)
    return World(workload, trace.variant, source=source, faults=trace.faults, max_steps=trace.max_steps).run()
