"""The primary-backup register of :mod:`splitbrain.impls.primary_backup`, written as a service people
write: an asyncio TCP server speaking newline-delimited JSON, with no splitbrain in its logic.

It is the same protocol — views, a primary that numbers each operation and answers once a majority holds
it, backups that take over after a randomized silence, promises that carry the newest state to a new
primary (Viewstamped Replication's shape, Oki & Liskov 1988) — but every message travels as a line of
JSON over TCP, timeouts are ``asyncio.sleep`` against ``time.monotonic()``, the election timeout comes
from ``random.uniform``, and each replica keeps one outgoing connection per peer, reconnecting when it
breaks. Clients send ``{"op": "read"|"write"|"cas", "value": ...}`` on their own connection and get
``{"ok": result}``, ``{"fail": reason}`` or ``{"redirect": address}``.

The only contact with the simulation is the ``host`` handed to :func:`main`: its address, its peers'
addresses and its durable ``storage`` (a real deployment would pass a config and a file). Run under
:mod:`splitbrain.aio`, the sockets, clocks and randomness are the simulated host's.

Bug variant ``early-ack`` (:func:`early_ack_main`): the primary answers writes and cas as soon as it has
applied them, before any backup has them, so a failover loses acknowledged writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from typing import Any

__all__ = ["ELECTION_TIMEOUT", "HEARTBEAT", "PORT", "Replica", "early_ack_main", "main"]

PORT = 7000
HEARTBEAT = 0.010  # seconds between the primary's Accepts (which double as heartbeats)
ELECTION_TIMEOUT = (0.040, 0.080)  # a backup's randomized patience with a silent primary
RECONNECT = 0.020


def encode(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, separators=(",", ":"), sort_keys=True).encode() + b"\n"


class Link:
    """The outgoing connection to one peer: lines are written while it is up and dropped while it is
    not (the protocol retransmits what matters); a broken connection is reopened in the background."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.writer: asyncio.StreamWriter | None = None
        self.connecting: asyncio.Task[None] | None = None

    def send(self, line: bytes) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(line)
        elif self.connecting is None or self.connecting.done():
            self.connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        try:
            _, self.writer = await asyncio.open_connection(self.address, PORT)
        except OSError:
            await asyncio.sleep(RECONNECT)


