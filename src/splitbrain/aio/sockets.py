"""``socket.socket()`` in host code: a simulated UDP socket on the host's stack.

Libraries that manage their own socket and hand it to the loop (``loop.sock_sendto``/``sock_recvfrom``,
``create_datagram_endpoint(sock=...)``) get one of these instead of a real socket while their host runs.
Only datagram sockets are simulated this way: a stream socket is refused with a message that points to
asyncio's streams and protocols, which the simulated network implements (a raw TCP socket would need the
loop's readiness callbacks, which have no meaning without real file descriptors).
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from splitbrain.aio.env import current_node, refuse
from splitbrain.aio.segments import Addr
from splitbrain.aio.udp import UdpEndpoint

__all__ = ["SimSocket", "make_socket"]


def make_socket(family: int = -1, type: int = -1, proto: int = -1, fileno: Any = None) -> SimSocket:
    """What ``socket.socket(...)`` returns to host code."""
    if fileno is not None:
        raise refuse("socket.socket(fileno=...)", "wraps a real file descriptor")
    family = socket.AF_INET if family == -1 else family
    kind = socket.SOCK_STREAM if type == -1 else type
    if family not in (socket.AF_INET, socket.AF_INET6):
        raise refuse(f"socket.socket(family={family!r})", "opens a socket family the simulated network lacks")
    if kind & 0xF != socket.SOCK_DGRAM:
        raise refuse(
            "socket.socket(SOCK_STREAM)",
            "opens a raw TCP socket; the simulated network carries TCP through asyncio's streams and protocols "
            "(asyncio.open_connection, asyncio.start_server, loop.create_connection, loop.create_server)",
        )
    node = current_node()
    assert node is not None
    return SimSocket(node.stack, family)


class SimSocket:
    """A UDP socket of a simulated host (the subset of ``socket.socket`` that datagram code uses)."""

    def __init__(self, stack: Any, family: int) -> None:
        self._stack = stack
        self.family = family
        self.type = socket.SOCK_DGRAM
        self.proto = 0
        self._endpoint: UdpEndpoint | None = None
        self._remote: Addr | None = None
        self._blocking = True
        self._closed = False
        self._fd = stack.next_fd()

    def _bound(self) -> UdpEndpoint:
        if self._closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        if self._endpoint is None:
            self._endpoint = self._stack.bind_udp(None, self._remote)
        return self._endpoint

    def bind(self, address: Any) -> None:
        if self._endpoint is not None:
            raise OSError(errno.EINVAL, "Invalid argument")
        self._endpoint = self._stack.bind_udp(address, self._remote)

    def connect(self, address: Any) -> None:
        self._remote = self._stack.address(address)
        if self._endpoint is not None:
            self._endpoint.remote = self._remote

    def getsockname(self) -> Addr:
        return self._bound().local if self._endpoint is None else self._endpoint.local

    def getpeername(self) -> Addr:
        if self._remote is None:
            raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")
        return self._remote

    def setblocking(self, flag: bool) -> None:
        self._blocking = bool(flag)

    def settimeout(self, value: float | None) -> None:
        self._blocking = value is None

    def gettimeout(self) -> float | None:
        return None if self._blocking else 0.0

    def setsockopt(self, *args: Any) -> None:
        pass

    def getsockopt(self, *args: Any) -> int:
        return 0

    def fileno(self) -> int:
        return -1 if self._closed else self._fd

    def sendto(self, data: bytes, *args: Any) -> int:
        address = args[-1] if args else None
        return self._bound().sendto(data, address)

    def send(self, data: bytes, flags: int = 0) -> int:
        return self._bound().sendto(data, None)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, Addr]:
        endpoint = self._bound()
        if endpoint.queue:
            data, src = endpoint.queue.popleft()
            return data[:bufsize], src
        if self._blocking:
            raise refuse("socket.recvfrom() on a blocking socket", "would block the host in real time; use "
                         "loop.sock_recvfrom() or a datagram protocol")
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        return self.recvfrom(bufsize, flags)[0]

    async def receive(self, bufsize: int) -> tuple[bytes, Addr]:
        return await self._bound().receive(bufsize)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._endpoint is not None:
                self._endpoint.close()

    def detach(self) -> int:
        return self.fileno()

    def __enter__(self) -> SimSocket:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f" laddr={self._endpoint.local}" if self._endpoint is not None else ""
        return f"<simulated UDP socket fd={self.fileno()}{where}>"
