"""`AsyncNode`: a simulated host running unmodified asyncio code, as an ordinary world node.

Each incarnation of the node owns a :class:`~splitbrain.aio.loop.SimLoop`, a network stack
(:class:`~splitbrain.aio.net.HostStack`) and a :class:`Host`, the handle its entry coroutine gets. Every
handler of the node runs exactly one loop iteration inside the host's environment
(:mod:`splitbrain.aio.env`):

* ``on_start`` (first start and every restart) starts the entry coroutine ``main(host)`` as a task;
* ``on_message`` hands a segment or datagram to the stack (the I/O event), then iterates;
* ``on_timer("asyncio")`` iterates: the node keeps this one timer set to zero ticks while callbacks are
  ready, else to the earliest asyncio timer, by its own clock;
* ``on_client`` starts the workload's client operation for the request as a task on this host — the
  client is co-located with the node it calls, and reaches it over loopback, so the world's client
  semantics (a crash while the request is held is ``info``) apply unchanged.

This is the pattern of controlled threads (:class:`~splitbrain.sim.threads.ThreadedNode`): foreign code
parked between steps, each resume an ordinary zero-delay timer of the node, so the world's choice source
decides every interleaving, and traces, shrinking and replay need nothing new.

A crash is a power cut: the host's tasks stop where they are (see :meth:`SimLoop.kill`), its
connections vanish with it — peers learn it from resets and timeouts — and ``storage`` keeps what the
workload's disk model keeps. A restart runs the entry coroutine again on a fresh loop, with that storage.
The stack counts boots in ``storage["splitbrain.aio:boots"]`` (synced), so connection ids never repeat.
"""

from __future__ import annotations

import asyncio
import gc
import math
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

from splitbrain.aio.env import HostRandom, bound_names, current_node, hosting
from splitbrain.aio.loop import NETWORK_ERRORS, SimLoop
from splitbrain.aio.net import HostStack
from splitbrain.errors import NondeterminismError, UsageError
from splitbrain.sim import Node, Request

__all__ = ["BOOTS", "TIMER", "AsyncNode", "Fail", "Host", "current_host"]

#: the node timer that runs the host's next loop iteration
TIMER = "asyncio"
#: the storage key where the stack counts the host's boots
BOOTS = "splitbrain.aio:boots"
_EPS = 1e-6


class Fail(Exception):
    """Raise from a client operation to complete it as ``fail``: it definitely did not take effect."""

    def __init__(self, error: Any = None) -> None:
        super().__init__(error)
        self.error = error


class Host:
    """What a simulated host's code is given: who it is, where its peers are, and its disk."""

    def __init__(self, node: AsyncNode) -> None:
        self._node = node
        #: this host's node id (``"n1"``)
        self.id = node.id
        #: every node id, sorted
        self.nodes = node.nodes
        #: node id -> simulated IPv4 address
        self.addresses: Mapping[str, str] = dict(node.stack.addresses)
        #: this host's address
        self.ip = node.stack.ip
        #: values the server publishes for the workload's invariants and final reads (lost on a crash)
        self.exports: dict[str, Any] = {}

    @property
    def peers(self) -> tuple[str, ...]:
        """Every other node id."""
        return self._node.peers

    def address(self, node: str) -> str:
        """The simulated address of ``node``."""
        try:
            return self.addresses[node]
        except KeyError:
            raise UsageError(f"no simulated host {node!r} (hosts: {', '.join(self.addresses)})") from None

    @property
    def storage(self) -> dict[str, Any]:
        """The host's disk: a dict that survives crashes (see ``Node.storage`` and ``fsync``)."""
        return self._node.storage

    def fsync(self, *keys: Any) -> None:
        """Make ``storage`` writes durable (those to ``keys``, or all): see ``Node.fsync``."""
        self._node.fsync(*keys)

    def record(self, f: str, value: Any = None, *, key: Any = None) -> None:
        """Write an event of this host into the history (see ``Node.record``)."""
        self._node.record(f, value, key=key)

    def __repr__(self) -> str:
        return f"<Host {self.id} {self.ip}>"


def current_host() -> Host:
    """The :class:`Host` whose code is running now (for code deep inside a library)."""
    node = current_node()
    if node is None:
        raise UsageError("current_host() is only available to code running on a simulated host")
    return node.host


