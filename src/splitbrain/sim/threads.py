"""Controlled threads: real Python threads whose interleaving the world's choice source decides.

A thread-safe object is written once against :class:`Sync` — ``sync.lock()`` instead of
``threading.Lock()``, ``sync.point("read tokens")`` at each shared-state access that matters, and
``sync.now()`` for its clock — or, unmodified, with plain ``threading.Lock``/``RLock``. In production and
in stress mode it gets :data:`REAL_SYNC` (real locks, a real monotonic clock, points that cost nothing).
In the simulator a :class:`ThreadedNode` hosts it and runs every client request in its own *real* OS
thread, but only one thread runs at a time: at every scheduling point the running thread parks and hands
control back to the world, whose choice source then picks which parked thread continues — exactly as it
picks which message to deliver next.

This is the model-checking mode of Lincheck (Koval et al., "Lincheck: A Practical Framework for Testing
Concurrent Data Structures on JVM", CAV 2023) and AWS Shuttle's controlled scheduler: concurrency bugs
become properties of a schedule, so the same machinery that generates, shrinks and replays network
schedules does it for thread interleavings. A resume is an ordinary zero-delay timer of the node, named
after the client process the thread serves (``timer:n1:thread-p2``), so traces stay stable when
shrinking removes other threads' steps, and every resume step notes where the thread stopped next
("at 'take token'", "at racy.py:17", "waits for lock L1", "done").

**Two modes** (``ThreadedNode.interleave``):

* ``"points"`` (the default, fast): threads switch at the start of a thread, at every lock
  ``acquire()`` (before it takes the lock) and at every ``sync.point()``. Only the interleavings the
  author thought of are explored: a check-then-act race with no point between the check and the act is
  never found, because the two run as one step.
* ``"lines"``: also before every line of the *code under test* (``ThreadedNode.code_under_test``; by
  default the files defining the class of the object ``create()`` returns — never the standard library
  or splitbrain's engine), through ``sys.settrace`` in the controlled threads only (see
  :mod:`splitbrain.sim.thread_code`). This finds races in code with no ``sync.point`` at all, as
  Lincheck's model checking does on the JVM. Lincheck switches at each shared-memory read and write; a
  line is coarser, so a race inside one line (``self.n += 1``) is not split. A line that calls
  ``sync.point()`` or takes a lock is already a point and is not made a second one. Line points are
  steps chosen by the same choice source, so seeds, replay and shrinking work as in points mode; a
  schedule is several times longer (every line is a world step), so give the workload more
  ``max_steps``.

``release()`` is not a scheduling point: it wakes the lock's waiters, and whatever the releasing thread
does next reaches a point or the end soon enough. A thread blocked on a lock is not runnable until the
lock is released; if every thread is blocked the clients time out, as they would on a real deadlock.

**Real threading primitives** (:mod:`splitbrain.sim.thread_primitives`): ``threading.Lock()`` and
``threading.RLock()`` made by the code under test while the simulator runs it (in ``create()`` or in a
controlled thread) *are* controlled locks — unmodified lock-based code works, and its acquires are
scheduling points. An object that holds a real lock made before the simulation (at import time, or
through ``from threading import Lock``) is refused when it is created. Every other real primitive —
``Event``, ``Condition``, ``Semaphore``, ``queue.Queue``, ``time.sleep``, I/O — is not controlled.

**The watchdog**: a thread that blocks on something the simulator does not control would make the run
hang forever, so the world waits for a resumed thread only ``ThreadedNode.hang_timeout`` wall-clock
seconds (default 5). Then the run ends with :class:`ThreadHung`, which names the node, the thread and the
request it serves, the call it is blocked in, and the ``file:line`` of the code under test; its
traceback is the stuck thread's stack. Raised out of the world, it is a ``crash:ThreadHung`` verdict of
the schedule. The wall clock decides nothing else: a schedule that does not hang runs the same however
slow the machine.

A crash of the node (and the end of a run) kills its threads: each parked thread is resumed with a
:class:`ThreadKilled` (a ``BaseException``, so ``except Exception`` in user code does not swallow it)
that unwinds its stack. A thread given up by the watchdog is abandoned; should it ever come back, its
next scheduling point unwinds it the same way, and it never answers a request.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, ClassVar, Protocol

from splitbrain.errors import UsageError
from splitbrain.sim.node import Node, Request
from splitbrain.sim.thread_code import CodeScope
from splitbrain.sim.thread_control import (
    ControlledLock,
    ControlledRLock,
    ControlledThread,
    Rejected,
    ThreadKilled,
    running,
)
from splitbrain.sim.thread_primitives import creating, install, refuse_real_locks, uninstall
from splitbrain.sim.thread_watchdog import ThreadHung

__all__ = [
    "REAL_SYNC",
    "ControlledLock",
    "ControlledRLock",
    "LockLike",
    "Rejected",
    "Sync",
    "ThreadHung",
    "ThreadKilled",
    "ThreadedNode",
]


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


class _SimSync:
    """The simulator's :class:`Sync` for one node incarnation. Locks are named ``L1``, ``L2``, … in the
    order they are made (by ``sync.lock()`` or by ``threading.Lock()``/``RLock()`` in the code under
    test), which is deterministic."""

    def __init__(self, node: ThreadedNode) -> None:
        self._node = node
        self._locks = 0

    def make(self, reentrant: bool) -> ControlledLock:
        self._locks += 1
        return (ControlledRLock if reentrant else ControlledLock)(self._node, f"L{self._locks}")

    def lock(self) -> LockLike:
        return self.make(False)

    def point(self, label: str) -> None:
        me = running()
        if me is not None and not me.on_traced_line(sys._getframe(1)):
            me.park(f"at {label!r}")

    def now(self) -> float:
        return self._node.now()


_MODES = ("points", "lines")
_scopes: dict[tuple[type, type], CodeScope] = {}


class ThreadedNode(Node):
    """A node hosting one shared object; each client request runs in its own controlled thread.

    Override :meth:`create` (build the object; called at start and after every restart — keep durable
    state in ``storage`` if the object has any) and :meth:`call` (what a request does to the object; it
    runs inside the request's thread, its return value is the reply, ``raise Rejected(v)`` answers
    ``fail``). :meth:`spawn` runs other work on the object (a health check, a timer's refill) as a
    thread too. Ordinary handlers (``on_message``, ``on_timer``) still work; a subclass that overrides
    ``on_start`` or ``on_timer`` must call ``super()``.

    Settings (class attributes; see the module docstring): ``interleave`` (``"points"`` or ``"lines"``),
    ``code_under_test`` (what line mode stops in) and ``hang_timeout`` (the watchdog's deadline).
    """

    #: a thread's timer name is this prefix plus the client process it serves
    THREAD_PREFIX = "thread-"
    #: where threads may switch: ``"points"`` — lock acquires and ``sync.point()`` only (fast);
    #: ``"lines"`` — also before every line of the code under test
    interleave: ClassVar[str] = "points"
    #: the code under test, for line mode: modules (dotted names or objects; a package covers its
    #: submodules), file paths, classes and functions. Empty: the files defining the class of the object
    #: ``create()`` returns and of its bases. The standard library and splitbrain's engine are refused.
    code_under_test: ClassVar[Sequence[Any]] = ()
    #: wall-clock seconds a resumed thread may take to reach its next scheduling point before the run
    #: ends with :class:`ThreadHung` (it is blocked on something the simulator does not control)
    hang_timeout: ClassVar[float] = 5.0

    def create(self, sync: Sync) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define create(sync)")

    def call(self, obj: Any, request: Request) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define call(obj, request)")

    def on_start(self) -> None:
        cls = type(self)
        if cls.interleave not in _MODES:
            raise UsageError(f"{cls.__name__}.interleave must be 'points' or 'lines', got {cls.interleave!r}")
        timeout = cls.hang_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise UsageError(f"{cls.__name__}.hang_timeout must be a number of seconds > 0, got {timeout!r}")
        self._world_ident = threading.get_ident()
        self._sim = _SimSync(self)
        self.sync: Sync = self._sim
        self.threads: dict[str, ControlledThread] = {}
        install()
        self._installed = True
        with creating(self):
            self.obj = self.create(self.sync)
        refuse_real_locks(self.obj, cls.__name__)
        self.code_scope = self._scope()

    def _scope(self) -> CodeScope:
        cls = type(self)
        key = (cls, type(self.obj))
        scope = _scopes.get(key)
        if scope is None:
            scope = CodeScope.resolve(cls.code_under_test, self.obj, cls.__name__)
            if cls.interleave == "lines" and not scope:
                raise UsageError(
                    f"{cls.__name__}.interleave is 'lines' but there is no code under test to stop in "
                    f"({scope.described or 'nothing'} has no Python source outside the standard library and "
                    "splitbrain's engine); name it in code_under_test"
                )
            _scopes[key] = scope
        return scope

    def _new_lock(self, reentrant: bool) -> ControlledLock:
        """A controlled lock for ``threading.Lock()``/``RLock()`` called by the code under test."""
        return self._sim.make(reentrant)

    def on_client(self, request: Request) -> None:
        def done(kind: str, value: Any) -> None:
            (self.reply if kind == "ok" else self.fail)(request, value)

        what = f"client process {request.process}: {request.f}"
        if request.value is not None:
            what += f" {request.value!r}"
        self.spawn(f"p{request.process}", lambda: self.call(self.obj, request), done, what=what)

    def spawn(
        self,
        name: str,
        body: Callable[[], Any],
        done: Callable[[str, Any], None] | None = None,
        *,
        what: str | None = None,
    ) -> str:
        """Start ``body()`` as a controlled thread (parked until the world first picks it); ``done(kind,
        value)`` runs in the thread when it ends (``kind`` is ``"ok"`` or ``"fail"``); ``what`` says what
        the thread does, for error messages. Returns the thread's timer name."""
        timer = self.THREAD_PREFIX + name
        n = 1
        while timer in self.threads:  # a duplicated request: a second thread beside the first
            n += 1
            timer = f"{self.THREAD_PREFIX}{name}.{n}"

        def finish(kind: str, value: Any) -> None:
            del self.threads[timer]
            if done is not None:
                done(kind, value)

        thread = ControlledThread(self, timer, body, finish, what or f"spawned as {name!r}")
        self.threads[timer] = thread
        self._schedule(thread)
        return timer

    def _schedule(self, thread: ControlledThread) -> None:
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
        if getattr(self, "_installed", False):
            self._installed = False
            uninstall()
