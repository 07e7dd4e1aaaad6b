"""The fault-injecting TCP proxy: pass-through, delay, drop, cut, one-way cut, per-source modes.

No assertion depends on the machine being fast: a delay is checked as a lower bound (the proxy holds
every chunk at least that long), and "does not arrive" waits a short while for something that must
never come.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from splitbrain.errors import UsageError
from splitbrain.live.proxy import FaultProxy, Mode, http_header_source

QUIET = 0.3  # how long to wait for bytes that must not arrive


class Server:
    """A loopback server that hands each accepted connection to the test."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._ready = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(2)
            with self._ready:
                self.accepted.append(conn)
                self._ready.notify_all()

    def connection(self, n: int = 0, timeout: float = 2.0) -> socket.socket:
        with self._ready:
            assert self._ready.wait_for(lambda: len(self.accepted) > n, timeout), "no connection arrived"
            return self.accepted[n]

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture
def proxy(server: Server) -> Iterator[FaultProxy]:
    with FaultProxy(server.port, name="test") as p:
        yield p


def connect(proxy: FaultProxy) -> socket.socket:
    sock = socket.create_connection(proxy.address, timeout=2)
    return sock


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def nothing_arrives(sock: socket.socket) -> bool:
    sock.settimeout(QUIET)
    try:
        sock.recv(100)
    except TimeoutError:
        return True
    finally:
        sock.settimeout(2)
    return False  # bytes, or an unexpected close


def is_dead(sock: socket.socket) -> bool:
    """True when the connection was reset or closed under us."""
    try:
        return sock.recv(100) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def test_pass_through_both_ways_keeps_every_byte(server: Server, proxy: FaultProxy) -> None:
    client = connect(proxy)
    upstream = server.connection()
    payload = os.urandom(1 << 20)
    sender = threading.Thread(target=client.sendall, args=(payload,))
    sender.start()
    assert recv_exactly(upstream, len(payload)) == payload
    sender.join()
    upstream.sendall(b"reply")
    assert recv_exactly(client, 5) == b"reply"
    assert proxy.stats["forwarded"] == len(payload) + 5


def test_delay_holds_bytes_at_least_that_long(server: Server, proxy: FaultProxy) -> None:
    client = connect(proxy)
    upstream = server.connection()
    proxy.delay(0.2)
    started = time.monotonic()
    client.sendall(b"ping")
    assert recv_exactly(upstream, 4) == b"ping"
    upstream.sendall(b"pong")
    assert recv_exactly(client, 4) == b"pong"
    assert time.monotonic() - started >= 0.39  # 0.2 s each way; a lower bound never flakes
    for i in range(50):  # order is kept under delay
        client.sendall(b"%03d" % i)
    assert recv_exactly(upstream, 150) == b"".join(b"%03d" % i for i in range(50))


def test_drop_swallows_bytes_and_heal_resets_the_damaged_connection(
    server: Server, proxy: FaultProxy
) -> None:
    client = connect(proxy)
    upstream = server.connection()
    proxy.drop()
    client.sendall(b"lost")
    upstream.sendall(b"lost too")
    assert nothing_arrives(upstream)
    assert nothing_arrives(client)
    assert proxy.stats["swallowed"] == 12
    late = connect(proxy)  # a connection opened during the blackhole never reaches the server
    late.sendall(b"hello?")
    assert nothing_arrives(late)
    assert len(server.accepted) == 1
    proxy.heal()
    assert is_dead(client)  # the stream lost bytes: it cannot resume
    assert is_dead(late)
    fresh = connect(proxy)
    fresh.sendall(b"again")
    assert recv_exactly(server.connection(1), 5) == b"again"


def test_cut_resets_connections_and_refuses_new_ones(server: Server, proxy: FaultProxy) -> None:
    client = connect(proxy)
    server.connection()
    proxy.cut()
    assert is_dead(client)
    try:
        refused = connect(proxy)
    except ConnectionError:
        pass  # the reset can win the race with connect() itself: refused all the same
    else:
        assert is_dead(refused)
    assert len(server.accepted) == 1
    proxy.heal()
    again = connect(proxy)
    again.sendall(b"back")
    assert recv_exactly(server.connection(1), 4) == b"back"


@pytest.mark.parametrize("direction", ["up", "down"])
def test_oneway_cut_blocks_one_direction_only(server: Server, proxy: FaultProxy, direction: str) -> None:
    client = connect(proxy)
    upstream = server.connection()
    proxy.oneway(direction)  # type: ignore[arg-type]
    client.sendall(b"to-server")
    upstream.sendall(b"to-client")
    if direction == "up":
        assert nothing_arrives(upstream)
        assert recv_exactly(client, 9) == b"to-client"
    else:
        assert recv_exactly(upstream, 9) == b"to-server"
        assert nothing_arrives(client)


def test_per_source_modes_from_an_http_header(server: Server) -> None:
    classify = http_header_source("X-Server-From", {"a1": "alice"})
    with FaultProxy(server.port, classify=classify) as proxy:
        proxy.drop(source="alice")
        alice = connect(proxy)
        alice.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Server-From: a1\r\n\r\n")
        bob = connect(proxy)
        bob.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Server-From: b2\r\n\r\n")
        upstream = server.connection()  # only bob's connection reaches the server
        assert b"X-Server-From: b2" in upstream.recv(1000)
        assert nothing_arrives(alice)
        assert len(server.accepted) == 1
        assert proxy.mode_of("alice") == Mode("drop") and proxy.mode_of("b2") == Mode()


def test_stop_closes_everything(server: Server) -> None:
    proxy = FaultProxy(server.port).start()
    client = connect(proxy)
    server.connection()
    proxy.stop()
    assert is_dead(client)
    with pytest.raises(OSError):
        socket.create_connection(proxy.address, timeout=1)
    proxy.stop()  # idempotent


def test_bad_modes_are_usage_errors(proxy: FaultProxy) -> None:
    with pytest.raises(UsageError, match="direction"):
        proxy.set_mode(Mode("oneway"))
    with pytest.raises(UsageError, match="delay"):
        proxy.delay(-1)


def test_a_dead_upstream_is_refused_not_accepted_then_closed() -> None:
    """With the server gone, the proxy must not accept a connection and then close it (a client cannot
    tell that from a lost reply): it stops listening, so clients get ECONNREFUSED — a definite failure —
    and it listens again once the server is back on its port."""
    upstream = socket.create_server(("127.0.0.1", 0))
    port = upstream.getsockname()[1]
    with FaultProxy(port, name="refusal") as proxy:
        with socket.create_connection(proxy.address, timeout=2):
            upstream.accept()[0].close()  # the server is up: passed through
        upstream.close()  # the server dies
        with socket.create_connection(proxy.address, timeout=2) as first:
            assert is_dead(first)  # the one connection that discovered the dead server: reset
        deadline = time.monotonic() + 2
        while not proxy.refusing and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(proxy.address, timeout=2)
        back = socket.create_server(("127.0.0.1", port))  # the server restarts on its port
        try:
            deadline = time.monotonic() + 3
            while proxy.refusing and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not proxy.refusing
            back.accept()[0].close()  # the proxy's probe
            with socket.create_connection(proxy.address, timeout=2) as client:
                client.sendall(b"ping")
                conn, _ = back.accept()
                conn.settimeout(2)
                assert recv_exactly(conn, 4) == b"ping"
                conn.close()
        finally:
            back.close()