class Replica:
    """One replica. Durable state in ``storage``: ``view`` (promised), ``value`` and its ``(vview, vseq)``."""

    def __init__(self, me: str, addresses: dict[str, str], storage: dict[str, Any], exports: dict[str, Any], *,
                 early_ack: bool = False) -> None:
        self.me = me
        self.nodes = sorted(addresses)
        self.addresses = addresses
        self.storage = storage
        self.exports = exports
        self.early_ack = early_ack
        self.links = {n: Link(addresses[n]) for n in self.nodes if n != me}
        first = "view" not in storage
        if first:
            storage.update(view=0, value=None, vview=0, vseq=0)
        self.pending: dict[int, tuple[asyncio.Future[Any], Any]] = {}  # seq -> (the client's answer, result)
        self.acked: dict[str, int] = {}
        self.promises: dict[str, tuple[int, int, Any]] = {}
        # every replica starts in view 0 with the same empty state, so its primary needs no promises
        self.role = "primary" if first and self.primary_of(0) == me else "backup"
        self.deadline = 0.0
        self._reset_election()
        self._export()

    # -- helpers -------------------------------------------------------------------------------------------
    def primary_of(self, view: int) -> str:
        return self.nodes[view % len(self.nodes)]

    @property
    def majority(self) -> int:
        return len(self.nodes) // 2 + 1

    def _export(self) -> None:
        self.exports.update(role=self.role, view=self.storage["view"])

    def _reset_election(self) -> None:
        self.deadline = time.monotonic() + random.uniform(*ELECTION_TIMEOUT)

    def send(self, peer: str, msg: dict[str, Any]) -> None:
        self.links[peer].send(encode({**msg, "from": self.me}))

    def broadcast(self, msg: dict[str, Any]) -> None:
        for peer in self.links:
            self.send(peer, msg)

    def _broadcast_state(self) -> None:
        s = self.storage
        self.broadcast({"type": "accept", "view": s["view"], "seq": s["vseq"], "value": s["value"]})

    def _step_down(self, view: int) -> None:
        self.storage["view"] = view
        self.role = "backup"
        for answer, _ in self.pending.values():
            if not answer.done():
                answer.cancel()  # the client hears nothing: its operation's outcome is unknown
        self.pending.clear()
        self.acked.clear()
        self.promises.clear()
        self._reset_election()
        self._export()

    # -- clients -------------------------------------------------------------------------------------------
    async def serve_client(self, req: dict[str, Any]) -> dict[str, Any]:
        if self.role != "primary":
            leader = self.primary_of(self.storage["view"])
            if self.role == "backup" and leader != self.me:
                return {"redirect": self.addresses[leader]}
            return {"fail": "no primary: a view change is in progress"}
        s = self.storage
        op, value, result = req.get("op"), s["value"], None
        if op == "read":
            result = value
        elif op == "write":
            value = req["value"]
        elif op == "cas":
            old, new = req["value"]
            result = value == old
            if result:
                value = new
        else:
            return {"fail": f"unknown operation {op!r}"}
        seq = s["vseq"] + 1
        s.update(value=value, vview=s["view"], vseq=seq)
        self._broadcast_state()
        if self.early_ack and op != "read":
            return {"ok": result}
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[seq] = (answer, result)
        self._commit()
        return {"ok": await answer}

    def _commit(self) -> None:
        need = self.majority - 1
        if need == 0:
            committed = int(self.storage["vseq"])
        else:
            acks = sorted(self.acked.values(), reverse=True)
            if len(acks) < need:
                return
            committed = acks[need - 1]
        for seq in sorted(self.pending):
            if seq > committed:
                break
            answer, result = self.pending.pop(seq)
            if not answer.done():
                answer.set_result(result)

    # -- replication and view change -------------------------------------------------------------------------
    def on_peer(self, msg: dict[str, Any]) -> None:
        s, src, kind = self.storage, msg["from"], msg["type"]
        if kind == "accept":
            if msg["view"] < s["view"]:
                self.send(src, {"type": "nack", "view": s["view"]})
                return
            if msg["view"] > s["view"]:
                self._step_down(msg["view"])
            if (msg["view"], msg["seq"]) > (s["vview"], s["vseq"]):
                s.update(value=msg["value"], vview=msg["view"], vseq=msg["seq"])
            self.send(src, {"type": "accepted", "view": msg["view"], "seq": s["vseq"]})
            self._reset_election()
        elif kind == "accepted":
            if self.role == "primary" and msg["view"] == s["view"] and msg["seq"] > self.acked.get(src, 0):
                self.acked[src] = msg["seq"]
                self._commit()
        elif kind == "start-view":
            if msg["view"] > s["view"]:
                self._step_down(msg["view"])
            if msg["view"] == s["view"] and self.role == "backup":
                self.send(src, {"type": "promise", "view": msg["view"], "vview": s["vview"], "vseq": s["vseq"],
                                "value": s["value"]})
                self._reset_election()
            elif msg["view"] < s["view"]:
                self.send(src, {"type": "nack", "view": s["view"]})
        elif kind == "promise":
            if self.role == "candidate" and msg["view"] == s["view"]:
                self.promises[src] = (msg["vview"], msg["vseq"], msg["value"])
                if len(self.promises) >= self.majority:
                    self._become_primary()
        elif kind == "nack" and msg["view"] > s["view"]:
            self._step_down(msg["view"])

    def _start_view_change(self) -> None:
        s = self.storage
        n, me = len(self.nodes), self.nodes.index(self.me)
        view = s["view"] + 1
        view += (me - view) % n  # the next view this replica leads
        s["view"] = view
        self.role = "candidate"
        for answer, _ in self.pending.values():
            if not answer.done():
                answer.cancel()
        self.pending.clear()
        self.acked.clear()
        self.promises = {self.me: (s["vview"], s["vseq"], s["value"])}
        self.broadcast({"type": "start-view", "view": view})
        self._reset_election()
        self._export()

    def _become_primary(self) -> None:
        s = self.storage
        _, _, value = max(self.promises.values(), key=lambda p: (p[0], p[1]))
        s.update(value=value, vview=s["view"], vseq=1)
        self.role = "primary"
        self.promises.clear()
        self._broadcast_state()
        self._export()

    async def ticker(self) -> None:
        """Heartbeats while primary; a view change when a backup's deadline passes."""
        while True:
            await asyncio.sleep(HEARTBEAT)
            if self.role == "primary":
                self._broadcast_state()
            elif time.monotonic() >= self.deadline:
                self._start_view_change()

    # -- the TCP server --------------------------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                msg = json.loads(line)
                if "type" in msg:
                    self.on_peer(msg)
                    continue
                try:
                    answer = await self.serve_client(msg)
                except asyncio.CancelledError:
                    if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                        raise
                    break  # deposed while the operation waited: hang up (its outcome is unknown)
                writer.write(encode(answer))
                await writer.drain()
        except (ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()


async def main(host: Any, *, early_ack: bool = False) -> None:
    """Run a replica on ``host`` (anything with ``id``, ``ip``, ``addresses``, ``storage``, ``exports``)."""
    replica = Replica(host.id, dict(host.addresses), host.storage, host.exports, early_ack=early_ack)
    server = await asyncio.start_server(replica.handle, host.ip, PORT)
    ticker = asyncio.get_running_loop().create_task(replica.ticker())
    try:
        async with server:
            await server.serve_forever()
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


async def early_ack_main(host: Any) -> None:
    """The ``early-ack`` bug: writes are acknowledged before any backup holds them."""
    await main(host, early_ack=True)
