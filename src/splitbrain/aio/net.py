"""`HostStack`: a simulated host's network stack — addresses, ports, name lookups, TCP and UDP.

Host ``nodes[i]`` has the address ``192.0.2.(i+1)`` (TEST-NET-1, RFC 5737: reserved for documentation,
never routed, so no simulated address can be mistaken for a real one). Names resolve as a small
``/etc/hosts`` would: a node id (``"n2"``) or its address to that host; ``localhost``, ``127.0.0.1``,
``::1``, ``0.0.0.0`` and the empty name to the host itself. A socket bound to any local name is bound to
the host's address, and reachable from every host (the simulation has one interface per host).

Segments between two hosts are world messages (``Node.send``), subject to every network fault; segments
a host sends itself go through its loop's ready queue, as loopback does, and are never lost.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from splitbrain.aio.env import refuse
from splitbrain.aio.segments import Addr, Datagram, Rst, Segment, Syn, SynAck, Tcp
from splitbrain.aio.sockets import SimSocket
from splitbrain.aio.tcp import Connection, FakeSocket, TcpTransport
from splitbrain.aio.udp import DatagramTransport, UdpEndpoint

if TYPE_CHECKING:
    from splitbrain.aio.loop import SimLoop
    from splitbrain.aio.node import AsyncNode

__all__ = ["EPHEMERAL", "HostStack", "SimServer", "host_addresses"]

#: the first ephemeral port (IANA's dynamic range)
EPHEMERAL = 49152
_LOCAL_NAMES = frozenset({None, "", "localhost", "127.0.0.1", "::1", "0.0.0.0", "::"})


def host_addresses(nodes: tuple[str, ...]) -> dict[str, str]:
    """Node id -> its simulated IPv4 address."""
    if len(nodes) > 254:
        raise ValueError(f"the simulated network addresses at most 254 hosts, not {len(nodes)}")
    return {node: f"192.0.2.{i + 1}" for i, node in enumerate(nodes)}


class HostStack:
    """The network stack of one host incarnation."""

    def __init__(self, node: AsyncNode, loop: SimLoop, *, boot: int, rto: float, rto_max: float,
                 tcp_timeout: float, ack_delay: float) -> None:
        self.node, self.loop = node, loop
        self.addresses = host_addresses(node.nodes)
        self.hosts = {ip: n for n, ip in self.addresses.items()}
        self.ip = self.addresses[node.id]
        self.boot = boot
        self.rto, self.rto_max, self.tcp_timeout, self.ack_delay = rto, rto_max, tcp_timeout, ack_delay
        self.connections: dict[tuple[int, str, int, int], Connection] = {}
        self.listeners: dict[int, SimServer] = {}
        self.udp: dict[int, UdpEndpoint] = {}
        self._next_port = EPHEMERAL
        self._cids = 0
        self._fds = 100

    # -- names and addresses -------------------------------------------------------------------------------
    def resolve(self, name: Any) -> str:
        """The address ``name`` stands for (``socket.gaierror`` if none)."""
        if isinstance(name, bytes):
            name = name.decode()
        if name in _LOCAL_NAMES:
            return self.ip
        if name in self.addresses:
            return self.addresses[name]
        if name in self.hosts:
            return str(name)
        raise socket.gaierror(socket.EAI_NONAME, f"Name or service not known: {name!r} (simulated hosts: "
                              f"{', '.join(f'{n} {ip}' for n, ip in self.addresses.items())})")

    def host_of(self, ip: str) -> str:
        return self.hosts.get(ip, ip)

    def address(self, address: Any) -> Addr:
        """``(ip, port)`` for an address tuple whose host may be a name."""
        if not isinstance(address, tuple | list) or len(address) < 2:
            raise TypeError(f"an address is a (host, port) tuple, not {address!r}")
        return self.resolve(str(address[0])), int(address[1])

    def getaddrinfo(self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0) -> list[Any]:
        ip = self.resolve(host)
        if isinstance(port, bytes):
            port = port.decode()
        if isinstance(port, str):
            if not port.isdigit():
                raise socket.gaierror(socket.EAI_SERVICE, f"Servname not supported: {port!r}")
            port = int(port)
        port = port or 0
        out = []
        for kind, number in ((socket.SOCK_STREAM, socket.IPPROTO_TCP), (socket.SOCK_DGRAM, socket.IPPROTO_UDP)):
            if type in (0, kind) and proto in (0, number):
                out.append((socket.AF_INET, kind, number, "", (ip, port)))
        return out

    def _local(self, host: Any) -> str:
        hosts = host if isinstance(host, list | tuple | set | frozenset) else [host]
        for name in hosts:
            if name not in _LOCAL_NAMES and name != self.node.id and name != self.ip:
                raise OSError(errno.EADDRNOTAVAIL, f"Cannot assign requested address: {name!r} is not host "
                              f"{self.node.id} ({self.ip})")
        return self.ip

    def _port(self, taken: dict[int, Any]) -> int:
        while self._next_port in taken or any(key[0] == self._next_port for key in self.connections):
            self._next_port += 1
        port = self._next_port
        self._next_port += 1
        return port

    def next_fd(self) -> int:
        self._fds += 1
        return self._fds

    def socket_of(self, sock: Any, what: str) -> SimSocket:
        if isinstance(sock, SimSocket):
            return sock
        raise refuse(what, "uses a real socket; make the socket in host code (socket.socket() gives a simulated "
                     "one there) or use asyncio's streams and protocols")

    # -- moving segments ---------------------------------------------------------------------------------------
    def transmit(self, dst: Addr, seg: Any) -> None:
        if self.node._dying:
            return  # a crashed host's last words go nowhere
        node = self.hosts.get(dst[0])
        if node is None:
            raise OSError(errno.ENETUNREACH, f"Network is unreachable: {dst[0]} is no simulated host")
        if node == self.node.id:
            self.loop.call_soon(self.receive, seg)
        else:
            self.node.send(node, seg)

    def receive(self, seg: Any) -> None:
        """A segment or datagram arrived for this host."""
        if isinstance(seg, Datagram):
            endpoint = self.udp.get(seg.dst[1])
            if endpoint is not None:
                endpoint.arrived(seg)
            return
        if not isinstance(seg, Tcp):
            return
        conn = self.connections.get((seg.dst[1], seg.src[0], seg.src[1], seg.cid))
        if conn is not None:
            conn.receive(seg)
        elif isinstance(seg, Syn):
            server = self.listeners.get(seg.dst[1])
            if server is not None and server.is_serving():
                self._accept(server, seg)
            else:
                self.transmit(seg.src, Rst(seg.dst, seg.src, seg.cid))  # connection refused
        elif isinstance(seg, Segment | SynAck):
            self.transmit(seg.src, Rst(seg.dst, seg.src, seg.cid))  # no such connection (any more)

    def forget(self, conn: Connection) -> None:
        self.connections.pop(conn.key, None)

    # -- TCP -----------------------------------------------------------------------------------------------------
    async def open_tcp(self, protocol_factory: Callable[[], asyncio.BaseProtocol], host: Any, port: Any,
                       *, ssl: Any = None, sock: Any = None, local_addr: Any = None, **_: Any) -> Any:
        if ssl:
            raise refuse("create_connection(ssl=...)", "needs TLS, which the simulated network does not offer")
        if sock is not None:
            raise refuse("create_connection(sock=...)", "connects a real socket")
        remote = (self.resolve(host), int(port))
        lport = self._port(self.listeners) if local_addr is None else int(local_addr[1])
        self._cids += 1
        conn = Connection(self, (self.ip, lport), remote, self.boot * 1_000_000 + self._cids, opening=True)
        self.connections[conn.key] = conn
        conn.open()
        assert conn.established is not None
        try:
            await conn.established
        except asyncio.CancelledError:
            conn.abort()
            raise
        protocol = protocol_factory()
        transport = TcpTransport(conn, protocol)
        protocol.connection_made(transport)
        conn.attach(transport)
        return transport, protocol

    def listen_tcp(self, protocol_factory: Callable[[], asyncio.BaseProtocol], host: Any, port: Any,
                   *, ssl: Any = None, sock: Any = None, start_serving: bool = True, **_: Any) -> SimServer:
        if ssl:
            raise refuse("create_server(ssl=...)", "needs TLS, which the simulated network does not offer")
        if sock is not None:
            raise refuse("create_server(sock=...)", "listens on a real socket")
        ip = self._local(host)
        port = int(port or 0) or self._port(self.listeners)
        if port in self.listeners:
            raise OSError(errno.EADDRINUSE, f"[Errno 98] error while attempting to bind on address "
                          f"('{ip}', {port}): address already in use")
        server = SimServer(self, protocol_factory, (ip, port), serving=start_serving)
        self.listeners[port] = server
        return server

    def _accept(self, server: SimServer, syn: Syn) -> None:
        conn = Connection(self, syn.dst, syn.src, syn.cid, opening=False)
        self.connections[conn.key] = conn
        self.transmit(syn.src, SynAck(syn.dst, syn.src, syn.cid))
        protocol = server.factory()
        transport = TcpTransport(conn, protocol)
        self.loop.call_soon(protocol.connection_made, transport)  # as asyncio's socket transport does
        conn.attach(transport)

    # -- UDP -----------------------------------------------------------------------------------------------------
    def bind_udp(self, address: Any, remote: Addr | None) -> UdpEndpoint:
        if address is None:
            port = self._port(self.udp)
        else:
            self._local(address[0])
            port = int(address[1]) or self._port(self.udp)
        if port in self.udp:
            raise OSError(errno.EADDRINUSE, f"Address already in use: port {port} of {self.node.id}")
        endpoint = UdpEndpoint(self, (self.ip, port), remote)
        self.udp[port] = endpoint
        return endpoint

    def unbind_udp(self, endpoint: UdpEndpoint) -> None:
        if self.udp.get(endpoint.local[1]) is endpoint:
            del self.udp[endpoint.local[1]]

    def send_datagram(self, dgram: Datagram) -> None:
        self.transmit(dgram.dst, dgram)

    def open_udp(self, protocol_factory: Callable[[], asyncio.BaseProtocol], local_addr: Any, remote_addr: Any,
                 *, sock: Any = None, **_: Any) -> tuple[DatagramTransport, asyncio.BaseProtocol]:
        remote = self.address(remote_addr) if remote_addr is not None else None
        if sock is not None:
            endpoint = self.socket_of(sock, "create_datagram_endpoint(sock=...)")._bound()
        else:
            endpoint = self.bind_udp(local_addr, remote)
        protocol = protocol_factory()
        transport = DatagramTransport(endpoint, protocol)  # type: ignore[arg-type]
        protocol.connection_made(transport)
        return transport, protocol


class SimServer(asyncio.AbstractServer):
    """What ``create_server``/``start_server`` return on a simulated host."""

    def __init__(self, stack: HostStack, factory: Callable[[], asyncio.BaseProtocol], local: Addr, *,
                 serving: bool) -> None:
        self._stack = stack
        self.factory = factory
        self._local = local
        self._serving = serving
        self._waiters: list[asyncio.Future[None]] = []

    def close(self) -> None:
        if self._stack.listeners.get(self._local[1]) is self:
            del self._stack.listeners[self._local[1]]
        self._serving = False
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()
        self._waiters.clear()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._stack.loop

    def is_serving(self) -> bool:
        return self._serving

    @property
    def sockets(self) -> tuple[Any, ...]:
        return (FakeSocket(self._local, None, socket.SOCK_STREAM),)

    async def start_serving(self) -> None:
        self._serving = True

    async def serve_forever(self) -> None:
        self._serving = True
        waiter: asyncio.Future[None] = self._stack.loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            self.close()

    async def wait_closed(self) -> None:
        return None
