"""Controlled threads and their locks: one OS thread runs at a time, and only when the world resumes it.

See :mod:`splitbrain.sim.threads` for the model; this module holds the mechanism. The hand-over between
the world's thread and a controlled thread is two semaphores, so exactly one side runs at any time. The
world's wait for a thread to park again has a wall-clock deadline (the node's ``hang_timeout``): a
thread that misses it is given up with a :class:`~splitbrain.sim.thread_watchdog.ThreadHung` that says
where it is stuck, instead of the run hanging forever.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from splitbrain.errors import UsageError
from splitbrain.sim.thread_code import line_tracer
from splitbrain.sim.thread_watchdog import diagnose

if TYPE_CHECKING:
    from splitbrain.sim.threads import ThreadedNode

__all__ = ["ControlledLock", "ControlledRLock", "ControlledThread", "Rejected", "ThreadKilled", "running"]


class Rejected(Exception):
    """Raised by :meth:`ThreadedNode.call` to answer the request with ``fail`` (definitely not done)."""

    def __init__(self, value: Any = None) -> None:
        super().__init__(value)
        self.value = value


class ThreadKilled(BaseException):
    """Unwinds a controlled thread whose node crashed or whose run ended."""


#: ``thread``: the controlled thread running on this OS thread; ``creating``: the node whose ``create()``
#: this (the world's) thread is running
current = threading.local()


def running() -> ControlledThread | None:
    """The controlled thread the calling OS thread is, if it is one."""
    return getattr(current, "thread", None)


class ControlledThread:
    """One OS thread, run only when the world resumes it, parked at every scheduling point.

    ``resume()`` (world side) releases ``_go`` and waits on ``_back``; the thread releases ``_back`` and
    waits on ``_go`` when it parks. In line mode the thread runs under a ``sys.settrace`` function that
    parks it before every line of the node's code under test.
    """

    def __init__(
        self, node: ThreadedNode, name: str, body: Callable[[], Any], done: Callable[..., None], what: str
    ) -> None:
        self.node = node
        self.name = name
        self.what = what
        self.state = "runnable"  # runnable | blocked | done
        self.stopped_at = "start"
        self.lines = node.interleave == "lines"
        self.scope = node.code_scope
        self.hung = False
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
        """Run the thread until it parks, blocks or ends; re-raise what its body raised, or raise
        ``ThreadHung`` when it does not hand control back within the node's ``hang_timeout``."""
        self._go.release()
        if not self._back.acquire(timeout=self.node.hang_timeout):
            self._give_up()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _give_up(self) -> None:
        error = diagnose(
            self._os.ident, node=self.node.id, thread=self.name, what=self.what,
            seconds=self.node.hang_timeout, outermost=ControlledThread._run.__code__,
        )
        if self._back.acquire(blocking=False):
            return  # it reached a scheduling point while we looked: slow, not stuck
        # abandoned: should it ever come back, its next scheduling point unwinds it (see kill); one that
        # spins in a loop never reaches one, so it is interrupted where it runs
        self._killed = True
        self.hung = True
        if error.busy and self._os.ident is not None:
            _interrupt(self._os.ident)
        raise error

    def kill(self) -> None:
        """Unwind the thread (its node crashed or the run ended); what it does meanwhile cannot affect
        the run. A thread that does not finish unwinding within the deadline is abandoned."""
        if self.state == "done":
            return
        self._killed = True
        self._go.release()  # a given-up thread that ever parks again wakes to ThreadKilled
        if not self.hung and not self._back.acquire(timeout=self.node.hang_timeout):
            self.hung = True
        self._error = None

    # -- thread side -------------------------------------------------------------------------------
    def _main(self) -> None:
        current.thread = self
        try:
            self._run()
        except ThreadKilled:  # an interrupt (see _give_up) that arrived after the body had ended
            pass
        finally:
            self._back.release()

    def _run(self) -> None:
        self._go.acquire()
        result: tuple[str, Any] | None = None
        previous = sys.gettrace()  # a coverage tool's, say: it misses this thread's lines in line mode
        try:
            if self._killed:
                raise ThreadKilled
            if self.lines:
                sys.settrace(line_tracer(self.scope, self.park))
            result = ("ok", self._body())
        except Rejected as exc:
            result = ("fail", exc.value)
        except ThreadKilled:
            pass
        except Exception as exc:  # the code under test crashed: the world reports it as a crash
            self._error = exc
        finally:
            if self.lines:
                sys.settrace(previous)
        self.state = "done"
        self.stopped_at = "done"
        if result is not None and self._error is None and not self._killed:
            try:
                self._done(*result)
            except Exception as exc:
                self._error = exc

    def park(self, where: str) -> None:
        """Give control back to the world; return when it resumes this thread."""
        if self._killed:
            raise ThreadKilled
        self.stopped_at = where
        self._back.release()
        self._go.acquire()
        if self._killed:
            raise ThreadKilled

    def on_traced_line(self, caller: FrameType) -> bool:
        """In line mode, whether ``caller`` runs a line of the code under test — the line was a
        scheduling point already, so a lock or ``sync.point`` on it need not be another."""
        return self.lines and self.scope.covers(caller.f_code) is not None


