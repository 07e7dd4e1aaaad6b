"""Controlled threads: real Python threads whose interleaving the world's choice source decides.

A thread-safe object is written once against :class:`Sync` — ``sync.lock()`` instead of
``threading.Lock()``, ``sync.point("read tokens")`` at each shared-state access that matters, and
``sync.now()`` for its clock. In production and in stress mode it gets :data:`REAL_SYNC` (real locks, a
real monotonic clock, points that cost nothing). In the simulator a :class:`ThreadedNode` hosts it and
runs every client request in its own *real* OS thread, but only one thread runs at a time: at every
scheduling point the running thread parks and hands control back to the world, whose choice source then
picks which parked thread continues — exactly as it picks which message to deliver next.

This is the model-checking mode of Lincheck (Koval et al., "Lincheck: A Practical Framework for Testing
Concurrent Data Structures on JVM", CAV 2023) and AWS Shuttle's controlled scheduler: concurrency bugs
become properties of a schedule, so the same machinery that generates, shrinks and replays network
schedules does it for thread interleavings. A resume is an ordinary zero-delay timer of the node, named
after the client process the thread serves (``timer:n1:thread-p2``), so traces stay stable when
shrinking removes other threads' steps, and every resume step notes where the thread stopped next
("at 'take token'", "waits for lock bucket", "done").

Scheduling points: the start of a thread, every ``lock.acquire()`` (before it takes the lock) and every
``sync.point()``. ``release()`` is not one: it wakes the lock's waiters, and whatever the releasing
thread does next reaches a point or the end soon enough. A thread blocked on a lock is not runnable
until the lock is released; if every thread is blocked the clients time out, as they would on a real
deadlock.

A crash of the node (and the end of a run) kills its threads: each parked thread is resumed with a
:class:`ThreadKilled` (a ``BaseException``, so ``except Exception`` in user code does not swallow it)
that unwinds its stack.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

from splitbrain.errors import UsageError
from splitbrain.sim.node import Node, Request

__all__ = ["REAL_SYNC", "ControlledLock", "LockLike", "Rejected", "Sync", "ThreadKilled", "ThreadedNode"]


class LockLike(Protocol):
    """What ``sync.lock()`` returns: the part of ``threading.Lock`` that objects use."""

    def acquire(self, blocking: bool = True) -> bool: ...

    def release(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None, /
    ) -> None: ...


class Sync(Protocol):
    """The synchronisation and time a thread-safe object is written against."""

    def lock(self) -> LockLike:
        """A new mutual-exclusion lock."""
        ...

    def point(self, label: str) -> None:
        """Mark a shared-state access: another thread may run here."""
        ...

    def now(self) -> float:
        """The clock the object reads (the simulator's is the node's skewable local clock, in ticks)."""
        ...


class _RealSync:
    """Real ``threading.Lock``, ``time.monotonic()``, and points that do nothing."""

    def lock(self) -> LockLike:
        return threading.Lock()

    def point(self, label: str) -> None:
        pass

    def now(self) -> float:
        return time.monotonic()

    def __repr__(self) -> str:
        return "REAL_SYNC"


REAL_SYNC: Sync = _RealSync()
"""The production :class:`Sync`: what objects use when nothing controls them."""


class Rejected(Exception):
    """Raised by :meth:`ThreadedNode.call` to answer the request with ``fail`` (definitely not done)."""

    def __init__(self, value: Any = None) -> None:
        super().__init__(value)
        self.value = value


class ThreadKilled(BaseException):
    """Unwinds a controlled thread whose node crashed or whose run ended."""


_current = threading.local()


def _running() -> _ControlledThread | None:
    return getattr(_current, "thread", None)


class _ControlledThread:
    """One OS thread, run only when the world resumes it, parked at every scheduling point.

    Hand-over is two semaphores: ``resume()`` (world side) releases ``_go`` and waits on ``_back``; the
    thread releases ``_back`` and waits on ``_go`` when it parks. Exactly one side runs at any time.
    """

    def __init__(self, node: ThreadedNode, name: str, body: Callable[[], Any], done: Callable[..., None]):
        self.node = node
        self.name = name
        self.state = "runnable"  # runnable | blocked | done
        self.stopped_at = "start"
        self._body = body
        self._done = done
        self._killed = False
        self._error: BaseException | None = None
        self._go = threading.Semaphore(0)
        self._back = threading.Semaphore(0)
        self._os = threading.Thread(target=self._main, name=f"splitbrain-{node.id}-{name}", daemon=True)
        self._os.start()

    # -- world side --------------------------------------------------------------------------------
    def resume(self) -> None:
        """Run the thread until it parks, blocks or ends; re-raise what its body raised."""
        self._go.release()
        self._back.acquire()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def kill(self) -> None:
        if self.state != "done":
            self._killed = True
            # what the code does while unwinding a dead incarnation's thread cannot affect the run
            with contextlib.suppress(Exception):
                self.resume()

    # -- thread side -------------------------------------------------------------------------------
    def _main(self) -> None:
        _current.thread = self
        self._go.acquire()
        result: tuple[str, Any] | None = None
        try:
            if self._killed:
                raise ThreadKilled
            result = ("ok", self._body())
        except Rejected as exc:
            result = ("fail", exc.value)
        except ThreadKilled:
            pass
        except Exception as exc:  # the code under test crashed: the world reports it as a crash
            self._error = exc
        self.state = "done"
        self.stopped_at = "done"
        if result is not None and self._error is None:
            try:
                self._done(*result)
            except Exception as exc:
                self._error = exc
        self._back.release()

    def park(self, where: str) -> None:
        """Give control back to the world; return when it resumes this thread."""
        if self._killed:
            raise ThreadKilled
        self.stopped_at = where
        self._back.release()
        self._go.acquire()
        if self._killed:
            raise ThreadKilled


class ControlledLock:
    """A lock whose ``acquire`` is a scheduling point; a held lock blocks the thread until released.

    Outside a controlled thread (a node handler running on the world's thread) ``acquire`` succeeds at
    once when the lock is free and raises when a parked thread holds it: a handler cannot wait.
    """

    def __init__(self, node: ThreadedNode, name: str) -> None:
        self._node = node
        self.name = name
        self.owner: str | None = None
        self._waiters: list[_ControlledThread] = []

    def acquire(self, blocking: bool = True) -> bool:
        me = _running()
        if me is None:
            if self.owner is not None:
                raise UsageError(
                    f"{self._node.id}: a node handler tried to take lock {self.name}, held by thread "
                    f"{self.owner}; do work that needs the object in a thread (ThreadedNode.spawn)"
                )
            self.owner = "handler"
            return True
        me.park(f"acquire {self.name}")
        while self.owner is not None:
            if not blocking:
                return False
            if self.owner == me.name:
                raise RuntimeError(f"thread {me.name} acquires lock {self.name}, which it already holds")
            me.state = "blocked"
            self._waiters.append(me)
            me.park(f"waits for {self.name}")
        me.state = "runnable"
        self.owner = me.name
        return True

    def release(self) -> None:
        if self.owner is None:
            raise RuntimeError(f"release of unlocked lock {self.name}")
        self.owner = None
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.state = "runnable"
            self._node._schedule(waiter)

    def locked(self) -> bool:
        return self.owner is not None

    def __enter__(self) -> ControlledLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None, /
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<lock {self.name} held by {self.owner}>" if self.owner else f"<lock {self.name} free>"


class _SimSync:
    """The simulator's :class:`Sync` for one node incarnation."""

    def __init__(self, node: ThreadedNode) -> None:
        self._node = node
        self._locks = 0

    def lock(self) -> LockLike:
        self._locks += 1
        return ControlledLock(self._node, f"L{self._locks}")

    def point(self, label: str) -> None:
        me = _running()
        if me is not None:
            me.park(f"at {label!r}")

    def now(self) -> float:
        return self._node.now()


class ThreadedNode(Node):
    """A node hosting one shared object; each client request runs in its own controlled thread.

    Override :meth:`create` (build the object; called at start and after every restart — keep durable
    state in ``storage`` if the object has any) and :meth:`call` (what a request does to the object; it
    runs inside the request's thread, its return value is the reply, ``raise Rejected(v)`` answers
    ``fail``). :meth:`spawn` runs other work on the object (a health check, a timer's refill) as a
    thread too. Ordinary handlers (``on_message``, ``on_timer``) still work; a subclass that overrides
    ``on_start`` or ``on_timer`` must call ``super()``.
    """

    #: a thread's timer name is this prefix plus the client process it serves
    THREAD_PREFIX = "thread-"

    def create(self, sync: Sync) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define create(sync)")

    def call(self, obj: Any, request: Request) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define call(obj, request)")

    def on_start(self) -> None:
        self.sync: Sync = _SimSync(self)
        self.threads: dict[str, _ControlledThread] = {}
        self.obj = self.create(self.sync)

    def on_client(self, request: Request) -> None:
        def done(kind: str, value: Any) -> None:
            (self.reply if kind == "ok" else self.fail)(request, value)

        self.spawn(f"p{request.process}", lambda: self.call(self.obj, request), done)

    def spawn(self, name: str, body: Callable[[], Any], done: Callable[[str, Any], None] | None = None) -> str:
        """Start ``body()`` as a controlled thread (parked until the world first picks it); ``done(kind,
        value)`` runs in the thread when it ends (``kind`` is ``"ok"`` or ``"fail"``). Returns the
        thread's timer name."""
        timer = self.THREAD_PREFIX + name
        n = 1
        while timer in self.threads:  # a duplicated request: a second thread beside the first
            n += 1
            timer = f"{self.THREAD_PREFIX}{name}.{n}"

        def finish(kind: str, value: Any) -> None:
            del self.threads[timer]
            if done is not None:
                done(kind, value)

        thread = _ControlledThread(self, timer, body, finish)
        self.threads[timer] = thread
        self._schedule(thread)
        return timer

    def _schedule(self, thread: _ControlledThread) -> None:
        self.set_timer(0, thread.name)

    def on_timer(self, name: str) -> None:
        thread = self.threads.get(name)
        if thread is None:
            return
        thread.resume()
        self._rt.annotate(self, f"{thread.stopped_at}")
        if thread.state == "runnable":
            self._schedule(thread)

    def _discard(self) -> None:
        """The world drops this incarnation (crash, end of run): unwind every thread it still has."""
        for thread in list(getattr(self, "threads", {}).values()):
            thread.kill()
        self.threads = {}
