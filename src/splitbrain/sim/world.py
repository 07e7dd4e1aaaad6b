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
the same workload, variant and choices give a byte-identical trace and history; while it runs, the
determinism auditor (:mod:`splitbrain.sim.audit`) stops the code under test from doing so either.
Aimed faults (:mod:`splitbrain.sim.aims`) run as steps of their own before the source is asked again.

At the start every node is created before any ``on_start`` runs, so a message one node sends another
from ``on_start`` is delivered, whichever starts first (it used to be lost when the receiver started
later).
"""

from __future__ import annotations

import gc
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from heapq import heappop
from types import MappingProxyType
from typing import Any

from splitbrain.errors import UsageError
from splitbrain.histories import History
from splitbrain.sim.aiming import AimSteps
from splitbrain.sim.faults import FaultConfig
from splitbrain.sim.nemesis import NemesisSteps
from splitbrain.sim.node import Request
from splitbrain.sim.properties import PropertyWatch
from splitbrain.sim.runtime import _NEVER, Violation
from splitbrain.sim.scheduler import ChoiceSource, Enabled, RandomSource, ReplaySource
from splitbrain.sim.sessions import ClientSteps
from splitbrain.sim.trace import Step, Trace
from splitbrain.sim.vclock import VectorClock
from splitbrain.sim.workload import Workload

__all__ = [
    "RunResult",
    "World",
    "replay",
]


_ONE = ("",)  # the ids of a run holding one key (its prefix)
_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})  # a step's parameters when nothing recorded them
_new = object.__new__

_KINDS = (
    "start", "deliver", "timer", "timeout", "invoke", "advance", "drop", "duplicate", "delay", "partition", "oneway",
    "bridge", "heal", "crash", "restart", "pause", "resume", "skew", "quiesce", "power-loss",
)
_HANDLERS: dict[type, dict[str, Callable[[World, str, Mapping[str, Any]], None]]] = {}
_PREFIXES: dict[tuple[Any, ...], dict[str, tuple[str, str, Callable[[World, str, Mapping[str, Any]], None]]]] = {}


def _handlers(cls: type[World]) -> dict[str, Callable[[World, str, Mapping[str, Any]], None]]:
    """Each step kind's handler, ``cls._do_<kind>`` (a function: called with the world)."""
    found = _HANDLERS.get(cls)
    if found is None:
        if len(_HANDLERS) > 256:  # classes made on the fly (a World subclass per call) must not pile up
            _HANDLERS.clear()
        found = _HANDLERS[cls] = {kind: getattr(cls, "_do_" + kind.replace("-", "_")) for kind in _KINDS}
    return found


@dataclass(frozen=True)
class RunResult:
    """What a run produced. ``world`` is the final world, for inspecting nodes, storage and clocks."""

    trace: Trace
    history: History
    invariant_violation: Violation | None
    world: World
    skipped: int = 0


