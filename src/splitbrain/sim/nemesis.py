"""The nemesis steps: message faults, partitions, crashes, power losses, pauses, clock skew, quiesce.

Each fault is a step the scheduler may pick when the world's :class:`~splitbrain.sim.FaultConfig`
allows it and its budget lasts; its parameters (partition groups, skew, extra delay) are drawn when it
runs and recorded as fields of the step, so a replay applies them as written. Crashes, restarts,
partitions, heals, pauses and skews are also written to the history as ``nemesis`` events, Jepsen's
convention, for reports.

A ``crash`` kills the process: the node's storage survives whole (written data sits in the operating
system's cache). A ``power-loss`` also takes the machine down: the node restarts on what its disk
had synced, plus the unsynced writes that happened to land (:mod:`splitbrain.sim.disk`); which ones is
drawn when the step runs and recorded in its ``kept`` field, so a replay loses exactly the same writes.
Either way the messages other nodes sent it that are still in flight are not lost with it: they wait in
the network and reach the node's next incarnation once it restarts. An asynchronous network may deliver
a message any time after it was sent, so a process that crashes and recovers can receive what was sent
to it before the crash, and a protocol for crash-recovery must cope. Paxos's acceptor that forgets its
promise in a crash and then takes a lower ballot's Accept sent before the crash is the classic bug that
needs it (Lamport, "Paxos Made Simple", 2001: an acceptor must remember its promise through a crash).
Traces of version 1 (:data:`~splitbrain.sim.trace.TRACE_VERSION`), written before, lost those messages
with the crash, and their replays still do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from splitbrain.errors import UsageError
from splitbrain.sim.clock import Clock
from splitbrain.sim.disk import key_name
from splitbrain.sim.network import cuts_between, cuts_one_way
from splitbrain.sim.runtime import WorldBase

__all__ = [
    "NemesisSteps",
]

_ONE = ("",)  # the ids of a run of one key
_NEED_ROOM = frozenset({"crash", "pause", "power-loss"})  # faults that take a node away: max_down applies


class NemesisSteps(WorldBase):
    """The fault choices and the handlers of fault steps."""

    def _list_faults(self) -> tuple[bool, list[tuple[str, Sequence[str], int]], int, int]:
        """Whether the budget lasts, and the runs of every fault but the message faults, in canonical order
        — partitions, heal, then node faults (per node) — with how many keys they hold and their weight.

        World.enabled lists the message faults (per message in flight between nodes) before these: their
        runs hold a live view of the messages, so only their count varies from step to step; these change
        only with the faults used, the cut links and which nodes are up, and the world keeps them for as
        long as those stay the same (``_fault_cache``)."""
        runs: list[tuple[str, Sequence[str], int]] = []
        budget = self.faults.budget
        n = total = 0
        fresh = budget is None or self.faults_used < budget
        if fresh:
            for key, weight in self._global_faults:
                runs.append((key, _ONE, weight))
                n += 1
                total += weight
        heal = self._w["heal"]
        if heal and self.network.cuts:
            runs.append(("heal", _ONE, heal))
            n += 1
            total += heal
        if self._node_faults:
            targets = self._targets
            room = fresh and len(self.node_ids) - len(self._up) < self._max_down
            for kind, prefix, weight in self._node_faults:
                nodes = targets[kind]
                if nodes and (room if kind in _NEED_ROOM else fresh if kind == "skew" else True):
                    runs.append((prefix, nodes, weight))
                    n += len(nodes)
                    total += len(nodes) * weight
        return fresh, runs, n, total

    def _do_drop(self, arg: str, params: Mapping[str, Any]) -> None:
        m = self.network.pop(arg)
        self._rec.update(msg=m.id, src=m.src, dst=m.dst)
        self._lost.append(m.id)
        self.faults_used += 1

    def _do_duplicate(self, arg: str, params: Mapping[str, Any]) -> None:
        m = self.network.in_flight[arg]
        copy_msg = self.network.duplicate(m.id, now=self.time, delay=self._draw(*self.workload.delay))
        self._rec.update(msg=m.id, src=m.src, dst=m.dst)
        self._sent.append(copy_msg)
        self._sent_ids.append(copy_msg.id)
        self.faults_used += 1

    def _do_delay(self, arg: str, params: Mapping[str, Any]) -> None:
        m = self.network.in_flight[arg]
        extra = params.get("delay") or self._draw_param(1, max(1, self.faults.max_extra_delay))
        self.network.delay(m.id, now=self.time, extra=extra)
        self._rec.update(msg=m.id, src=m.src, dst=m.dst, delay=extra)
        self.faults_used += 1

    def _do_partition(self, arg: str, params: Mapping[str, Any]) -> None:
        groups = [list(g) for g in params["groups"]] if "groups" in params else self._draw_groups()
        self._check_nodes([n for g in groups for n in g])
        self._lost += self.network.set_cuts(cuts_between(groups))
        self._rec["groups"] = groups
        self.recorder.nemesis("partition", groups, time=self.time)
        self.faults_used += 1

    def _draw_groups(self) -> list[list[str]]:
        ids = self.node_ids
        k = self._draw_param(2, min(3, len(ids)))
        buckets: list[list[str]] = [[] for _ in range(k)]
        for node_id in ids:
            buckets[self._draw_param(0, k - 1)].append(node_id)
        groups = [b for b in buckets if b]
        return groups if len(groups) > 1 else [list(ids[:-1]), [ids[-1]]]

    def _do_oneway(self, arg: str, params: Mapping[str, Any]) -> None:
        if "groups" in params:
            sources, targets = (list(g) for g in params["groups"])
        else:
            bits = [self._draw_param(0, 1) for _ in self.node_ids]
            sources = [n for n, b in zip(self.node_ids, bits, strict=True) if b]
            targets = [n for n, b in zip(self.node_ids, bits, strict=True) if not b]
            if not sources or not targets:
                sources, targets = [self.node_ids[0]], list(self.node_ids[1:])
        self._check_nodes(sources + targets)
        self._lost += self.network.set_cuts(cuts_one_way(sources, targets))
        self._rec["groups"] = [sources, targets]
        self.recorder.nemesis("oneway", [sources, targets], time=self.time)
        self.faults_used += 1

    def _do_bridge(self, arg: str, params: Mapping[str, Any]) -> None:
        """Two sides that cannot reach each other and one node that reaches both (Jepsen's bridge): each
        side may see a majority through the bridge, so leaders can be elected on both sides in turn."""
        if "groups" in params:
            left, middle, right = (list(g) for g in params["groups"])
        else:
            ids = self.node_ids
            bridge = ids[self._draw_param(0, len(ids) - 1)]
            rest = [n for n in ids if n != bridge]
            sides = [self._draw_param(0, 1) for _ in rest]
            left = [n for n, s in zip(rest, sides, strict=True) if not s]
            right = [n for n, s in zip(rest, sides, strict=True) if s]
            if not left or not right:  # both sides must be non-empty: split the rest in halves
                half = (len(rest) + 1) // 2
                left, right = rest[:half], rest[half:]
            middle = [bridge]
        self._check_nodes(left + middle + right)
        self._lost += self.network.set_cuts(cuts_between([left, right]))
        self._rec["groups"] = [left, middle, right]
        self.recorder.nemesis("bridge", [left, middle, right], time=self.time)
        self.faults_used += 1

    def _do_heal(self, arg: str, params: Mapping[str, Any]) -> None:
        self.network.set_cuts(frozenset())
        self.recorder.nemesis("heal", None, time=self.time)

    def _take_down(self, node_id: str) -> None:
        """What a crash and a power loss share: the incarnation, its timers, the client requests it had
        not read and the requests it held are gone. Messages from other nodes still in flight to it stay
        in the network — deliverable once it restarts, to its next incarnation — since an asynchronous
        network may hold a message back for as long as it likes (traces of version 1 lost them here)."""
        self._discard(node_id)
        self._paused[node_id] = False
        for timer in [t for t in self._timers if t[0] == node_id]:
            self._timer_drop(timer)
        unread = [m.payload for m in self.network.in_flight.values() if m.client and m.dst == node_id]
        self._lost += self.network.drop_to(node_id, between_nodes=not self._crash_holds)
        for req in unread:
            self._connection_error(req, node_id, "fail", "connection reset before the request was read")
        for slot in self.clients:
            if slot.waiting is not None and slot.at == node_id:
                self._connection_error(slot.waiting, node_id, "info", "connection reset")
        self._rec["node"] = node_id
        self._refresh_nodes()
        self.faults_used += 1

    def _do_crash(self, node_id: str, params: Mapping[str, Any]) -> None:
        self._disks[node_id].restart_after_crash()
        self._take_down(node_id)
        self.recorder.nemesis("crash", node_id, time=self.time)

    def _do_power_loss(self, node_id: str, params: Mapping[str, Any]) -> None:
        recorded = params.get("kept")

        def fate(key: Any, appended: int | None) -> int:
            if isinstance(recorded, Mapping):  # a replay loses what the recorded step lost
                n = recorded.get(key_name(key), 0)
                if appended is None or n < 0 or n >= appended:
                    return -1 if n else 0
                return n
            if appended is None:
                return -self._draw_param(0, 1)
            landed = self._draw_param(0, appended)
            return -1 if landed == appended else landed

        disk = self._disks[node_id]
        dirty = bool(disk.dirty())
        kept = disk.restart_after_power_loss(fate)
        self._take_down(node_id)
        if dirty:
            self._rec["kept"] = kept
        self.recorder.nemesis("power-loss", node_id, time=self.time)

    def _do_restart(self, node_id: str, params: Mapping[str, Any]) -> None:
        self._rec["node"] = node_id
        self.recorder.nemesis("restart", node_id, time=self.time)
        self._boot(node_id)

    def _do_pause(self, node_id: str, params: Mapping[str, Any]) -> None:
        self._paused[node_id] = True
        self._refresh_nodes()
        self._rec["node"] = node_id
        self.recorder.nemesis("pause", node_id, time=self.time)
        self.faults_used += 1

    def _do_resume(self, node_id: str, params: Mapping[str, Any]) -> None:
        self._paused[node_id] = False
        self._refresh_nodes()
        self._rec["node"] = node_id
        self.recorder.nemesis("resume", node_id, time=self.time)

    def _do_skew(self, node_id: str, params: Mapping[str, Any]) -> None:
        f = self.faults
        skew = params["skew"] if "skew" in params else self._draw_param(-f.max_skew, f.max_skew)
        drift = params["drift"] if "drift" in params else self._draw_param(-f.max_drift_ppm, f.max_drift_ppm)
        self._clocks[node_id] = Clock(skew, drift)
        self._rec.update(node=node_id, skew=skew, drift=drift)
        self.recorder.nemesis("skew", [node_id, skew, drift], time=self.time)
        self.faults_used += 1

    def _do_quiesce(self, arg: str, params: Mapping[str, Any]) -> None:
        if self.network.cuts:
            self._do_heal("", {})
        resumed = [n for n in self.node_ids if self._paused[n]]
        for node_id in resumed:
            self._paused[node_id] = False
            self.recorder.nemesis("resume", node_id, time=self.time)
        self._refresh_nodes()
        restarted = [n for n in self.node_ids if self._nodes[n] is None]
        for node_id in restarted:
            self.recorder.nemesis("restart", node_id, time=self.time)
            self._boot(node_id)
        self._rec.update(restarted=restarted or None, resumed=resumed or None)

    def _check_nodes(self, names: list[str]) -> None:
        unknown = [n for n in names if n not in self._nodes]
        if unknown or len(set(names)) != len(names):
            raise UsageError(
                f"a partition must name each node at most once, from {self.node_ids}; got {names}"
            )
