"""Workload ``aiogossip``: the unmodified ``aiogossip`` library (asyncio gossip over UDP) on three hosts.

Each host runs what a user of the library writes: a ``Peer`` bound to the host's address, connected to the
other peers as seeds, with a subscriber that records every message it is handed. Clients publish unique
numbers through the peer of the host they call. The library manages its own UDP socket
(``socket.socket`` + ``loop.sock_sendto``/``sock_recvfrom``), ids from ``uuid``, peer sampling from
``random`` and route timestamps from ``time.time_ns``: all of it the simulated host's.

Two properties a gossip user relies on, checked on the history (``history_checks``):

* **no-duplicates** — a subscriber is handed each published message at most once;
* **delivery** — a message published by a live peer reaches every other peer that stays connected to
  it: every message whose publish completed while no partition, crash or pause was in effect, and with
  none starting within ``DELIVERY_WINDOW`` ticks after it, is delivered at every other peer. (The
  library has no retransmission, so a message lost to a partition is not expected to come back; the
  ``drop`` fault is left out for the same reason — a UDP datagram lost is lost.)
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from typing import Any

from splitbrain.aio import AsyncWorkload, Fail, Host
from splitbrain.histories import History
from splitbrain.sim import ClientOp, FaultConfig, Rand, Request

__all__ = ["DELIVERY_WINDOW", "PORT", "TOPIC", "AiogossipWorkload", "check_gossip", "peer_main"]

PORT = 7946
TOPIC = "chat"
#: ticks (ms) a publish in a healthy network has to reach every peer
DELIVERY_WINDOW = 200
_FAULTS_ON = ("partition", "oneway", "bridge", "crash", "power-loss", "pause")
_FAULTS_OFF = {"partition": "heal", "oneway": "heal", "bridge": "heal", "crash": "restart",
               "power-loss": "restart", "pause": "resume"}


async def peer_main(host: Host) -> None:
    """A gossip peer, as the library's README sets one up, that records what its subscriber receives."""
    import asyncio

    from aiogossip.peer import Peer
    from aiogossip.topology import Node
    from aiogossip.transport.address import Address

    peer = Peer(host=host.ip, port=PORT, peer_id=host.id)

    @peer.subscribe(TOPIC)
    async def received(message: Any) -> None:
        host.record("deliver", int(message.payload.decode()))

    seeds = [Node(node_id=n.encode(), node_addr=Address(ipaddress.ip_address(host.address(n)), PORT))
             for n in host.peers]
    peer.connect(seeds)
    host.exports["peer"] = peer
    await asyncio.Event().wait()  # serve until the host dies


def _healthy_windows(history: History) -> list[tuple[int, int]]:
    """The ``[start, end)`` times during which no partition, crash or pause was in effect."""
    active: Counter[str] = Counter()
    windows, start = [], 0
    for op in history.faults:
        was_healthy = not +active
        f = op.f
        if f in _FAULTS_ON:
            active[f if f not in ("oneway", "bridge") else "partition"] += 1
        elif f == "heal":
            active["partition"] = 0
        elif f in ("restart", "resume"):
            kind = "pause" if f == "resume" else ("crash" if active["crash"] else "power-loss")
            active[kind] = max(0, active[kind] - 1)
        healthy = not +active
        if was_healthy and not healthy:
            windows.append((start, int(op.time or 0)))
        elif healthy and not was_healthy:
            start = int(op.time or 0)
    if not +active:
        windows.append((start, 1 << 62))
    return windows


def check_gossip(node_ids: tuple[str, ...]) -> Any:
    """The workload's history check: ``(valid, explanation)`` for no-duplicates and delivery."""

    def judge(history: History) -> tuple[Any, str]:
        ops = history.operations
        published = {o.input: o for o in ops if o.f == "publish" and o.ok}
        counts = Counter((o.invoke.node, o.input) for o in ops if o.f == "deliver" and o.ok)
        twice = [f"{node} handed message {msg!r} to its subscriber {n} times"
                 for (node, msg), n in sorted(counts.items(), key=repr) if n > 1]
        windows = _healthy_windows(history)
        lost, checked = [], 0
        for msg, op in sorted(published.items(), key=repr):
            t = int(op.invoke.time or 0)
            if not any(lo <= t and t + DELIVERY_WINDOW <= hi for lo, hi in windows):
                continue  # published in a faulty network, or one that turned faulty before it could spread
            checked += 1
            publisher = op.completion.node if op.completion is not None else op.invoke.node
            missing = [n for n in node_ids if n != publisher and counts[(n, msg)] == 0]
            if missing:
                lost.append(f"message {msg!r}, published by {publisher} at t={t} in a healthy network, never "
                            f"reached {', '.join(missing)}")
        lines = []
        for prop, problems in (("no-duplicates", twice), ("delivery", lost)):
            if problems:
                lines.append(f"  {prop}: {len(problems)} violation(s), e.g.")
                lines += [f"    {p}" for p in problems[:5]]
        if lines:
            return False, "aiogossip:\n" + "\n".join(lines)
        return True, (f"aiogossip: {len(published)} messages published, {checked} in a healthy network each "
                      f"reached every peer; no message handed to a subscriber twice")

    return judge


class AiogossipWorkload(AsyncWorkload):
    """Three ``aiogossip`` peers; three clients publishing unique numbers."""

    name = "aiogossip"
    model = "gossip"  # judged by history_checks(): no-duplicates and delivery
    servers = {"correct": peer_main}
    node_count = 3
    clients = 3
    op_timeout = 200
    max_steps = 600
    settle = DELIVERY_WINDOW
    faults = FaultConfig(kinds=("duplicate", "delay", "reorder", "partition", "oneway", "crash", "pause", "skew"))

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("publish", rand.unique())

    async def client(self, host: Host, op: Request) -> Any:
        from aiogossip.message_pb2 import Message

        peer = host.exports.get("peer")
        if peer is None:
            raise Fail("the peer has not started")
        message = Message()
        message.payload = str(op.value).encode()
        await peer.publish(TOPIC, message)
        return None

    def history_checks(self) -> list[tuple[str, Any]]:
        return [("aiogossip", check_gossip(self.node_ids))]
