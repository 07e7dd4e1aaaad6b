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

Each slot also has a :class:`Client`: the client library's own state and policy, kept for the whole run
(across the slot's processes). It picks each operation and the node it goes to, hears every answer
(``on_answer``), and may retry a failed or timed-out attempt at another node (``retry``) — client-side
failover, which a client that forgets the leader, or retries a non-idempotent write blindly, gets
wrong. A retry resends the *same* request (same id), so the history still holds one operation; its
completion is the last attempt's answer. The default :class:`Client` does what clients did before it
existed: the workload's ``generate`` and ``choose_node``, no retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import msgspec

from splitbrain.histories import NEMESIS, History, Op
from splitbrain.sim.node import Request
from splitbrain.sim.vclock import VectorClock

if TYPE_CHECKING:
    from splitbrain.sim.node import Rand
    from splitbrain.sim.workload import Workload

__all__ = [
    "MAX_REDIRECTS",
    "Client",
    "ClientOp",
    "ClientSlot",
    "Recorder",
    "Reply",
    "ReplyKind",
]


MAX_REDIRECTS = 3

ReplyKind = Literal["ok", "fail", "redirect", "info"]

_T = TypeVar("_T")


class ClientOp(msgspec.Struct, frozen=True):
    """What a workload's generator asks a client to do: function, argument and (for keyed models) key."""

    f: str
    value: Any = None
    key: Any = None


class Reply(msgspec.Struct, frozen=True):
    """A node's answer to a request, travelling back to the client slot."""

    request: int
    kind: ReplyKind
    value: Any
    node: str


class Client:
    """A client's own state and policy; subclass it and name it in ``Workload.client_class``.

    Attributes set by the world: ``name`` (``"c0"``…), ``index``, ``nodes`` (every node id),
    ``workload``, and ``process`` (the slot's current process id, which changes when a process retires).
    Keep any state you like on ``self``: it lasts the whole run. Randomness comes from :meth:`randint`
    and :meth:`choice` (drawn through the world's scheduler and recorded, so replays repeat it) or from
    the ``rand`` handed to :meth:`generate` and :meth:`choose_node`.

    Hooks, all optional:

    * :meth:`generate` / :meth:`choose_node` — the next operation, and the node it goes to;
    * :meth:`on_answer` — every answer: ``ok``, ``fail``, ``redirect``, ``info`` (connection reset) or
      ``timeout``, with the node it came from (e.g. remember who the leader is);
    * :meth:`retry` — after a ``fail``, ``info`` or ``timeout``: a node to send the same request to
      instead of completing the operation, or ``None``. At most ``max_retries`` per operation.
    """

    name: str
    index: int
    nodes: tuple[str, ...]
    workload: Workload
    process: int
    #: retries allowed per operation (``retry`` is not asked once they are used up)
    max_retries: int = 3

    _rand: Rand  # the world's draws, as for nodes (set by the world)

    def on_start(self) -> None:
        """Called once, before the first operation."""

    def generate(self, rand: Rand) -> ClientOp:
        """The next operation (default: the workload's ``generate``)."""
        return self.workload.generate(rand, self.process)

    def choose_node(self, rand: Rand) -> str:
        """The node the next operation goes to (default: the workload's ``choose_node``)."""
        return self.workload.choose_node(rand, self.nodes, self.process)

    def on_answer(self, request: Request, kind: str, value: Any, node: str | None) -> None:
        """``request`` was answered: ``kind`` is ``ok``, ``fail``, ``redirect``, ``info`` or ``timeout``;
        ``value`` is the result, the error or the node redirected to."""

    def retry(self, request: Request, kind: str, error: Any, node: str | None) -> str | None:
        """After a ``fail``, ``info`` or ``timeout`` from ``node``: the node to send the same request to, or
        ``None`` to complete the operation as it stands (the default)."""
        return None

    def randint(self, lo: int, hi: int) -> int:
        """An int in ``[lo, hi]``, drawn through the world's scheduler (recorded; replays repeat it)."""
        return self._rand.randint(lo, hi)

    def choice(self, options: Sequence[_T]) -> _T:
        """One of ``options``, drawn the same way."""
        return self._rand.choice(options)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'name', '?')}>"


@dataclass(slots=True)
class ClientSlot:
    """One client: its current process and the request it waits for, if any."""

    index: int
    process: int
    client: Client = field(default_factory=Client)
    waiting: Request | None = None
    target: str | None = None
    #: the node that has received the waiting request (a crash there makes the outcome unknown)
    at: str | None = None
    deadline: int = 0
    #: the earliest time of the next invocation (clients back off after a fail or info)
    next_at: int = 0
    redirects: int = 0
    #: retries of the waiting request so far
    retries: int = 0

    @property
    def name(self) -> str:
        return f"c{self.index}"


class Recorder:
    """Collects history events; every client event carries the time, node and vector clock, and its index
    (its position, which :meth:`History.from_ops` would otherwise set on a copy of each)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.ops: list[Op] = []

    def invoke(self, request: Request, *, time: int, node: str, vclock: VectorClock) -> None:
        self.ops.append(
            Op(
                process=request.process, type="invoke", f=request.f, value=request.value, key=request.key,
                time=time, node=node, vclock=vclock.to_dict(), index=len(self.ops),
            )
        )

    def complete(
        self, request: Request, type: Literal["ok", "fail", "info"], *, time: int, node: str | None,
        vclock: VectorClock, value: Any = None, error: Any = None,
    ) -> None:
        self.ops.append(
            Op(
                process=request.process, type=type, f=request.f, value=value, key=request.key, time=time,
                node=node, vclock=vclock.to_dict(), error=error, index=len(self.ops),
            )
        )

    def event(
        self, process: int | str, f: str, value: Any, *, key: Any, node: str, time: int,
        vclock: dict[str, int], result: Any = None,
    ) -> None:
        """An operation that happened at once at ``node`` (a node's own event, a final read): an invoke
        carrying ``value`` and its ``ok`` completion carrying ``result``, both with the same clock."""
        n = len(self.ops)
        self.ops.append(
            Op(process=process, type="invoke", f=f, value=value, key=key, time=time, node=node, vclock=vclock,
               index=n)
        )
        self.ops.append(
            Op(process=process, type="ok", f=f, value=result, key=key, time=time, node=node, vclock=vclock,
               index=n + 1)
        )

    def nemesis(self, f: str, value: Any, *, time: int) -> None:
        """A fault, kept in the history for reports (the checkers skip nemesis events)."""
        self.ops.append(Op(process=NEMESIS, type="info", f=f, value=value, time=time, index=len(self.ops)))

    def history(self) -> History:
        return History.from_ops(self.ops, source=self.source)
