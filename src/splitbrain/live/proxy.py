"""`FaultProxy`: a TCP proxy on loopback that can delay, drop, cut or one-way-cut the traffic it forwards.

Put one in front of a server port and point clients (or peers) at the proxy's port; switch its mode at
any time from any thread. Modes:

* ``pass``  — forward bytes unchanged;
* ``delay`` — forward every chunk ``seconds`` after it arrived, in order (latency, not reordering);
* ``drop``  — accept connections but swallow every byte, both ways (a blackholed network path);
* ``cut``   — reset every connection and every new one (a refused or torn-down path);
* ``oneway``— swallow one direction only: ``up`` is client → server, ``down`` is server → client.

A byte stream that lost bytes cannot resume: TCP would have retransmitted them and, after the path
stayed dead, reset the connection. So a connection that had bytes swallowed is reset when its path is
healed; the application sees what it would see on a real network and reconnects.

Modes can be set per *source*: a ``classify`` callback reads the first bytes of each new connection
(until ``head_done`` says they are enough: by default an HTTP request header) and names who opened it
(etcd peers say so in an ``X-Server-From`` header; PySyncObj peers send their address first). A source's
mode overrides the proxy's default, which is how one proxy per server can cut some peers and not others.

A dead upstream is passed through as a *refusal*: when the server behind the proxy refuses a connection
(it was killed), the proxy stops listening until the server accepts again (probed every
``PROBE_INTERVAL`` seconds), so clients get ``ECONNREFUSED`` exactly as they would without the proxy —
a definite failure — instead of a connection that is accepted and then closed, whose outcome a client
cannot know. (Only the one connection that discovered the dead server sees a reset.)

Implementation: one asyncio event loop in a daemon thread per proxy; mode changes are handed to that loop
and applied before the setter returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from splitbrain.errors import UsageError

__all__ = [
    "CONNECT_TIMEOUT",
    "HEAD_LIMIT",
    "HEAD_TIMEOUT",
    "PASS",
    "PROBE_INTERVAL",
    "QUEUE_LIMIT",
    "Direction",
    "FaultProxy",
    "Kind",
    "Mode",
    "http_head_done",
    "http_header_source",
    "stop_all",
]


Kind = Literal["pass", "delay", "drop", "cut", "oneway"]
Direction = Literal["up", "down"]
#: how much of a new connection's first bytes ``classify`` may see (a request header)
HEAD_LIMIT = 16384
HEAD_TIMEOUT = 1.0
CONNECT_TIMEOUT = 2.0
QUEUE_LIMIT = 256  # chunks queued per direction before the proxy stops reading
PROBE_INTERVAL = 0.05  # while the upstream refuses: how often to try it before listening again

_PROXIES: weakref.WeakSet[FaultProxy] = weakref.WeakSet()


@dataclass(frozen=True)
class Mode:
    """How a path behaves: ``kind``, with ``delay`` seconds for ``delay`` and ``direction`` for
    ``oneway``."""

    kind: Kind = "pass"
    delay: float = 0.0
    direction: Direction | None = None

    def swallows(self, direction: Direction) -> bool:
        return self.kind == "drop" or (self.kind == "oneway" and self.direction == direction)

    def __str__(self) -> str:
        if self.kind == "delay":
            return f"delay {self.delay * 1000:.0f} ms"
        if self.kind == "oneway":
            return f"oneway cut ({self.direction})"
        return self.kind


PASS = Mode()


class _Conn:
    """One proxied connection: its two transports, where it came from, and whether it lost bytes."""

    __slots__ = ("aborted", "client", "source", "tainted", "upstream")

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.source: str | None = None
        self.tainted = False
        self.aborted = False

    def abort(self) -> None:
        """Reset both sides (RST, not FIN: a torn-down path is not an orderly close)."""
        self.aborted = True
        for writer in (self.client, self.upstream):
            if writer is None:
                continue
            sock = writer.transport.get_extra_info("socket")
            if sock is not None and not writer.transport.is_closing():
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()


class FaultProxy:
    """Forward ``127.0.0.1:port`` to ``upstream`` with switchable faults. Use as a context manager."""

    def __init__(
        self,
        upstream: tuple[str, int] | int,
        *,
        name: str = "proxy",
        port: int = 0,
        host: str = "127.0.0.1",
        classify: Callable[[bytes], str | None] | None = None,
        head_done: Callable[[bytes], bool] | None = None,
        pass_refusals: bool = True,
    ) -> None:
        self.upstream = ("127.0.0.1", upstream) if isinstance(upstream, int) else upstream
        self.name = name
        self.host = host
        self.port = port
        self.classify = classify
        self.head_done = head_done or http_head_done
        self.pass_refusals = pass_refusals
        #: True while the upstream refuses and the proxy is not listening (refusing in its turn)
        self.refusing = False
        self._probe: asyncio.Task[None] | None = None
        self.modes: dict[str | None, Mode] = {None: PASS}
        self.stats = {"connections": 0, "forwarded": 0, "swallowed": 0, "resets": 0}
        self._conns: set[_Conn] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        """Start listening (``self.port`` is set when it was 0); returns self."""
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        started = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, self.host, self.port)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # reported to the starting thread
                errors.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name=f"proxy-{self.name}", daemon=True)
        self._thread.start()
        started.wait()
        if errors:
            self._thread = None
            raise errors[0]
        _PROXIES.add(self)
        return self

    def stop(self) -> None:
        """Close the listener and reset every connection. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self._thread = None

    async def _shutdown(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            conn.abort()
        # reset connections end their handlers; cancelling a handler instead makes asyncio log an error
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=1.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def connections(self) -> int:
        return len(self._conns)

    def __repr__(self) -> str:
        return f"<FaultProxy {self.name} :{self.port} -> {self.upstream[1]} {self.modes.get(None)}>"

    # -- faults ------------------------------------------------------------------------------------
    def set_mode(self, mode: Mode, source: str | None = None) -> None:
        """Set the mode for ``source`` (``None``: the default for every connection without its own)."""
        if mode.kind == "oneway" and mode.direction not in ("up", "down"):
            raise UsageError(f"a oneway cut needs direction 'up' or 'down', not {mode.direction!r}")
        if mode.kind == "delay" and mode.delay < 0:
            raise UsageError(f"delay must be >= 0 seconds, not {mode.delay}")
        self._apply(lambda: self.modes.__setitem__(source, mode))

    def heal(self, source: str | None = None) -> None:
        """Back to ``pass`` for ``source``; with no source, clear every per-source mode too."""
        def change() -> None:
            if source is None:
                self.modes.clear()
                self.modes[None] = PASS
            else:
                self.modes.pop(source, None)

        self._apply(change)

    def delay(self, seconds: float, source: str | None = None) -> None:
        self.set_mode(Mode("delay", delay=seconds), source)

    def drop(self, source: str | None = None) -> None:
        self.set_mode(Mode("drop"), source)

    def cut(self, source: str | None = None) -> None:
        self.set_mode(Mode("cut"), source)

    def oneway(self, direction: Direction, source: str | None = None) -> None:
        self.set_mode(Mode("oneway", direction=direction), source)

    def mode_of(self, source: str | None) -> Mode:
        return self.modes.get(source) or self.modes.get(None) or PASS

    def _apply(self, change: Callable[[], object]) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            change()  # not started: nothing to re-evaluate
            return

        async def run() -> None:
            change()
            self._reevaluate()

        asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=5)

    def _reevaluate(self) -> None:
        """Apply a mode change to open connections: reset cut ones, and tainted ones whose path healed."""
        for conn in list(self._conns):
            mode = self.mode_of(conn.source)
            if mode.kind == "cut" or (conn.tainted and mode.kind in ("pass", "delay")):
                self.stats["resets"] += 1
                conn.abort()

    # -- forwarding --------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(writer)
        self._conns.add(conn)
        self.stats["connections"] += 1
        try:
            head = b""
            if self.classify is not None:
                head = await self._read_head(reader)
                conn.source = self.classify(head)
            mode = self.mode_of(conn.source)
            if mode.kind == "cut":
                return
            if mode.kind == "drop":  # a blackholed path: never reaches the server
                conn.tainted = True
                self.stats["swallowed"] += len(head)
                while await reader.read(65536):
                    pass
                return
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.upstream), CONNECT_TIMEOUT
                )
            except ConnectionRefusedError:
                self._refuse()  # upstream dead: refuse like it, from the next connection on
                return
            except (TimeoutError, OSError):
                return  # upstream unreachable: the client sees a reset
            conn.upstream = up_writer
            if conn.aborted:  # reset while we were connecting upstream
                conn.abort()
                return
            await asyncio.gather(
                self._pump(conn, reader, up_writer, "up", head),
                self._pump(conn, up_reader, writer, "down", b""),
                return_exceptions=True,
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._conns.discard(conn)
            conn.abort()

    def _refuse(self) -> None:
        """Stop listening (new connections are refused) until the upstream accepts again."""
        if not self.pass_refusals or self.refusing or self._server is None:
            return
        self.refusing = True
        self._server.close()
        self._probe = asyncio.ensure_future(self._reopen_when_up())

    async def _reopen_when_up(self) -> None:
        while True:
            await asyncio.sleep(PROBE_INTERVAL)
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(*self.upstream), CONNECT_TIMEOUT)
            except (TimeoutError, OSError):
                continue
            writer.transport.abort()
            try:
                self._server = await asyncio.start_server(self._handle, self.host, self.port)
            except OSError:
                continue  # the port is briefly not bindable: try again
            self.refusing = False
            return

    async def _read_head(self, reader: asyncio.StreamReader) -> bytes:
        head = b""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HEAD_TIMEOUT
        while not self.head_done(head) and len(head) < HEAD_LIMIT:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                chunk = await asyncio.wait_for(reader.read(HEAD_LIMIT - len(head)), remaining)
            except TimeoutError:
                break
            if not chunk:
                break
            head += chunk
        return head

    async def _pump(
        self, conn: _Conn, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
        direction: Direction, first: bytes,
    ) -> None:
        """Copy one direction, through an ordered queue so a delay never reorders bytes."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.ensure_future(self._send(queue, writer))
        try:
            data = first
            while not sender.done():
                if not data:
                    data = await reader.read(65536)
                    if not data:
                        break
                mode = self.mode_of(conn.source)
                if mode.kind == "cut":
                    conn.abort()
                    break
                if mode.swallows(direction):
                    conn.tainted = True
                    self.stats["swallowed"] += len(data)
                else:
                    due = loop.time() + (mode.delay if mode.kind == "delay" else 0.0)
                    queue.put_nowait((due, data))
                    while queue.qsize() > QUEUE_LIMIT and not sender.done():
                        await asyncio.sleep(0.005)  # backpressure: stop reading while the peer is slow
                data = b""
            queue.put_nowait((0.0, b""))  # end of stream: half-close after what is queued
            await sender
        except OSError:
            conn.abort()  # a reset on one side resets the other, as on a real path
        finally:
            sender.cancel()

    async def _send(self, queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, data = await queue.get()
            if not data:
                if writer.can_write_eof() and not writer.is_closing():
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                return
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.stats["forwarded"] += len(data)  # counted first: once the peer has the bytes, so do stats
            writer.write(data)
            await writer.drain()


def stop_all() -> None:
    """Stop every proxy still running in this process (for test teardown and emergencies)."""
    for proxy in list(_PROXIES):
        proxy.stop()


def http_head_done(head: bytes) -> bool:
    """The default ``head_done``: a whole HTTP request header has arrived."""
    return b"\r\n\r\n" in head


def http_header_source(header: str, names: dict[str, str] | None = None) -> Callable[[bytes], str | None]:
    """A ``classify`` callback naming a connection by an HTTP request header's value (mapped through
    ``names`` when given, e.g. etcd member id → member name)."""
    wanted = header.lower().encode() + b":"

    def classify(head: bytes) -> str | None:
        for line in head.split(b"\r\n")[1:]:
            if line.lower().startswith(wanted):
                value = line[len(wanted):].strip().decode("latin-1")
                return names.get(value, value) if names is not None else value
        return None

    return classify