def _interrupt(ident: int) -> None:
    """Raise :class:`ThreadKilled` in OS thread ``ident`` at its next bytecode (CPython's
    ``PyThreadState_SetAsyncExc``): the only way to stop a thread spinning in Python code."""
    try:
        import ctypes

        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(ThreadKilled))
    except (ImportError, AttributeError):  # not CPython: the thread spins on, as a daemon
        pass


class ControlledLock:
    """A lock whose ``acquire`` is a scheduling point; a held lock blocks the thread until released.

    Outside a controlled thread (a node handler running on the world's thread) ``acquire`` succeeds at
    once when the lock is free and raises when a parked thread holds it: a handler cannot wait. Any other
    thread — one the simulator does not control — is refused.

    ``acquire(timeout=t)`` waits like a blocking acquire, except that while the lock is held the thread
    stays runnable: when the world resumes it before the lock is free, the timeout has expired first and
    it returns ``False``. Virtual time does not pass; which happens first is the choice source's.
    """

    reentrant = False

    def __init__(self, node: ThreadedNode, name: str) -> None:
        self._node = node
        self.name = name
        self.owner: str | None = None
        self._count = 0
        self._waiters: list[ControlledThread] = []

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._acquire(blocking, timeout, sys._getframe(1))

    def _acquire(self, blocking: bool, timeout: float, caller: FrameType) -> bool:
        me = running()
        if me is None:
            return self._acquire_outside()
        if not me.on_traced_line(caller):
            me.park(f"acquire {self.name}")
        if self.reentrant and self.owner == me.name:
            self._count += 1
            return True
        timed = timeout is not None and timeout >= 0
        while self.owner is not None:
            if not blocking:
                return False
            if self.owner == me.name:
                raise RuntimeError(f"thread {me.name} acquires lock {self.name}, which it already holds")
            if me not in self._waiters:
                self._waiters.append(me)
            if timed:
                me.park(f"waits for {self.name} (or its timeout)")
                if self.owner is not None:  # resumed while still held: the timeout expired first
                    self._waiters.remove(me)
                    return False
            else:
                me.state = "blocked"
                me.park(f"waits for {self.name}")
        me.state = "runnable"
        self.owner = me.name
        self._count = 1
        return True

    def _acquire_outside(self) -> bool:
        if threading.get_ident() != self._node._world_ident:
            raise UsageError(
                f"{self._node.id}: thread {threading.current_thread().name!r}, which the simulator does not "
                f"control, took lock {self.name} of the simulated object; only the node's controlled threads "
                "and its handlers may use it"
            )
        if self.reentrant and self.owner == "handler":
            self._count += 1
            return True
        if self.owner is not None:
            raise UsageError(
                f"{self._node.id}: a node handler tried to take lock {self.name}, held by thread "
                f"{self.owner}; do work that needs the object in a thread (ThreadedNode.spawn)"
            )
        self.owner = "handler"
        self._count = 1
        return True

    def release(self) -> None:
        if self.owner is None:
            raise RuntimeError(f"release of unlocked lock {self.name}")
        if self.reentrant:
            if not self._is_owned():
                raise RuntimeError(f"cannot release lock {self.name}: held by {self.owner}")
            self._count -= 1
            if self._count:
                return
        self.owner = None
        self._count = 0
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.state = "runnable"
            self._node._schedule(waiter)

    def locked(self) -> bool:
        return self.owner is not None

    def _is_owned(self) -> bool:
        """Whether the calling thread holds it (what ``threading.Condition`` asks its lock)."""
        me = running()
        return self.owner is not None and self.owner == (me.name if me is not None else "handler")

    def __enter__(self) -> ControlledLock:
        self._acquire(True, -1, sys._getframe(1))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None, /
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        kind = "rlock" if self.reentrant else "lock"
        return f"<{kind} {self.name} held by {self.owner}>" if self.owner else f"<{kind} {self.name} free>"


class ControlledRLock(ControlledLock):
    """A reentrant :class:`ControlledLock`: what ``threading.RLock()`` gives the code under test."""

    reentrant = True