class World(ClientSteps, NemesisSteps, AimSteps):
    """A seeded simulation of ``workload``'s ``variant`` (see the module docstring).

    Pass ``seed`` (a :class:`RandomSource`) or any ``source``; ``faults``, ``max_steps`` and ``aims`` (a
    list of :class:`~splitbrain.sim.aims.Aim`) override the workload's; ``audit=False`` turns the
    determinism auditor off. Use :meth:`run` for a whole run, or :meth:`start`, :meth:`enabled`,
    :meth:`step` and :meth:`quiesce` to drive it by hand.
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
        aims: Any = None,
        audit: bool = True,
    ) -> None:
        super().__init__(
            workload, variant, seed=seed, source=source, faults=faults, max_steps=max_steps,
            max_quiesce_steps=max_quiesce_steps, aims=aims, audit=audit,
        )
        source_type = type(self.source)
        # the source hooks most sources leave as they are, looked up once instead of called every step
        self._told = None if source_type.executed is ChoiceSource.executed else self.source.executed
        self._recorded = None if source_type.recorded is ChoiceSource.recorded else self.source.recorded
        self._invariants = tuple(workload.invariants)
        # liveness and sometimes properties (splitbrain.sim.properties) are checked like invariants
        self._watch = PropertyWatch(workload.properties) if workload.properties else None
        if self._watch is not None:
            self.__dict__["_property_watch"] = self._watch
            self._invariants += tuple(self._watch.invariants())
        self._watchful = tuple(inv for inv in self._invariants if not getattr(inv, "state_only", False))
        #: step kind -> its handler, a function of the world's class (found once per class)
        self._handlers = _handlers(type(self))
        #: a plain RandomSource's steps are chosen and run by _random_steps (unless a subclass lists or runs
        #: steps its own way)
        self._alone = (
            source_type is RandomSource and type(self).enabled is World.enabled
            and type(self)._execute is World._execute
        )
        #: the prefix of each run World.enabled lists -> (kind, the rest of the key's argument, handler): what
        #: ``(prefix + id).partition(":")`` gives for every id the world lists after it (worked out once for
        #: each class and set of prefixes)
        colons = ("deliver:", "timer:", *(p for p, _ in self._message_faults), *(p for _, p, _ in self._node_faults),
                  *(run[0] for _, *runs in self._client_runs for run in runs))
        listed_once = ("advance", "heal", *(k for k, _ in self._global_faults))  # listed with the one id ""
        known = (type(self), colons, listed_once)
        prefixes = _PREFIXES.get(known)
        if prefixes is None:
            prefixes = {}
            for prefix in colons:
                kind, _, rest = prefix.partition(":")
                prefixes[prefix] = (kind, rest, self._handlers[kind])
            for kind in listed_once:
                prefixes[kind] = (kind, "", self._handlers[kind])
            if len(_PREFIXES) > 256:
                _PREFIXES.clear()
            _PREFIXES[known] = prefixes
        self._prefixes: dict[str, tuple[str, str, Callable[[World, str, Mapping[str, Any]], None]]] = prefixes

    # -- driving -----------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Start, run up to ``max_steps`` steps (chosen or aimed), quiesce, and return the result.

        The cyclic garbage collector waits until the run is over. A run builds objects that live as long as
        it does (its steps, the messages in flight, the history) and next to no cyclic garbage — the zoo's
        runs leave a few hundred objects, the world's own — so the collector's passes during it find
        nothing, and one pass after it costs less than the many it replaces: 3-5% of a zoo run, 9% of a
        long one (as when parsing a history, :mod:`splitbrain.histories.io`); and finalisers then run where
        reference counts put them, not whenever a pass happens to come (as for asyncio hosts,
        :mod:`splitbrain.aio.node`). Node code that makes cyclic garbage at every step keeps it until the
        run ends."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if collecting:
                gc.enable()

    def _run(self) -> RunResult:
        try:
            with self._watching():
                self.start()
                limit, aiming = self.max_steps, self._aiming
                if self._alone and not aiming:
                    self._random_steps(limit)  # the whole run phase
                else:
                    self._run_phase(limit)
                if self.violation is None:
                    self.quiesce()
        finally:
            self.close()
        return self.result()

    def _run_phase(self, limit: int) -> None:
        """Up to ``limit`` steps, aimed or chosen by the source."""
        steps = 0
        choose, execute, enabled = self.source.choose, self._execute, self.enabled
        params, aiming = (self._params if self._recorded is not None else None), self._aiming
        alone, random_steps = self._alone, self._random_steps
        while self.violation is None and steps < limit:
            if aiming:
                aimed = self._next_aimed()
                if aimed is not None:
                    execute(*aimed)
                    steps += 1
                    continue
            if alone:
                if not random_steps(1):
                    break
            else:
                events = enabled()
                key = choose(events, "run") if events._n else None
                if key is None:
                    break
                execute(key, _NO_PARAMS if params is None else params())
            steps += 1

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
        with self._watching():
            self._execute("start", {})
        self.phase = "run"

    def quiesce(self) -> None:
        """Heal, resume and restart everything, then run without faults or new operations until every
        client's operation has completed (or ``max_quiesce_steps``), then for the workload's ``settle``
        ticks more, and record its ``final_reads``."""
        self.start()
        if self.phase == "quiesce" or self.violation is not None:
            return
        with self._watching():
            self._quiesce()

    def _quiesce(self) -> None:
        self.phase = "quiesce"
        self.source.choose([("quiesce", 1)], "quiesce")
        self._execute("quiesce", self._params())
        if self._alone:
            self._random_steps(self.max_quiesce_steps, settling=True)
            if self.violation is None:
                self._record_final_reads()
            return
        steps = 0
        settled_at: int | None = None  # the time settling ends, once every client is done
        choose, enabled, limit = self.source.choose, self.enabled, self.max_quiesce_steps
        recorded = self._recorded is not None
        while self.violation is None and steps < limit:
            if not self._busy:  # every client's operation has completed (as in _random_steps)
                if settled_at is None:
                    settled_at = self.time + self.workload.settle
                if self.time >= settled_at and (self._watch is None or not self._watch.pending(self)):
                    break  # settled, and no liveness property is still waiting for its deadline
            events = enabled()
            key = choose(events, "quiesce") if events._n else None
            if key is None:
                break
            params: Mapping[str, Any] = _NO_PARAMS
            if recorded:
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
        with self._watching():
            return self._execute(key, params)

    def result(self) -> RunResult:
        return RunResult(
            trace=self.trace(), history=self.recorder.history(), invariant_violation=self.violation,
            world=self, skipped=self.source.skipped,
        )

    def trace(self) -> Trace:
        return Trace(
            version=self.trace_version, workload=self.workload.name, variant=self.variant, seed=self.source.seed,
            max_steps=self.max_steps, nodes=list(self.node_ids), faults=self.faults, steps=list(self.steps),
        )

    # -- the enabled events --------------------------------------------------------------------------
    def enabled(self) -> Enabled:
        """The events that may run now, as ``(key, weight)`` in canonical order: deliverable messages (in
        creation order), due timers (by node and name), client timeouts and invocations (by slot),
        ``advance``, then the faults.

        The network and the timers are kept sorted by when they are due, so this reads the due ones
        and the next deadline instead of looking at every message and timer — except without the
        ``reorder`` fault, where a message is deliverable only at the head of its link."""
        runs, n, total = self._listed()
        out = _new(Enabled)
        out._runs, out._n, out._total, out.also = runs, n, total, None
        if self._aim_replay and self.phase != "quiesce":
            out.also = self._aimable
        return out

    def _listed(self) -> tuple[list[tuple[str, Sequence[str], int]], int, int]:
        """What :meth:`enabled` holds: its runs, how many keys they have and their total weight."""
        # the hottest function of the simulator: locals only, and few calls on the common path
        now, quiescing = self.time, self.phase == "quiesce"
        runs: list[tuple[str, Sequence[str], int]] = []
        n = total = 0
        later = _NEVER
        receptive = self._receptive
        network = self.network
        if network.in_flight:
            if self._reorder:
                ready = network.due
                if ready:
                    # as for the due timers below: the last step's list while it still holds
                    changes, epoch, listed = self._ready_listed
                    if changes != network.due_changes or epoch != self._epoch:
                        if self._all_up:
                            listed = ready[:]
                        else:
                            in_flight = network.in_flight
                            listed = [mid for mid in ready if in_flight[mid].dst in receptive]
                        self._ready_listed = (network.due_changes, self._epoch, listed)
                    ready = listed
                pending = network._pending
                if pending:
                    if not network.stale:  # the heap's top is a message in flight, not yet due
                        later = pending[0][0]
                    else:
                        at, _, mid = pending[0]
                        m = network.in_flight.get(mid)
                        later = at if m is not None and m.deliver_at == at else network.next_due() or _NEVER
            elif len(network.in_flight) == 1:  # FIFO links, one message: it is its link's head
                ((mid, m),) = network.in_flight.items()
                ready = []
                if m.deliver_at > now:
                    later = m.deliver_at
                elif m.dst in receptive:
                    ready.append(mid)
            else:  # FIFO links: only the oldest message of each link
                ready = []
                heads: set[tuple[str, str]] = set()
                for mid, m in network.in_flight.items():
                    link = m.link
                    if link in heads:
                        continue
                    heads.add(link)
                    at = m.deliver_at
                    if at > now:
                        if at < later:
                            later = at
                    elif m.dst in receptive:
                        ready.append(mid)
            if ready:
                n = len(ready)
                total = n * self._w_deliver
                runs.append(("deliver:", ready, self._w_deliver))
        if self._timers:
            due_ids = self._timers_due_ids
            if due_ids:
                # the list of the last step, unless the due timers or the nodes up changed since (it is
                # never changed in place: an Enabled of an earlier step keeps its own)
                changes, epoch, listed = self._due_listed
                if changes != self._due_changes or epoch != self._epoch:
                    if self._all_up:
                        listed = due_ids[:]
                    else:
                        listed = [i for k, i in zip(self._timers_due, due_ids, strict=True) if k[0] in receptive]
                    self._due_listed = (self._due_changes, self._epoch, listed)
                due_ids = listed
            if due_ids:
                n += len(due_ids)
                total += len(due_ids) * self._w_timer
                runs.append(("timer:", due_ids, self._w_timer))
            heap = self._timer_heap
            if heap:
                deadline, timer = heap[0]
                if self._timer_stale and self._timers.get(timer) != deadline:  # none stale: the top holds
                    deadline = self._next_timer() or _NEVER
                if deadline < later:
                    later = deadline
        soonest = self._client_soonest_busy if quiescing else self._client_soonest
        if soonest <= now:  # some slot's timeout or next invocation is due
            for at, run, idle in self._client_times:
                if idle and quiescing:
                    continue
                if at > now:
                    if at < later:
                        later = at
                else:
                    runs.append(run)
                    n += 1
                    total += run[2]
        elif soonest < later:
            later = soonest
        if self._aiming and not quiescing:
            aimed = self._aim_deadline()
            if aimed is not None and aimed < later:
                later = aimed
        if later == _NEVER:
            self._later = None
        else:
            self._later = later
            if not n:
                runs.append(self._advance_run)
                n = 1
                total += self._w_advance
            elif not quiescing and self._w_stall:
                runs.append(self._stall_run)
                n += 1
                total += self._w_stall
        if not quiescing and (self._fault_check or network.cuts):
            # the faults: the message faults' runs, then NemesisSteps._list_faults's, kept while they hold
            cached, held = self._fault_cache, (self._epoch, self.faults_used, network.cuts)
            if cached is None or cached[0] != held:
                cached = self._fault_cache = (held, *self._list_faults())
            _, fresh, rest, more, weight = cached
            if fresh:
                count = len(network.between_nodes)
                if count and self._message_runs:
                    runs += self._message_runs
                    more += count * len(self._message_runs)
                    weight += count * self._message_weight
            runs += rest
            n += more
            total += weight
        return runs, n, total

    def _random_steps(self, limit: int, *, settling: bool = False) -> int:
        """Choose and run up to ``limit`` steps, each as ``RandomSource.choose(self.enabled(), ...)`` would
        choose it (the same draws, the same key); stops after a violation or when nothing is enabled — and,
        ``settling`` (the quiesce phase), once every client is done and the workload has settled (as
        :meth:`_quiesce` does) — and returns how many ran. Without the key's string: the run a step was
        picked from names the handler (:attr:`_prefixes`), and an id is the argument most steps need. A
        phase's loop is here, not a call per step."""
        listed, prefixes, run_step = self._listed, self._prefixes, self._run_step
        advance = World._do_advance  # its steps take a shorter way (_advanced), unless a subclass has its own
        bits = self.source._bits  # type: ignore[attr-defined]
        done = 0
        settled_at: int | None = None  # the time settling ends, once every client is done
        while done < limit and self.violation is None:
            if settling and not self._busy:
                if settled_at is None:
                    settled_at = self.time + self.workload.settle
                if self.time >= settled_at and (self._watch is None or not self._watch.pending(self)):
                    break  # settled, and no liveness property is still waiting for its deadline
            runs, n, total = listed()
            if n <= 1:
                if not n:
                    break
                prefix, ids, _ = runs[0]
                ident = ids[0]
            elif total <= 0:
                key = self.source.choose(Enabled.of(runs, n, total), "run")
                assert key is not None
                self._execute(key, _NO_PARAMS)
                done += 1
                continue
            else:
                k = total.bit_length()  # RandomSource.choose: _randbelow(total), then Enabled.pick
                r = bits(k)
                while r >= total:
                    r = bits(k)
                for prefix, ids, weight in runs:  # noqa: B007 (the run the loop stops at is used below)
                    span = len(ids) * weight
                    if r < span:
                        ident = ids[r // weight]
                        break
                    r -= span
                else:
                    prefix, ids, _ = runs[-1]
                    ident = ids[len(ids) - 1]
            found = prefixes.get(prefix)
            if found is None:
                self._execute(prefix + ident, _NO_PARAMS)
            else:
                kind, rest, handler = found
                if handler is advance:
                    self._advanced()
                else:
                    run_step(kind, rest + ident, handler, _NO_PARAMS)
            done += 1
        return done

    # -- executing a step --------------------------------------------------------------------------
    def _params(self) -> dict[str, Any]:
        if self._recorded is None:
            return {}
        rec = self._recorded()
        if rec is None:
            return {}
        return {name: value for name in rec.__struct_fields__ if (value := getattr(rec, name)) is not None}

    def _execute(self, key: str, params: Mapping[str, Any]) -> Step:
        kind, _, arg = key.partition(":")
        return self._run_step(kind, arg, self._handlers[kind], params)

    def _run_step(
        self, kind: str, arg: str, handler: Callable[[World, str, Mapping[str, Any]], None], params: Mapping[str, Any],
    ) -> Step:
        """Run step ``kind`` (its key's ``arg``) with ``handler``, record it and check the invariants."""
        steps = self.steps
        # the Step's fields: its number, time and kind now, what the handler records, then sends and losses
        rec: dict[str, Any] = {"step": len(steps), "t": self.time, "kind": kind}
        self._rec = rec
        # the step's draws, sends and losses: the lists of the last step are reused when it left them empty
        # (a Step keeps its draws, the ids of what it sent and its losses; the messages sent are cleared)
        draws = self._draws
        sent = self._sent
        sent_ids = self._sent_ids
        lost = self._lost
        if draws:
            draws = self._draws = []
        if sent:
            sent.clear()
        if sent_ids:
            sent_ids = self._sent_ids = []
        if lost:
            lost = self._lost = []
        self._stirred = False
        handler(self, arg, params)
        if params is not _NO_PARAMS and "aim" in params:
            rec["aim"] = params["aim"]
        auditor = self._auditor
        if auditor is not None and auditor.escaped is not None:
            raise auditor.escaped  # the code under test caught the auditor's error and carried on
        if sent_ids:
            rec["sent"] = sent_ids
        if lost:
            rec["lost"] = lost
        if draws:
            rec["draws"] = draws
        step = Step(**rec)
        steps.append(step)
        if self._told is not None:
            self._told(step)
        # a step that ran no node code cannot change what a state-only invariant reads
        for inv in self._invariants if self._stirred else self._watchful:
            problem = inv.check(self)
            if problem is not None:
                self.violation = Violation(inv.name, problem, step.step)
                break
        return step

    def _do_start(self, arg: str, params: Mapping[str, Any]) -> None:
        # every node exists before any starts: a message sent from on_start reaches a node that starts later
        for node_id in self.node_ids:
            self._incarnate(node_id)
        self._refresh_nodes()
        for node_id in self.node_ids:
            self._call(node_id, "on_start")
        for slot in self.clients:
            slot.client.on_start()

    def _do_deliver(self, arg: str, params: Mapping[str, Any]) -> None:
        network = self.network
        m = self._delivered = network.in_flight.pop(arg)  # Network.pop, inline
        if not m.client:
            del network.between_nodes[arg]
        if network.track:  # Network._leave, inline: the message was due
            seqs, seq = network._due_seqs, m.seq
            i = bisect_left(seqs, seq)
            if i < len(seqs) and seqs[i] == seq:
                del seqs[i]
                del network.due[i]
                network.due_changes += 1
        self._delivered_at = len(self.steps)
        dst = m.dst
        rec = self._rec
        rec["msg"], rec["src"], rec["dst"] = arg, m.src, dst
        # VectorClock.receive, inline (a call fewer on every delivery)
        counts = self._vclocks[dst]._counts
        merged = counts.copy()
        get = merged.get
        for name, count in m.vclock._counts.items():
            if count > get(name, 0):
                merged[name] = count
        merged[dst] = get(dst, 0) + 1
        if len(merged) == len(counts):
            vc = _new(VectorClock)
            vc._counts = merged
        else:
            vc = VectorClock._sorted(merged)  # a name new to dst's clock: the names are put in order
        self._vclocks[dst] = vc
        # what Delivery needs, flat: strings and the clocks' count dicts, which the garbage collector does
        # not track (a long run keeps every entry; tracked ones would make each full collection slower)
        self._delivery_log.extend((arg, m.src, dst, m.vclock._counts, vc._counts))
        if not m.client:
            node = self._nodes[dst]
            self._stirred = True
            try:
                node.on_message(m.src, m.payload)  # type: ignore[union-attr]
            except Exception as exc:
                self._blame(exc, node, "on_message")
                raise
            return
        slot = self._slots.get(dst)
        if slot is not None:
            self._client_receive(slot, m.payload, vc)
        else:
            req: Request = m.payload
            self._rec.update(process=req.process, f=req.f)
            asking = self._slots[req.client]
            if asking.waiting is req:
                asking.at = dst
            node = self._nodes[dst]  # WorldBase._call, inline
            self._stirred = True
            try:
                node.on_client(req)  # type: ignore[union-attr]
            except Exception as exc:
                self._blame(exc, node, "on_client")
                raise

    def _do_timer(self, arg: str, params: Mapping[str, Any]) -> None:
        node_id, _, name = arg.partition(":")
        key = (node_id, name)
        if self._timers.pop(key) <= self.time:  # _timer_drop, inline: the timer was due
            self._timer_undue(key)
        else:
            self._timer_stale += 1
        rec = self._rec
        rec["node"], rec["timer"] = node_id, name
        node = self._nodes[node_id]  # WorldBase._call, inline
        self._stirred = True
        try:
            node.on_timer(name)  # type: ignore[union-attr]
        except Exception as exc:
            self._blame(exc, node, "on_timer")
            raise

    def _do_advance(self, arg: str, params: Mapping[str, Any]) -> None:
        # ``to`` (a replayed step's, or World.step's) jumps to that time instead of the next deadline, so
        # a trace with steps removed keeps the times it recorded (anything due meanwhile just runs late)
        target = params.get("to") if params else None
        now = target if target.__class__ is int and target > self.time else self._later
        if now is None:
            raise UsageError(f"'advance' is not enabled at step {len(self.steps)} (t={self.time}): nothing is due")
        self._move_time(now)
        self._rec["to"] = now

    def _move_time(self, now: int) -> None:
        """Time is ``now``: the messages and timers whose time came are due."""
        self.time = now
        self.network.advance(now)
        heap = self._timer_heap
        if heap and heap[0][0] <= now:
            timers = self._timers
            while heap and heap[0][0] <= now:
                deadline, key = heappop(heap)
                if timers.get(key) == deadline:
                    self._timer_due(key)
                else:
                    self._timer_stale -= 1

    def _advanced(self) -> None:
        """An ``advance`` step chosen by :meth:`_random_steps` (a third of a zoo run's steps): what
        :meth:`_run_step` does with :meth:`_do_advance`, without the dict its fields are gathered in — no
        node code runs, so nothing draws, sends, loses or notes anything."""
        steps, before, now = self.steps, self.time, self._later
        assert now is not None  # advance is listed only when something is due later
        # as _run_step: the last step's draws, sends and losses are its own
        if self._draws:
            self._draws = []
        if self._sent:
            self._sent.clear()
        if self._sent_ids:
            self._sent_ids = []
        if self._lost:
            self._lost = []
        self._stirred = False
        self._move_time(now)
        step = Step(step=len(steps), t=before, kind="advance", to=now)
        steps.append(step)
        if self._told is not None:
            self._told(step)
        for inv in self._watchful:
            problem = inv.check(self)
            if problem is not None:
                self.violation = Violation(inv.name, problem, step.step)
                break


def replay(
    trace: Trace, workload: Workload, *, fallback_seed: int | None = None, audit: bool = True
) -> RunResult:
    """Run ``workload`` again following ``trace``; a full trace reproduces its history exactly."""
    if trace.workload != workload.name:
        raise UsageError(f"the trace is of workload {trace.workload!r}, not {workload.name!r}")
    if list(workload.node_ids) != trace.nodes:
        raise UsageError(
            f"the trace has nodes {trace.nodes}; workload {workload.name} has {list(workload.node_ids)}"
        )
    source = ReplaySource(trace, fallback_seed=fallback_seed)
    return World(
        workload, trace.variant, source=source, faults=trace.faults, max_steps=trace.max_steps, audit=audit,
    ).run()