class AsyncNode(Node):
    """A node that runs an asyncio program (see the module docstring).

    Set ``main`` (an async function taking a :class:`Host`) and, to serve the world's clients, override
    :meth:`client`; :class:`~splitbrain.aio.workload.AsyncWorkload` makes these classes from plain
    functions. Settings: ``tick`` (seconds per simulated tick, for ``loop.time()`` and ``time.*``),
    ``rto``/``rto_max`` (TCP's first and largest retransmission timeout, seconds: Linux's 200 ms minimum
    by default), ``ack_delay`` (delayed ACK), ``tcp_timeout`` (how long TCP retransmits without progress
    before it resets the connection) and ``client_timeout`` (seconds after which a
    client operation task is cancelled; the world has completed it as ``info`` by then).
    """

    main: ClassVar[Callable[[Host], Awaitable[Any]] | None] = None
    #: modules of the host's own code whose ``from time import time``-style names get the host's versions
    #: (default: the modules of ``main``, of :meth:`client` and of this class)
    code_modules: ClassVar[tuple[str, ...]] = ()
    #: the first call of its code that the simulation refused (see :mod:`splitbrain.aio.env`), if any
    refused: NondeterminismError | None = None
    #: ``True``: a step runs iterations until no callback is ready (at most ``max_iterations``), so I/O
    #: lands only while the loop waits, as when the network is much slower than the CPU; ``False``: one
    #: iteration per step, so the world may also deliver I/O between any two iterations (finer
    #: interleavings, several times the steps)
    drain: ClassVar[bool] = True
    max_iterations: ClassVar[int] = 1000
    tick: ClassVar[float] = 0.001
    rto: ClassVar[float] = 0.2
    rto_max: ClassVar[float] = 1.0
    tcp_timeout: ClassVar[float] = 3.0
    ack_delay: ClassVar[float] = 0.04
    client_timeout: ClassVar[float] = 5.0

    async def client(self, host: Host, request: Request) -> Any:
        """The client operation for ``request``, run as a task on this host: return its result, raise
        :class:`Fail` when it definitely did not happen; any network error leaves it unknown (``info``)."""
        raise Fail(f"{type(self).__name__} serves no client operations (define client())")

    # -- the world's handlers --------------------------------------------------------------------------
    def on_start(self) -> None:
        boots = int(self.storage.get(BOOTS, 0)) + 1
        self.storage[BOOTS] = boots
        self.fsync(BOOTS)
        self._dying = False
        self._floor = self.now()
        self._random = HostRandom(self._draw, f"{self.id}/{boots}/{self.randint(0, (1 << 63) - 1)}")
        self._loop = SimLoop(self)
        cls = type(self)
        self._stack = HostStack(self, self._loop, boot=boots, rto=cls.rto, rto_max=cls.rto_max,
                                tcp_timeout=cls.tcp_timeout, ack_delay=cls.ack_delay)
        self._host = Host(self)
        #: the host's exports, public so that traces (``splitbrain show``, the HTML view) show them per step
        self.exports = self._host.exports
        main = cls.main
        with self._running():
            if main is not None:
                self.loop.create_task(self._main(main), name=f"{self.id} main")
            self._iterate()

    def on_message(self, src: str, msg: Any) -> None:
        with self._running():
            self._stack.receive(msg)
            self._iterate()

    def on_timer(self, name: str) -> None:
        if name == TIMER:
            with self._running():
                self._iterate()

    def on_client(self, request: Request) -> None:
        with self._running():
            self.loop.create_task(self._client(request), name=f"{self.id} client p{request.process}")
            self._iterate()

    # -- the incarnation's parts (private attributes, so that trace views show only exports and storage) --
    @property
    def loop(self) -> SimLoop:
        """This incarnation's event loop."""
        return self._loop

    @property
    def stack(self) -> HostStack:
        """This incarnation's network stack."""
        return self._stack

    @property
    def host(self) -> Host:
        """The :class:`Host` its code was given."""
        return self._host

    @property
    def random(self) -> HostRandom:
        """The host's ``random`` (see :class:`~splitbrain.aio.env.HostRandom`)."""
        return self._random

    # -- clocks and randomness of the host ---------------------------------------------------------------
    def local_seconds(self) -> float:
        """The host's wall clock, in seconds since it started (skew may move it either way)."""
        return self.now() * type(self).tick

    def monotonic_seconds(self) -> float:
        """The host's monotonic clock in seconds: its local clock, held still while skew sets it back."""
        now = self.now()
        if now > self._floor:
            self._floor = now
        return self._floor * type(self).tick

    def _draw(self, lo: int, hi: int) -> int:
        if self._dying or hi <= lo:
            return lo
        return self.randint(lo, hi)

    def note(self, text: str) -> None:
        """Attach ``text`` to the current step of the trace, for the reader."""
        if not self._dying:
            self._rt.annotate(self, text)

    # -- running the loop ---------------------------------------------------------------------------------
    @classmethod
    def _bound(cls) -> list[Any]:
        """The names in the host code's modules that :func:`~splitbrain.aio.env.bound_names` finds (once)."""
        found = cls.__dict__.get("_bound_names")
        if found is None:
            names = list(cls.code_modules)
            for fn in (cls.main, cls.client, cls):
                module = getattr(fn, "__module__", None)
                if isinstance(module, str):
                    names.append(module)
            modules = [sys.modules[n] for n in sorted(set(names)) if n in sys.modules
                       and not (n.startswith("splitbrain.") and not n.startswith("splitbrain.impls"))]
            found = bound_names(modules)
            cls._bound_names = found  # type: ignore[attr-defined]
        return found

    @contextmanager
    def _running(self) -> Iterator[None]:
        """The host's environment: its loop running, its clocks and randomness, no garbage collection
        (so finalisers run only where reference counts put them)."""
        loop = self._loop
        collecting = gc.isenabled()
        gc.disable()
        hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter=loop._asyncgen_firstiter_hook, finalizer=loop._asyncgen_finalizer_hook)
        outer = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(loop)
        loop._running_step = True
        try:
            with hosting(self, type(self)._bound()):
                yield
        finally:
            loop._running_step = False
            asyncio.events._set_running_loop(outer)
            sys.set_asyncgen_hooks(*hooks)
            if collecting:
                gc.enable()

    def _due(self, when: float) -> bool:
        return when <= self._floor * type(self).tick + _EPS

    def _iterate(self) -> None:
        loop = self._loop
        self.monotonic_seconds()  # bring the floor up to the clock
        rounds = type(self).max_iterations if type(self).drain else 1
        while True:
            loop.iterate(self._draw, self._due)
            if loop.fatal is not None:
                fatal, loop.fatal = loop.fatal, None
                raise fatal
            rounds -= 1
            if rounds <= 0 or not loop.has_ready():
                break
        if self.refused is not None:
            raise self.refused  # the host code swallowed it; the run still cannot be trusted
        if loop.has_ready():
            self.set_timer(0, TIMER)
            return
        when = loop.next_deadline()
        if when is None:
            self.cancel_timer(TIMER)
            return
        deadline = math.ceil(when / type(self).tick - _EPS)
        self.set_timer(0 if deadline <= self._floor else max(0, deadline - self.now()), TIMER)

    async def _main(self, main: Callable[[Host], Awaitable[Any]]) -> None:
        try:
            await main(self.host)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            exc.add_note(f"raised by the entry coroutine of simulated host {self.id}")
            if self.loop.fatal is None and not self._dying:
                self.loop.fatal = exc

    async def _client(self, request: Request) -> None:
        what = f"client p{request.process} {request.f}"
        try:
            async with asyncio.timeout(type(self).client_timeout):
                value = await self.client(self.host, request)
        except Fail as failed:
            if not self._dying:
                self.fail(request, failed.error)
        except ConnectionRefusedError as exc:
            if not self._dying:
                self.fail(request, f"connection refused: {exc}")
        except NETWORK_ERRORS as exc:
            self.note(f"{what}: {type(exc).__name__}: {exc} (outcome unknown)")
        except Exception as exc:
            exc.add_note(f"raised by the client operation {request.f} on simulated host {self.id}")
            if self.loop.fatal is None and not self._dying:
                self.loop.fatal = exc
        else:
            if not self._dying:
                self.reply(request, value)

    # -- the end of this incarnation ---------------------------------------------------------------------------
    def _discard(self) -> None:
        """The world drops this incarnation (a crash, or the end of the run): stop its tasks.

        Called by the world (``World.close`` and a crash), as for controlled threads. The tasks are closed
        inside the host's environment with everything they would send, draw or answer discarded, and
        ``storage`` is put back as it was: a process that lost power writes nothing more.
        """
        loop = getattr(self, "_loop", None)
        if loop is None or loop._dead:
            return
        self._dying = True
        kept = dict(self.storage)

        def within(close: Callable[[], None]) -> None:
            with self._running():
                close()

        loop.kill(within)
        if self.storage != kept:
            self.storage.clear()
            self.storage.update(kept)
