"""`SimLoop`: an asyncio event loop on virtual time whose iterations are the world's steps.

A real loop's ``run_forever`` repeats one *iteration* (``BaseEventLoop._run_once``): wait in ``select``
for I/O, append the I/O callbacks and the timers that came due to the ready queue, then run the callbacks
that were ready when the iteration began, in order. ``SimLoop`` keeps that iteration, callback for
callback, and removes the waiting: its host (:class:`~splitbrain.aio.node.AsyncNode`) runs exactly one
iteration per world step — the step that delivers a network message (the I/O event ``select`` would have
returned), the step of its ``asyncio`` timer (zero-delay while callbacks are ready, else set to the
earliest asyncio timer), the step that hands it a client request, and its start.

What is left to chance, and to whom:

* **which I/O completes first, and when, relative to the ready work** — the world: deliveries are steps
  it chooses among, between any two iterations of any host (this is where asyncio programs race);
* **timers due at the same instant** — asyncio leaves their order undefined ("if two callbacks are
  scheduled for exactly the same time, it is undefined which will be called first", the docs of
  ``loop.call_at``), so a host draws it from the world's choice source; a draw of 0 everywhere keeps the
  heap's order, so shrinking leads back to the ordinary one;
* **the order of ready callbacks** — none: asyncio promises ``call_soon`` callbacks run in the order they
  were registered, and transports and futures depend on it, so an order a real loop cannot produce would
  only yield false alarms. (trio, which promises no order, shuffles its run queue instead.)

``loop.time()`` is the host's monotonic clock in seconds (local ticks times the workload's ``tick``), so
clock skew and drift apply and timers fire by the host's clock. Nothing here waits in real time.

Determinism beyond the order of callbacks: the loop holds its pending tasks strongly (asyncio itself only
keeps a weak set), so no pending task is ever collected by the garbage collector at a moment that depends
on memory use; asynchronous generators are finalised only while their host runs; and the exception
handler ignores what the collector reports between steps.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import heapq
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from splitbrain.aio.env import refuse

if TYPE_CHECKING:
    from splitbrain.aio.node import AsyncNode

__all__ = ["NETWORK_ERRORS", "SimLoop"]

#: exceptions a network service meets in normal operation; left unhandled in a task they are logged into
#: the trace, any other exception that no code handled ends the run as a crash of the system under test
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, asyncio.IncompleteReadError, asyncio.CancelledError, asyncio.TimeoutError,
)


class SimLoop(asyncio.BaseEventLoop):
    """The event loop of one simulated host incarnation (see the module docstring)."""

    # BaseEventLoop's own state, which an iteration works on (typeshed leaves private attributes out)
    _ready: collections.deque[Any]
    _scheduled: list[Any]
    _timer_cancelled_count: int
    _asyncgens: Any
    _closed: bool
    _asyncgen_firstiter_hook: Callable[[Any], None]

    def __init__(self, node: AsyncNode) -> None:
        self._node = node
        self._tasks: dict[int, asyncio.Task[Any]] = {}  # pending tasks, held strongly, in creation order
        self._running_step = False
        self._dead = False
        super().__init__()
        self._signals: dict[int, Any] = {}
        #: the first unhandled exception of this iteration that is not a network error
        self.fatal: BaseException | None = None
        self.set_exception_handler(self._handle_exception)

    def __del__(self) -> None:  # a host's loop ends with its incarnation, not with a close() call
        pass

    # -- time -------------------------------------------------------------------------------------------
    def time(self) -> float:
        return self._node.monotonic_seconds()

    # -- tasks and callbacks ----------------------------------------------------------------------------
    def create_task(self, coro: Any, *, name: str | None = None, context: Any = None) -> asyncio.Task[Any]:  # type: ignore[override]
        task = super().create_task(coro, name=name, context=context)
        if not task.done():
            self._tasks[id(task)] = task
            task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(id(task), None)

    @property
    def pending_tasks(self) -> list[asyncio.Task[Any]]:
        """The host's tasks that have not finished, oldest first."""
        return list(self._tasks.values())

    def is_running(self) -> bool:
        return self._running_step

    def run_forever(self) -> None:
        raise refuse("loop.run_forever()", "runs an event loop; the simulator already runs this host's loop")

    def run_until_complete(self, future: Any) -> Any:
        raise refuse("loop.run_until_complete()", "runs an event loop; await the coroutine instead")

    def call_soon_threadsafe(self, callback: Callable[..., Any], *args: Any, context: Any = None) -> Any:  # type: ignore[override]
        if not self._running_step:
            return None  # another thread, or the garbage collector between steps: nothing may reach the host
        return self.call_soon(callback, *args, context=context)

    def _asyncgen_finalizer_hook(self, agen: Any) -> None:
        self._asyncgens.discard(agen)
        if self._running_step and not self._dead:  # only finalised while the host runs: see the docstring
            self.create_task(agen.aclose())

    # -- one iteration ----------------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        """The ``when`` of the earliest live asyncio timer, or ``None``."""
        scheduled = self._scheduled
        while scheduled and scheduled[0]._cancelled:
            handle = heapq.heappop(scheduled)
            handle._scheduled = False
            self._timer_cancelled_count -= 1
        return scheduled[0]._when if scheduled else None

    def has_ready(self) -> bool:
        return bool(self._ready)

    def iterate(self, draw: Callable[[int, int], int], due: Callable[[float], bool]) -> None:
        """One iteration: the timers that are ``due`` join the ready queue (ties in a drawn order), then
        every callback ready at this point runs, in order."""
        scheduled = self._scheduled
        came: list[Any] = []
        while scheduled:
            handle = scheduled[0]
            if handle._cancelled:
                heapq.heappop(scheduled)
                handle._scheduled = False
                self._timer_cancelled_count -= 1
                continue
            if not due(handle._when):
                break
            heapq.heappop(scheduled)
            handle._scheduled = False
            came.append(handle)
        ready = self._ready
        i = 0
        while i < len(came):  # timers of one instant: asyncio leaves their order open, the source decides
            j = i + 1
            while j < len(came) and came[j]._when == came[i]._when:
                j += 1
            tied = came[i:j]
            while tied:
                ready.append(tied.pop(draw(0, len(tied) - 1) if len(tied) > 1 else 0))
            i = j
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()
                if self.fatal is not None:
                    return

    # -- errors -----------------------------------------------------------------------------------------
    def _handle_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not self._running_step or self._dead:
            return  # the garbage collector reporting between steps: when it runs is not part of the run
        exc = context.get("exception")
        message = context.get("message", "")
        if exc is None or isinstance(exc, NETWORK_ERRORS):
            what = f"{type(exc).__name__}: {exc}" if exc is not None else ""
            self._node.note(f"asyncio: {message} {what}".strip())
            return
        if self.fatal is None:
            exc.add_note(f"asyncio reported it on simulated host {self._node.id}: {message}")
            self.fatal = exc

    # -- what a simulated host cannot do ----------------------------------------------------------------
    def run_in_executor(self, executor: Any, func: Callable[..., Any], *args: Any) -> Any:  # type: ignore[override]
        raise refuse("loop.run_in_executor()", "runs a function in a real thread, outside the host's scheduler")

    def add_reader(self, fd: Any, callback: Callable[..., Any], *args: Any) -> None:  # type: ignore[override]
        raise refuse("loop.add_reader()", "waits on a real file descriptor; the simulated network has none")

    def add_writer(self, fd: Any, callback: Callable[..., Any], *args: Any) -> None:  # type: ignore[override]
        raise refuse("loop.add_writer()", "waits on a real file descriptor; the simulated network has none")

    def remove_reader(self, fd: Any) -> bool:
        return False

    def remove_writer(self, fd: Any) -> bool:
        return False

    async def subprocess_exec(self, *args: Any, **kwargs: Any) -> Any:
        raise refuse("loop.subprocess_exec()", "starts a real process")

    async def subprocess_shell(self, *args: Any, **kwargs: Any) -> Any:
        raise refuse("loop.subprocess_shell()", "starts a real process")

    def add_signal_handler(self, sig: int, callback: Callable[..., Any], *args: Any) -> None:  # type: ignore[override]
        """Accepted and kept: no signal ever reaches a simulated host."""
        self._signals[sig] = (callback, args)

    def remove_signal_handler(self, sig: int) -> bool:
        return self._signals.pop(sig, None) is not None

    # -- the network: the host's stack (splitbrain.aio.net) does the work ------------------------------------
    async def getaddrinfo(self, host: Any, port: Any, *, family: int = 0, type: int = 0, proto: int = 0,
                          flags: int = 0) -> list[tuple[Any, ...]]:
        return self._node.stack.getaddrinfo(host, port, family, type, proto)

    async def getnameinfo(self, sockaddr: tuple[Any, ...], flags: int = 0) -> tuple[str, str]:
        return self._node.stack.host_of(sockaddr[0]), str(sockaddr[1])

    async def create_connection(self, protocol_factory: Callable[[], asyncio.BaseProtocol], host: Any = None,
                                port: Any = None, **kwargs: Any) -> Any:
        return await self._node.stack.open_tcp(protocol_factory, host, port, **kwargs)

    async def create_server(self, protocol_factory: Callable[[], asyncio.BaseProtocol], host: Any = None,
                            port: Any = None, **kwargs: Any) -> Any:
        return self._node.stack.listen_tcp(protocol_factory, host, port, **kwargs)

    async def create_datagram_endpoint(self, protocol_factory: Callable[[], asyncio.BaseProtocol],
                                       local_addr: Any = None, remote_addr: Any = None, **kwargs: Any) -> Any:
        return self._node.stack.open_udp(protocol_factory, local_addr, remote_addr, **kwargs)

    async def sock_sendto(self, sock: Any, data: bytes, address: Any) -> int:  # type: ignore[override]
        return int(self._node.stack.socket_of(sock, "loop.sock_sendto()").sendto(data, address))

    async def sock_recvfrom(self, sock: Any, bufsize: int) -> tuple[bytes, Any]:
        return await self._node.stack.socket_of(sock, "loop.sock_recvfrom()").receive(bufsize)

    async def sock_recv(self, sock: Any, n: int) -> bytes:
        data, _ = await self._node.stack.socket_of(sock, "loop.sock_recv()").receive(n)
        return data

    async def sock_sendall(self, sock: Any, data: bytes) -> None:  # type: ignore[override]
        self._node.stack.socket_of(sock, "loop.sock_sendall()").send(data)

    async def sock_connect(self, sock: Any, address: Any) -> None:
        self._node.stack.socket_of(sock, "loop.sock_connect()").connect(address)

    async def sock_accept(self, sock: Any) -> Any:
        raise refuse("loop.sock_accept()", "accepts on a raw TCP socket; use asyncio.start_server / create_server")

    async def connect_accepted_socket(self, *args: Any, **kwargs: Any) -> Any:
        raise refuse("loop.connect_accepted_socket()", "wraps a real socket")

    async def start_tls(self, *args: Any, **kwargs: Any) -> Any:
        raise refuse("loop.start_tls()", "needs TLS, which the simulated network does not offer")

    # -- the end of the incarnation -----------------------------------------------------------------------
    def kill(self, within: Callable[[Callable[[], None]], None]) -> None:
        """The host crashed (or the run ended): its tasks stop where they are.

        Each pending task's coroutine is closed, oldest first, inside ``within`` (the host's environment,
        with anything it sends or schedules discarded): closing is the only way to release a suspended
        coroutine that does not leave its ``finally`` blocks to the garbage collector, at a moment no seed
        decides.
        """
        self._dead = True
        tasks = self.pending_tasks
        self._tasks.clear()
        self._ready.clear()
        self._scheduled.clear()

        def close_all() -> None:
            for task in tasks:
                task._log_destroy_pending = False  # type: ignore[attr-defined]
                coro = task.get_coro()
                if isinstance(coro, Coroutine):
                    with contextlib.suppress(BaseException):
                        coro.close()

        within(close_all)
        self._ready.clear()
        self._scheduled.clear()
        self._closed = True
