"""UDP on simulated hosts: datagram endpoints (protocols) and bound sockets (``sock_recvfrom``).

A datagram is a world message and nothing more: the network's drops, duplicates, delays and reordering
reach the application as they are, as on a real network. A datagram to a port nobody has bound is
discarded (the ICMP error a real host would send back is not modelled), and so is one that arrives while
the socket's queue holds :data:`QUEUE_LIMIT` datagrams already (a full receive buffer).
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from typing import TYPE_CHECKING, Any

from splitbrain.aio.segments import Addr, Datagram
from splitbrain.aio.tcp import FakeSocket

if TYPE_CHECKING:
    from splitbrain.aio.net import HostStack

__all__ = ["QUEUE_LIMIT", "DatagramTransport", "UdpEndpoint"]

#: datagrams a socket holds before it drops new ones
QUEUE_LIMIT = 1024


class UdpEndpoint:
    """A bound UDP port: hands arriving datagrams to a protocol, or queues them for ``receive``."""

    def __init__(self, stack: HostStack, local: Addr, remote: Addr | None = None) -> None:
        self.stack = stack
        self.local = local
        self.remote = remote
        self.protocol: asyncio.DatagramProtocol | None = None
        self.queue: deque[tuple[bytes, Addr]] = deque()
        self.waiters: deque[asyncio.Future[tuple[bytes, Addr]]] = deque()
        self.closed = False

    def arrived(self, dgram: Datagram) -> None:
        if self.closed:
            return
        if self.remote is not None and dgram.src != self.remote:
            return  # a connected socket only hears its peer
        if self.protocol is not None:
            self.stack.loop.call_soon(self.protocol.datagram_received, dgram.data, dgram.src)
            return
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result((dgram.data, dgram.src))
                return
        if len(self.queue) < QUEUE_LIMIT:
            self.queue.append((dgram.data, dgram.src))

    async def receive(self, bufsize: int) -> tuple[bytes, Addr]:
        if self.queue:
            data, src = self.queue.popleft()
            return data[:bufsize], src
        waiter: asyncio.Future[tuple[bytes, Addr]] = self.stack.loop.create_future()
        self.waiters.append(waiter)
        data, src = await waiter
        return data[:bufsize], src

    def sendto(self, data: bytes, address: Any = None) -> int:
        dst = self.remote if address is None else self.stack.address(address)
        if dst is None:
            raise OSError(89, "Destination address required")
        self.stack.send_datagram(Datagram(self.local, dst, bytes(data)))
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.stack.unbind_udp(self)
            for waiter in self.waiters:
                waiter.cancel()
            self.waiters.clear()


class DatagramTransport(asyncio.DatagramTransport):
    """asyncio's view of a :class:`UdpEndpoint`."""

    def __init__(self, endpoint: UdpEndpoint, protocol: asyncio.DatagramProtocol) -> None:
        super().__init__({
            "sockname": endpoint.local, "peername": endpoint.remote,
            "socket": FakeSocket(endpoint.local, endpoint.remote, socket.SOCK_DGRAM),
        })
        self._endpoint = endpoint
        self._protocol = protocol
        self._closing = False
        endpoint.protocol = protocol

    def sendto(self, data: Any, addr: Any = None) -> None:
        if self._closing:
            return
        if self._endpoint.remote is not None and addr not in (None, self._endpoint.remote):
            raise ValueError(f"Invalid address: must be None or {self._endpoint.remote}")
        self._endpoint.sendto(bytes(data), addr)

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._endpoint.close()
        self._endpoint.stack.loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def is_closing(self) -> bool:
        return self._closing

    def get_write_buffer_size(self) -> int:
        return 0

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol  # type: ignore[assignment]
        self._endpoint.protocol = protocol  # type: ignore[assignment]

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol
