"""What the simulated network carries between hosts: TCP segments and UDP datagrams, as node messages.

Every segment is an ordinary world message (``Node.send``), so the network's faults act on it: a dropped
segment is retransmitted by the sending host's stack (:mod:`splitbrain.aio.tcp`), a duplicated or
reordered one is put right by sequence numbers, a partition stalls a connection until it heals or the
sender gives up and resets it. Datagrams get no such help: UDP sees the faults as they are.

Addresses are ``(ip, port)`` pairs. A connection is named by both ends and ``cid``, a number its client
chose that is unique across the client host's restarts (the job TCP's initial sequence numbers do), so
a stale segment of an earlier connection between the same ports never lands in a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Ack", "Addr", "Datagram", "Rst", "Segment", "Syn", "SynAck", "Tcp"]

Addr = tuple[str, int]


def _addr(a: Addr) -> str:
    return f"{a[0]}:{a[1]}"


@dataclass(frozen=True, slots=True)
class Tcp:
    """Fields every TCP segment has: source, destination and connection id."""

    src: Addr
    dst: Addr
    cid: int


@dataclass(frozen=True, slots=True, repr=False)
class Syn(Tcp):
    """Open a connection (the client's first segment; resent until answered)."""

    def __repr__(self) -> str:
        return f"SYN {_addr(self.src)}>{_addr(self.dst)} c{self.cid}"


@dataclass(frozen=True, slots=True, repr=False)
class SynAck(Tcp):
    """The server accepted the connection."""

    def __repr__(self) -> str:
        return f"SYN-ACK {_addr(self.src)}>{_addr(self.dst)} c{self.cid}"


@dataclass(frozen=True, slots=True, repr=False)
class Rst(Tcp):
    """Reset: no such connection (or port), or the sender gave up on it."""

    def __repr__(self) -> str:
        return f"RST {_addr(self.src)}>{_addr(self.dst)} c{self.cid}"


@dataclass(frozen=True, slots=True, repr=False)
class Segment(Tcp):
    """The ``seq``-th segment of one direction of a connection: bytes, or the end of the stream (FIN).
    ``ack`` piggybacks the sender's cumulative acknowledgement of the other direction (-1: none)."""

    seq: int
    data: bytes = b""
    fin: bool = False
    ack: int = -1

    def __repr__(self) -> str:
        what = "FIN" if self.fin else f"{len(self.data)}B {self.data[:40]!r}"
        return f"TCP {_addr(self.src)}>{_addr(self.dst)} c{self.cid} #{self.seq} {what}"


@dataclass(frozen=True, slots=True, repr=False)
class Ack(Tcp):
    """Every segment before ``next`` arrived (cumulative)."""

    next: int

    def __repr__(self) -> str:
        return f"ACK {_addr(self.src)}>{_addr(self.dst)} c{self.cid} <#{self.next}"


@dataclass(frozen=True, slots=True, repr=False)
class Datagram:
    """One UDP datagram."""

    src: Addr
    dst: Addr
    data: bytes

    def __repr__(self) -> str:
        return f"UDP {_addr(self.src)}>{_addr(self.dst)} {len(self.data)}B"
