"""The client steps: invoking an operation, receiving a node's answer, timing out.

See :mod:`splitbrain.sim.client` for the semantics (Jepsen's ok / fail / info, redirects, retiring a
process after an unknown outcome). Operations and target nodes are drawn when an ``invoke`` step runs
and recorded as its fields, so a replay issues the same operation even after earlier steps are removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splitbrain.errors import UsageError
from splitbrain.histories import freeze
from splitbrain.sim.client import MAX_REDIRECTS, ClientOp, ClientSlot, Reply
from splitbrain.sim.node import Request
from splitbrain.sim.runtime import WorldBase
from splitbrain.sim.vclock import VectorClock

__all__ = [
    "ClientSteps",
]


class ClientSteps(WorldBase):
    """The handlers of client steps."""

    def _do_invoke(self, arg: str, params: Mapping[str, Any]) -> None:
        slot = self.clients[int(arg)]
        if "f" in params:
            op = ClientOp(params["f"], params.get("value"), params.get("op_key"))
        else:
            op = self.workload.generate(self._rand, slot.process)
        target = params.get("node") or self.workload.choose_node(self._rand, self.node_ids, slot.process)
        if target not in self._nodes:
            raise UsageError(f"client {slot.name} asked to send to unknown node {target!r} ({self.node_ids})")
        req = Request(self._next_request, slot.process, slot.name, op.f, freeze(op.value), freeze(op.key))
        self._next_request += 1
        slot.waiting, slot.target, slot.at, slot.redirects = req, target, None, 0
        slot.deadline = self.time + self.workload.op_timeout
        self._rec.update(client=slot.index, process=req.process, f=req.f, value=req.value, op_key=req.key,
                         node=target)
        msg = self._send(slot.name, target, req, client=True)
        self.recorder.invoke(req, time=self.time, node=target, vclock=msg.vclock)

    def _client_receive(self, slot: ClientSlot, reply: Reply, vc: VectorClock) -> None:
        req = slot.waiting
        if req is None or req.id != reply.request:
            self._rec["result"] = "stale"
            return
        self._rec.update(client=slot.index, process=req.process, result=reply.kind)
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

    def _do_timeout(self, arg: str, params: Mapping[str, Any]) -> None:
        slot = self.clients[int(arg)]
        req = slot.waiting
        assert req is not None
        self._rec.update(client=slot.index, process=req.process, f=req.f)
        vc = self._vclocks[slot.name] = self._vclocks[slot.name].tick(slot.name)  # a client event
        self.recorder.complete(req, "info", time=self.time, node=slot.target, vclock=vc, value=req.value,
                               error="timeout")
        self._retire(slot)

    def _retire(self, slot: ClientSlot) -> None:
        """The process's last operation has an unknown outcome: it is dead, a new process continues."""
        slot.waiting = None
        slot.next_at = self.time + self.workload.backoff
        slot.process = self._next_process
        self._next_process += 1
