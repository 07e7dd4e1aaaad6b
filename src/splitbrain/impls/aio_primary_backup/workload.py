"""Workload ``aio-primary-backup``: the asyncio primary-backup service under every fault, checked for
linearizability against ``cas-register``.

The client is what a user of the service would write: open a connection to a server, send one JSON line,
read one back; follow a redirect to the primary (at most twice); a refused connection means the request
was never sent (``fail``), anything else unanswered leaves the outcome unknown (``info``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from splitbrain.aio import AsyncWorkload, Fail, Host
from splitbrain.impls.aio_primary_backup.server import PORT, early_ack_main, encode, main
from splitbrain.sim import ClientOp, FaultConfig, Rand, Request, invariant
from splitbrain.sim.world import World

__all__ = ["VALUES", "AioPrimaryBackupWorkload", "one_primary_per_view", "request"]

VALUES = (0, 1, 2, 3, 4)


async def request(address: str, msg: dict[str, Any], *, redirects: int = 2) -> Any:
    """Send ``msg`` to the server at ``address`` and return its result, following redirects."""
    for _ in range(redirects + 1):
        try:
            reader, writer = await asyncio.open_connection(address, PORT)
        except ConnectionRefusedError as exc:
            raise Fail(f"connection refused by {address}") from exc
        try:
            writer.write(encode(msg))
            line = await reader.readline()
        finally:
            writer.close()
        if not line:
            raise ConnectionResetError(f"{address} closed the connection without an answer")
        answer = json.loads(line)
        if "ok" in answer:
            return answer["ok"]
        if "fail" in answer:
            raise Fail(answer["fail"])
        address = answer["redirect"]
    raise Fail(f"still redirected after {redirects} redirects")


@invariant(state_only=True)
def one_primary_per_view(world: World) -> str | None:
    """At most one live replica acts as primary of any view, and only the view's designated primary."""
    seen: dict[int, str] = {}
    for node in world.live_nodes():
        exports = getattr(getattr(node, "host", None), "exports", {})
        if exports.get("role") != "primary":
            continue
        view = exports["view"]
        designated = node.nodes[view % len(node.nodes)]
        if designated != node.id:
            return f"{node.id} acts as primary of view {view}, which {designated} leads"
        if view in seen:
            return f"{seen[view]} and {node.id} both act as primary of view {view}"
        seen[view] = node.id
    return None


class AioPrimaryBackupWorkload(AsyncWorkload):
    """Three asyncio replicas, three clients issuing read / write / cas over values 0-4, every fault kind."""

    name = "aio-primary-backup"
    model = "cas-register"
    servers = {"correct": main, "early-ack": early_ack_main}
    disk = "durable"  # the replicas never fsync: every storage write is durable at once
    node_count = 3
    clients = 3
    faults = FaultConfig()
    invariants = (one_primary_per_view,)
    op_timeout = 200  # ms: an answer takes a few round trips of 1-5 ms; waiting longer only slows shrinking
    max_steps = 800

    def generate(self, rand: Rand, process: int) -> ClientOp:
        f = rand.choice(("read", "write", "cas"))
        if f == "read":
            return ClientOp("read")
        if f == "write":
            return ClientOp("write", rand.choice(VALUES))
        return ClientOp("cas", (rand.choice(VALUES), rand.choice(VALUES)))

    async def client(self, host: Host, op: Request) -> Any:
        value = list(op.value) if isinstance(op.value, tuple) else op.value
        return await request(host.ip, {"op": op.f, "value": value})
