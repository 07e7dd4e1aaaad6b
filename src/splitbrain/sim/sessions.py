"""The client steps: invoking an operation, receiving a node's answer, timing out.

See :mod:`splitbrain.sim.client` for the semantics (Jepsen's ok / fail / info, redirects, retiring a
process after an unknown outcome). Operations and target nodes are drawn when an ``invoke`` step runs
and recorded as its fields, so a replay issues the same operation even after earlier steps are removed.
Each slot's :class:`~splitbrain.sim.client.Client` picks them, hears every answer and may retry a
failed or timed-out attempt elsewhere; a retry is recorded on the step that caused it (``result``
``retry``, ``node`` the new target).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splitbrain.errors import UsageError
from splitbrain.histories import freeze
from splitbrain.sim.client import MAX_REDIRECTS, ClientOp, ClientSlot, Reply
from splitbrain.sim.node import Request
from splitbrain.sim.runtime import _NEVER, WorldBase
from splitbrain.sim.vclock import VectorClock

__all__ = [
    "ClientSteps",
]


class ClientSteps(WorldBase):
    """The handlers of client steps."""

    def _slot_changed(self, slot: ClientSlot) -> None:
        """Note when the slot next acts (World.enabled reads it): its timeout, or its next invocation."""
        _, timeout_run, invoke_run = self._client_runs[slot.index]
        times = self._client_times
        if slot.waiting is not None:
            times[slot.index] = (slot.deadline, timeout_run, False)
        else:
            times[slot.index] = (slot.next_at, invoke_run, True)
        soonest = busy = _NEVER
        for at, _, idle in times:
            if at < soonest:
                soonest = at
            if not idle and at < busy:
                busy = at
        self._client_soonest, self._client_soonest_busy = soonest, busy

    def _do_invoke(self, arg: str, params: Mapping[str, Any]) -> None:
        slot = self.clients[int(arg)]
        try:
            self._invoke(slot, params)
        finally:
            self._slot_changed(slot)

    def _invoke(self, slot: ClientSlot, params: Mapping[str, Any]) -> None:
        client = slot.client
        if "f" in params:
            op = ClientOp(params["f"], params.get("value"), params.get("op_key"))
        else:
            op = client.generate(self._rand)
        target = params.get("node") or client.choose_node(self._rand)
        if target not in self._nodes:
            raise UsageError(f"client {slot.name} asked to send to unknown node {target!r} ({self.node_ids})")
        name = slot.name
        req = Request(self._next_request, slot.process, name, op.f, freeze(op.value), freeze(op.key))
        self._next_request += 1
        slot.waiting, slot.target, slot.at, slot.redirects, slot.retries = req, target, None, 0, 0
        self._busy += 1
        slot.deadline = self.time + self.workload.op_timeout
        self._rec.update(client=slot.index, process=req.process, f=req.f, value=req.value, op_key=req.key,
                         node=target)
        msg = self._send(name, target, req, client=True)
        self.recorder.invoke(req, time=self.time, node=target, vclock=msg.vclock)

    def _client_receive(self, slot: ClientSlot, reply: Reply, vc: VectorClock) -> None:
        try:
            self._receive(slot, reply, vc)
        finally:
            self._slot_changed(slot)

    def _receive(self, slot: ClientSlot, reply: Reply, vc: VectorClock) -> None:
        req = slot.waiting
        if req is None or req.id != reply.request:
            self._rec["result"] = "stale"
            return
        self._rec.update(client=slot.index, process=req.process, result=reply.kind)
        slot.client.on_answer(req, reply.kind, reply.value, reply.node)
        if reply.kind in ("fail", "info") and self._retry(slot, req, reply.kind, reply.value, reply.node):
            return
        if reply.kind == "redirect":
            target = reply.value
            if slot.redirects < MAX_REDIRECTS and target in self._nodes:
                slot.redirects += 1
                slot.target, slot.at = target, None
                self._rec["node"] = target
                self._send(slot.name, target, req, client=True)
                return
            error = f"redirected {slot.redirects} times, last to {target!r}"
            self.recorder.complete(req, "fail", time=self.time, node=reply.node, vclock=vc, value=req.value,
                                   error=error)
        elif reply.kind == "ok":
            self._rec["value"] = reply.value
            self.recorder.complete(req, "ok", time=self.time, node=reply.node, vclock=vc, value=reply.value)
        elif reply.kind == "info":
            self.recorder.complete(req, "info", time=self.time, node=reply.node, vclock=vc, value=req.value,
                                   error=reply.value)
            self._retire(slot)
            return
        else:
            self.recorder.complete(req, "fail", time=self.time, node=reply.node, vclock=vc, value=req.value,
                                   error=reply.value)
        if reply.kind != "ok":
            slot.next_at = self.time + self.workload.backoff
        slot.waiting = None
        self._busy -= 1

    def _retry(self, slot: ClientSlot, req: Request, kind: str, error: Any, node: str | None) -> bool:
        """Ask the client whether to retry ``req`` elsewhere; if so, resend it and say so."""
        client = slot.client
        if slot.retries >= client.max_retries:
            return False
        target = client.retry(req, kind, error, node)
        if target is None:
            return False
        if target not in self._nodes:
            raise UsageError(f"client {slot.name} retried at unknown node {target!r} ({self.node_ids})")
        slot.retries += 1
        slot.target, slot.at = target, None
        slot.deadline = self.time + self.workload.op_timeout
        self._rec.update(result="retry", node=target)
        self._send(slot.name, target, req, client=True)
        return True

    def _do_timeout(self, arg: str, params: Mapping[str, Any]) -> None:
        slot = self.clients[int(arg)]
        try:
            self._time_out(slot)
        finally:
            self._slot_changed(slot)

    def _time_out(self, slot: ClientSlot) -> None:
        req = slot.waiting
        assert req is not None
        self._rec.update(client=slot.index, process=req.process, f=req.f)
        slot.client.on_answer(req, "timeout", None, slot.target)
        if self._retry(slot, req, "timeout", "timeout", slot.target):
            return
        vc = self._vclocks[slot.name] = self._vclocks[slot.name].tick(slot.name)  # a client event
        self.recorder.complete(req, "info", time=self.time, node=slot.target, vclock=vc, value=req.value,
                               error="timeout")
        self._retire(slot)

    def _retire(self, slot: ClientSlot) -> None:
        """The process's last operation has an unknown outcome: it is dead, a new process continues."""
        slot.waiting = None
        self._busy -= 1
        slot.next_at = self.time + self.workload.backoff
        slot.process = slot.client.process = self._next_process
        self._next_process += 1
