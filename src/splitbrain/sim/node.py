"""`Node`: what an implementation subclasses, and the runtime interface it calls into.

A node reacts to four events — ``on_start`` (first start and every restart), ``on_message(src, msg)``,
``on_timer(name)`` and ``on_client(request)`` — and acts only through the runtime: ``send``,
``set_timer``/``cancel_timer``, ``reply``/``fail``/``redirect``, ``now()`` and ``randint``. This is the
actor shape of stateright and Maelstrom: a node never sees the scheduler, the network or other nodes'
memory, which is what lets the world run it deterministically.

``self.storage`` is a dict that survives crashes, like files on a disk (:mod:`splitbrain.sim.disk`): a
``crash`` (the process dies) keeps every write; a ``power-loss`` (the machine dies) keeps what the node
made durable with :meth:`Node.fsync` (or :meth:`Node.persist`), and of the rest whatever happened to
land, some of it torn — unless the workload's ``disk`` is ``"durable"``, where every write is durable at
once. Every other attribute is lost: a restart builds a new object of the class and calls ``on_start``.
Messages should be immutable values (tuples, frozen dataclasses): the world passes them by reference, and
a duplicated message is the same object twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import msgspec

__all__ = [
    "Node",
    "Rand",
    "Request",
    "Runtime",
]


_T = TypeVar("_T")


class Request(msgspec.Struct, frozen=True):
    """A client's call, as a node sees it: answer it with ``reply``, ``fail`` or ``redirect``."""

    id: int
    process: int
    client: str
    f: str
    value: Any = None
    key: Any = None


class Runtime(Protocol):
    """What the world provides to its nodes (implemented by :class:`~splitbrain.sim.World`)."""

    def send(self, node: Node, dst: str, msg: Any) -> None: ...

    def set_timer(self, node: Node, delay: int, name: str) -> None: ...

    def cancel_timer(self, node: Node, name: str) -> None: ...

    def respond(self, node: Node, request: Request, kind: str, value: Any) -> None: ...

    def local_time(self, node: Node) -> int: ...

    def draw(self, lo: int, hi: int) -> int: ...

    def fsync(self, node: Node, keys: tuple[Any, ...]) -> None: ...

    def annotate(self, node: Node, note: str) -> None: ...

    def record(self, node: Node, f: str, value: Any, key: Any, vclock: Mapping[str, int] | None) -> None: ...


class Rand:
    """Random choices drawn through the world's choice source (never from the global ``random``)."""

    __slots__ = ("_draw", "_issued")

    def __init__(self, draw: Callable[[int, int], int]) -> None:
        self._draw = draw
        self._issued = 0

    def unique(self) -> int:
        """1, 2, 3, …: a number no earlier call on this world's ``Rand`` returned. Not a random choice
        (nothing is drawn): for operation values that must be unique, as Jepsen's counter generators give,
        so that a checker can tell which write a read saw."""
        self._issued += 1
        return self._issued

    def randint(self, lo: int, hi: int) -> int:
        """An int in ``[lo, hi]``, both included."""
        if hi < lo:
            raise ValueError(f"randint({lo}, {hi}): empty range")
        return self._draw(lo, hi)

    def choice(self, options: Sequence[_T]) -> _T:
        if not options:
            raise ValueError("choice from an empty sequence")
        return options[self._draw(0, len(options) - 1)]


