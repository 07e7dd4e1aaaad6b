"""Clients: sequential processes that call the nodes, and the recorder that writes their history.

Each client slot (``c0``, ``c1``, …) runs one process at a time. A process invokes one operation, sends
it to a node, and waits. The node's answer completes it with Jepsen's semantics:

* ``ok`` — it happened, with this result;
* ``fail`` — it definitely did not happen (the node refused it, or every node redirected it);
* ``info`` — the client timed out, or the node crashed while it held the request: it may or may not
  have happened. The process is then dead; the slot continues with a fresh process id, as Jepsen does,
  so the history stays sequential per process.

A request to a crashed node, or one still in flight when its node crashes, is refused (``fail``, like a
refused TCP connection): the node never saw it.

A ``redirect`` answer sends the same request to another node without completing it; after
:data:`MAX_REDIRECTS` hops the operation fails (no node acted on it, by the redirect contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from splitbrain.histories import NEMESIS, History, Op
from splitbrain.sim.node import Request
from splitbrain.sim.vclock import VectorClock

__all__ = [
    "MAX_REDIRECTS",
    "ClientOp",
    "ClientSlot",
    "Recorder",
    "Reply",
    "ReplyKind",
]


MAX_REDIRECTS = 3

ReplyKind = Literal["ok", "fail", "redirect", "info"]


@dataclass(frozen=True, slots=True)
class ClientOp:
    """What a workload's generator asks a client to do: function, argument and (for keyed models) key."""

    f: str
    value: Any = None
    key: Any = None


@dataclass(frozen=True, slots=True)
class Reply:
    """A node's answer to a request, travelling back to the client slot."""

    request: int
    kind: ReplyKind
    value: Any
    node: str


@dataclass(slots=True)
class ClientSlot:
    """One client: its current process and the request it waits for, if any."""

    index: int
    process: int
    waiting: Request | None = None
    target: str | None = None
    #: the node that has received the waiting request (a crash there makes the outcome unknown)
    at: str | None = None
    deadline: int = 0
    #: the earliest time of the next invocation (clients back off after a fail or info)
    next_at: int = 0
    redirects: int = 0

    @property
    def name(self) -> str:
        return f"c{self.index}"


class Recorder:
    """Collects history events; every client event carries the time, node and vector clock."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.ops: list[Op] = []

    def invoke(self, request: Request, *, time: int, node: str, vclock: VectorClock) -> None:
        self.ops.append(
            Op(
                process=request.process, type="invoke", f=request.f, value=request.value, key=request.key,
                time=time, node=node, vclock=vclock.to_dict(),
            )
        )

    def complete(
        self, request: Request, type: Literal["ok", "fail", "info"], *, time: int, node: str | None,
        vclock: VectorClock, value: Any = None, error: Any = None,
    ) -> None:
        self.ops.append(
            Op(
                process=request.process, type=type, f=request.f, value=value, key=request.key, time=time,
                node=node, vclock=vclock.to_dict(), error=error,
            )
        )

    def event(
        self, process: int | str, f: str, value: Any, *, key: Any, node: str, time: int,
        vclock: dict[str, int], result: Any = None,
    ) -> None:
        """An operation that happened at once at ``node`` (a node's own event, a final read): an invoke
        carrying ``value`` and its ``ok`` completion carrying ``result``, both with the same clock."""
        self.ops.append(
            Op(process=process, type="invoke", f=f, value=value, key=key, time=time, node=node, vclock=vclock)
        )
        self.ops.append(
            Op(process=process, type="ok", f=f, value=result, key=key, time=time, node=node, vclock=vclock)
        )

    def nemesis(self, f: str, value: Any, *, time: int) -> None:
        """A fault, kept in the history for reports (the checkers skip nemesis events)."""
        self.ops.append(Op(process=NEMESIS, type="info", f=f, value=value, time=time))

    def history(self) -> History:
        return History.from_ops(self.ops, source=self.source)
