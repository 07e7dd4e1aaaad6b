"""A small TCP for simulated hosts: reliable ordered streams over a network that drops, duplicates and
reorders, and asyncio's transport on top of it.

:class:`Connection` is the kernel's half: it numbers the segments of its direction, keeps each until the
peer acknowledges it (cumulative ``Ack``), and resends every unacknowledged one when its retransmission
timer fires, doubling the timeout each time (RFC 6298's back-off, without the RTT estimate). The other
direction is delivered in order, once: an old segment is acknowledged again and dropped, an early one is
kept until the gap fills. Acknowledgements ride on the next segment of the other direction, or go alone
after ``ack_delay`` (delayed ACK, RFC 1122 4.2.3.2; Linux waits 40 ms), and at once for a duplicate or a
segment past a gap, so that the sender learns of a loss quickly. A connection whose oldest
unacknowledged segment has waited ``tcp_timeout`` without progress gives up: its application sees
``TimeoutError`` (as after Linux's ``tcp_retries2``) and the peer a reset.
So a partition stalls a connection, and resets it when it outlasts the timeout; a crashed peer resets
it too (its new incarnation answers any segment of the old one with ``Rst``). There is no flow or
congestion control: buffers are unbounded and the window is infinite.

:class:`TcpTransport` is asyncio's half, with the semantics of ``_SelectorSocketTransport``: data and end
of stream reach the protocol as ready callbacks, ``close()`` hands the remaining bytes and a FIN to the
kernel and reports ``connection_lost(None)`` at once (the kernel keeps retransmitting them), ``abort()``
resets, and ``eof_received()`` returning a false value closes the transport.
"""

from __future__ import annotations

import asyncio
import errno
from typing import TYPE_CHECKING, Any

from splitbrain.aio.segments import Ack, Addr, Rst, Segment, Syn, SynAck, Tcp

if TYPE_CHECKING:
    from splitbrain.aio.net import HostStack

__all__ = ["Connection", "FakeSocket", "TcpTransport"]