class Node:
    """Base class for a simulated server. Override the ``on_*`` handlers; the defaults do nothing.

    Attributes set by the world before ``__init__`` runs: ``id`` (``"n1"``…), ``nodes`` (every node id,
    sorted), ``storage`` (the node's disk, a dict; see :meth:`fsync`). Subclasses may define
    ``__init__(self)`` without arguments, but the usual place for initial state is ``on_start``, which also
    runs after every restart.
    """

    id: str
    nodes: tuple[str, ...]
    storage: dict[str, Any]
    _rt: Runtime
    _peers_of: tuple[tuple[str, ...], str, tuple[str, ...]]  # (nodes, id, peers), see peers

    @classmethod
    def _create(cls, node_id: str, nodes: tuple[str, ...], storage: dict[str, Any], rt: Runtime) -> Node:
        node = cls.__new__(cls)
        node.id = node_id
        node.nodes = nodes
        node.storage = storage
        node._rt = rt
        node.__init__()  # type: ignore[misc]
        return node

    @property
    def peers(self) -> tuple[str, ...]:
        """Every other node id, sorted."""
        # worked out once per incarnation (broadcasts ask for it again and again), again if id or nodes change
        try:
            nodes, me, peers = self._peers_of
            if nodes is self.nodes and me is self.id:
                return peers
        except AttributeError:
            pass
        peers = tuple(n for n in self.nodes if n != self.id)
        self._peers_of = (self.nodes, self.id, peers)
        return peers

    # -- handlers ----------------------------------------------------------------------------------
    def on_start(self) -> None:
        """Called on the first start and after every restart (memory is fresh, storage is not)."""

    def on_message(self, src: str, msg: Any) -> None:
        """A message from node ``src`` arrived."""

    def on_timer(self, name: str) -> None:
        """The timer ``name`` set with :meth:`set_timer` expired."""

    def on_client(self, request: Request) -> None:
        """A client request arrived; the default refuses it (definitely not done)."""
        self.fail(request, f"{type(self).__name__} does not handle client requests")

    # -- actions -----------------------------------------------------------------------------------
    def send(self, dst: str, msg: Any) -> None:
        """Send ``msg`` to node ``dst``; it may be delayed, reordered, dropped or duplicated."""
        self._rt.send(self, dst, msg)

    def broadcast(self, msg: Any) -> None:
        """Send ``msg`` to every peer, in id order."""
        for peer in self.peers:
            self._rt.send(self, peer, msg)

    def set_timer(self, delay: int, name: str) -> None:
        """Call ``on_timer(name)`` after ``delay`` ticks of this node's clock; replaces a timer of that
        name."""
        self._rt.set_timer(self, delay, name)

    def cancel_timer(self, name: str) -> None:
        self._rt.cancel_timer(self, name)

    def reply(self, request: Request, value: Any = None) -> None:
        """Complete ``request`` successfully (``ok``) with ``value``."""
        self._rt.respond(self, request, "ok", value)

    def fail(self, request: Request, error: Any = None) -> None:
        """Complete ``request`` as definitely not done (``fail``); only when it had no effect."""
        self._rt.respond(self, request, "fail", error)

    def redirect(self, request: Request, node: str) -> None:
        """Send the client to ``node`` with the same request; only when this node did not act on it."""
        self._rt.respond(self, request, "redirect", node)

    def fsync(self, *keys: Any) -> None:
        """Make this node's ``storage`` writes durable: those to ``keys``, or every key when none is given
        (think of each key as a file, and of this as ``fsync`` on it). Until then a ``power-loss`` may lose
        them or tear them. A node that answers a request or sends a promise must sync what the answer
        depends on first."""
        self._rt.fsync(self, keys)

    def persist(self, items: Mapping[Any, Any] | None = None, /, **more: Any) -> None:
        """Write ``items`` (and keyword items) to ``storage`` and sync those keys: a durable write."""
        written = {**(items or {}), **more}
        self.storage.update(written)
        self._rt.fsync(self, tuple(written))

    def now(self) -> int:
        """This node's local clock (skewed and drifting; see :mod:`splitbrain.sim.clock`)."""
        return self._rt.local_time(self)

    def randint(self, lo: int, hi: int) -> int:
        """A random int in ``[lo, hi]`` drawn through the world's scheduler (replayable)."""
        if hi < lo:
            raise ValueError(f"randint({lo}, {hi}): empty range")
        return self._rt.draw(lo, hi)

    def choice(self, options: Sequence[_T]) -> _T:
        if not options:
            raise ValueError("choice from an empty sequence")
        return options[self._rt.draw(0, len(options) - 1)]

    def record(self, f: str, value: Any = None, *, key: Any = None, vclock: Mapping[str, int] | None = None) -> None:
        """Write an event of this node into the history: an operation ``f`` of process ``self.id`` at this
        node that happened at once (invoke and ``ok``, both carrying ``value``), e.g. a broadcast layer's
        ``send`` and ``deliver``. It is stamped with ``vclock`` when given — for a protocol whose
        happens-before is not the transport's (causal broadcast: receiving a message into a hold-back
        queue is not an event of the application) — else with this node's clock, ticked."""
        self._rt.record(self, f, value, key, vclock)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'id', '?')}>"