class Connection:
    """One end of a TCP connection, inside the host's stack."""

    def __init__(self, stack: HostStack, local: Addr, remote: Addr, cid: int, *, opening: bool) -> None:
        self.stack = stack
        self.local, self.remote, self.cid = local, remote, cid
        self.key = (local[1], remote[0], remote[1], cid)
        self.state = "syn-sent" if opening else "open"
        self.established: asyncio.Future[None] | None = stack.loop.create_future() if opening else None
        self.next_seq = 0
        self.unacked: dict[int, Segment] = {}
        self.oldest_sent_at: float | None = None  # when the oldest unacknowledged segment was first sent
        self.rto = stack.rto
        self.timer: asyncio.TimerHandle | None = None
        self.expected = 0
        self.ack_timer: asyncio.TimerHandle | None = None
        self.early: dict[int, Segment] = {}
        self.peer_fin = False
        self.fin_sent = False
        self.transport: TcpTransport | None = None
        self.backlog: list[bytes | None] = []  # what arrived before a transport was attached (None: EOF)

    def _tcp(self, cls: type[Tcp]) -> Tcp:
        return cls(self.local, self.remote, self.cid)

    # -- sending -----------------------------------------------------------------------------------------
    def open(self) -> None:
        self.oldest_sent_at = self.stack.loop.time()
        self.stack.transmit(self.remote, self._tcp(Syn))
        self._arm()

    def write(self, data: bytes, *, fin: bool = False) -> None:
        if self.fin_sent or self.state == "closed":
            return
        seg = Segment(self.local, self.remote, self.cid, self.next_seq, data, fin, self.expected)
        self._ack_sent()
        self.next_seq += 1
        self.fin_sent = fin
        if not self.unacked:
            self.oldest_sent_at = self.stack.loop.time()
        self.unacked[seg.seq] = seg
        self.stack.transmit(self.remote, seg)
        if self.timer is None:
            self._arm()

    def _arm(self) -> None:
        self.timer = self.stack.loop.call_later(self.rto, self._retransmit)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.rto = self.stack.rto

    def _retransmit(self) -> None:
        self.timer = None
        loop = self.stack.loop
        if self.oldest_sent_at is not None and loop.time() - self.oldest_sent_at >= self.stack.tcp_timeout:
            self.stack.transmit(self.remote, self._tcp(Rst))
            self.reset(TimeoutError(errno.ETIMEDOUT, "Connection timed out"))
            return
        if self.state == "syn-sent":
            self.stack.transmit(self.remote, self._tcp(Syn))
        for seg in self.unacked.values():
            self.stack.transmit(self.remote, seg)
        self.rto = min(self.rto * 2, self.stack.rto_max)
        self._arm()

    # -- receiving ---------------------------------------------------------------------------------------
    def receive(self, seg: Tcp) -> None:
        if isinstance(seg, Rst):
            refused = self.state == "syn-sent"
            self.reset(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused") if refused
                       else ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"))
        elif isinstance(seg, SynAck):
            self._establish()
        elif isinstance(seg, Syn):
            self.stack.transmit(self.remote, self._tcp(SynAck))  # our answer was lost: say it again
        elif isinstance(seg, Ack):
            self._acked(seg.next)
        elif isinstance(seg, Segment):
            self._establish()  # data from the server means it accepted, even if its SYN-ACK was lost
            if seg.ack >= 0:
                self._acked(seg.ack)
            if self.state != "closed":
                self._segment(seg)

    def _establish(self) -> None:
        if self.state != "syn-sent":
            return
        self.state = "open"
        if not self.unacked:
            self._disarm()
            self.oldest_sent_at = None
        if self.established is not None and not self.established.done():
            self.established.set_result(None)

    def _acked(self, upto: int) -> None:
        done = [s for s in self.unacked if s < upto]
        if not done:
            return
        for seq in done:
            del self.unacked[seq]
        if self.unacked:
            self.oldest_sent_at = self.stack.loop.time()
            self._disarm()
            self._arm()
        else:
            self._disarm()
            self.oldest_sent_at = None
            self._maybe_done()

    def _segment(self, seg: Segment) -> None:
        at_once = seg.seq != self.expected  # a duplicate, or past a gap: tell the sender now
        if seg.seq >= self.expected:
            self.early.setdefault(seg.seq, seg)
            while self.expected in self.early:
                got = self.early.pop(self.expected)
                self.expected += 1
                if got.data:
                    self._deliver(got.data)
                if got.fin:
                    self.peer_fin = True
                    self._deliver(None)
        if at_once or self.peer_fin:
            self._send_ack()
        elif self.ack_timer is None:
            self.ack_timer = self.stack.loop.call_later(self.stack.ack_delay, self._send_ack)
        self._maybe_done()

    def _send_ack(self) -> None:
        self._ack_sent()
        if self.state != "closed":
            self.stack.transmit(self.remote, Ack(self.local, self.remote, self.cid, self.expected))

    def _ack_sent(self) -> None:
        if self.ack_timer is not None:
            self.ack_timer.cancel()
            self.ack_timer = None

    def _deliver(self, data: bytes | None) -> None:
        if self.transport is None:
            self.backlog.append(data)
        else:
            self.transport.arrived(data)

    def attach(self, transport: TcpTransport) -> None:
        self.transport = transport
        backlog, self.backlog = self.backlog, []
        for data in backlog:
            transport.arrived(data)

    # -- the end -------------------------------------------------------------------------------------------
    def _maybe_done(self) -> None:
        """Both directions ended and ours is acknowledged: the kernel forgets the connection."""
        if self.fin_sent and not self.unacked and self.peer_fin:
            self._drop()

    def abort(self) -> None:
        if self.state != "closed":
            self.stack.transmit(self.remote, self._tcp(Rst))
            self._drop()

    def reset(self, exc: Exception) -> None:
        if self.state == "closed":
            return
        self._drop()
        if self.established is not None and not self.established.done():
            self.established.set_exception(exc)
        if self.transport is not None:
            self.transport.lost(exc)

    def _drop(self) -> None:
        self.state = "closed"
        self._disarm()
        self._ack_sent()
        self.unacked.clear()
        self.stack.forget(self)


class FakeSocket:
    """What ``transport.get_extra_info("socket")`` gives: the addresses and harmless option calls."""

    def __init__(self, local: Addr, remote: Addr | None, kind: int) -> None:
        import socket

        self._local, self._remote = local, remote
        self.family, self.type, self.proto = socket.AF_INET, kind, 0

    def getsockname(self) -> Addr:
        return self._local

    def getpeername(self) -> Addr:
        if self._remote is None:
            raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")
        return self._remote

    def setsockopt(self, *args: Any) -> None:
        pass

    def getsockopt(self, *args: Any) -> int:
        return 0

    def fileno(self) -> int:
        return -1


class TcpTransport(asyncio.Transport):
    """asyncio's view of a :class:`Connection` (see the module docstring)."""

    def __init__(self, conn: Connection, protocol: asyncio.BaseProtocol, extra: dict[str, Any] | None = None) -> None:
        import socket

        super().__init__({
            "peername": conn.remote, "sockname": conn.local,
            "socket": FakeSocket(conn.local, conn.remote, socket.SOCK_STREAM), **(extra or {}),
        })
        self._conn = conn
        self._loop = conn.stack.loop
        self._protocol = protocol
        self._closing = False
        self._lost = False
        self._paused = False
        self._held: list[bytes | None] = []
        self._eof_written = False

    # -- from the kernel ---------------------------------------------------------------------------------
    def arrived(self, data: bytes | None) -> None:
        if self._paused:
            self._held.append(data)
        else:
            self._loop.call_soon(self._data if data is not None else self._eof, data)  # type: ignore[arg-type]

    def _data(self, data: bytes) -> None:
        if not self._lost:
            self._protocol.data_received(data)  # type: ignore[attr-defined]

    def _eof(self, _: None) -> None:
        if self._lost:
            return
        keep_open = self._protocol.eof_received()  # type: ignore[attr-defined]
        if not keep_open:
            self.close()

    def lost(self, exc: Exception | None) -> None:
        """The connection ended under the application (reset, timed out)."""
        if self._lost:
            return
        self._closing = True
        self._lost = True
        self._loop.call_soon(self._protocol.connection_lost, exc)

    # -- asyncio.Transport ---------------------------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__!r}")
        if self._eof_written:
            raise RuntimeError("Cannot call write() after write_eof()")
        if data and not self._closing:
            self._conn.write(bytes(data))

    def write_eof(self) -> None:
        if self._closing or self._eof_written:
            return
        self._eof_written = True
        self._conn.write(b"", fin=True)

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if not self._eof_written:
            self._conn.write(b"", fin=True)
        self._lost = True
        self._loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        if self._lost:
            return
        self._closing = True
        self._lost = True
        self._conn.abort()
        self._loop.call_soon(self._protocol.connection_lost, None)

    def is_closing(self) -> bool:
        return self._closing

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        if not self._paused:
            return
        self._paused = False
        held, self._held = self._held, []
        for data in held:
            self.arrived(data)

    def is_reading(self) -> bool:
        return not self._paused and not self._closing

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def __repr__(self) -> str:
        local, remote = self._conn.local, self._conn.remote
        return f"<TcpTransport {local[0]}:{local[1]}>{remote[0]}:{remote[1]}{' closing' if self._closing else ''}>"
