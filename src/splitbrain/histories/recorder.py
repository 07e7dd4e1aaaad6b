"""`Recorder`: a thread-safe history of calls that concurrent clients make to a real system.

Each client thread is a Jepsen *process*: it invokes one operation at a time and records how it ended.

* ``ok``   — the system answered; the value is the result;
* ``fail`` — the operation definitely did not take effect (a failed compare-and-set, a refused
  connection, or any error on a read-only function: a read that never answered changed nothing);
* ``info`` — the outcome is unknown (a timeout or a reset after the request may have been sent). The
  process then retires: it may still be "in flight", so its id must not invoke again. The thread goes on
  under a fresh id from :meth:`Recorder.new_process` (a :class:`Worker` does this for you).

Timestamps are ``time.monotonic_ns()`` read while holding the lock that appends the event, so the order
of events in the history is also the order of their timestamps: an operation that completed before
another was invoked is recorded before it, which is all a linearizability check needs from real time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

from splitbrain.errors import UsageError
from splitbrain.histories.history import History
from splitbrain.histories.op import NEMESIS, Op, OpType

__all__ = [
    "DEFINITE_FAILURES",
    "Call",
    "DefiniteFailure",
    "Recorder",
    "Worker",
]


class DefiniteFailure(Exception):
    """Raise inside :meth:`Recorder.call` when the operation definitely did not happen (records ``fail``).

    Client adapters raise it for a compare-and-set whose comparison failed, a request that was never
    sent, or an error the server guarantees was not applied.
    """


#: exception types that mean "did not happen" by default: a refused connection sent nothing
DEFINITE_FAILURES: tuple[type[BaseException], ...] = (DefiniteFailure, ConnectionRefusedError)


def _describe(error: BaseException | str | None) -> str | None:
    if error is None or isinstance(error, str):
        return error
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Call:
    """An open call: complete it exactly once with :meth:`ok`, :meth:`fail` or :meth:`info`."""

    __slots__ = ("_recorder", "done", "exception", "f", "key", "node", "process", "status", "value")

    def __init__(
        self, recorder: Recorder, process: int, f: str, value: Any, node: str | None, key: Any = None
    ) -> None:
        self._recorder = recorder
        self.process = process
        self.f = f
        self.value = value
        self.node = node
        self.key = key
        self.done = False
        self.status: str | None = None
        #: the exception that completed the call, when one did (see :meth:`Recorder.call`)
        self.exception: BaseException | None = None

    def ok(self, value: Any = None) -> None:
        """The operation happened and returned ``value``."""
        self._recorder._complete(self, "ok", value, None)

    def fail(self, error: BaseException | str | None = None) -> None:
        """The operation definitely did not happen."""
        self._recorder._complete(self, "fail", self.value, error)

    def info(self, error: BaseException | str | None = None) -> None:
        """The outcome is unknown; the process retires."""
        self._recorder._complete(self, "info", self.value, error)

    def __repr__(self) -> str:
        key = "" if self.key is None else f" {self.key!r}"
        return f"<call p{self.process} {self.f}{key} {self.value!r} {self.status or 'open'}>"


class Recorder:
    """Thread-safe history recorder with monotonic timestamps and Jepsen completion semantics.

    ``definite`` lists the exception types that :meth:`call` records as ``fail``; every other exception
    records ``info``, except on a function in ``readonly`` (it has no effect, so an error is a ``fail``).
    ``clock`` returns integer nanoseconds (injectable for tests).
    """

    def __init__(
        self,
        *,
        definite: tuple[type[BaseException], ...] = DEFINITE_FAILURES,
        readonly: Collection[str] = (),
        clock: Callable[[], int] = time.monotonic_ns,
        source: str | None = None,
    ) -> None:
        self.definite = definite
        self.readonly = frozenset(readonly)
        self.source = source
        self._clock = clock
        self._lock = threading.Lock()
        self._ops: list[Op] = []
        self._open: dict[int, Call] = {}
        self._retired: set[int] = set()
        self._next_process = 0
        self.counts = {"ok": 0, "fail": 0, "info": 0}

    # -- processes ---------------------------------------------------------------------------------
    def new_process(self) -> int:
        """A process id never used before in this history."""
        with self._lock:
            pid = self._next_process
            self._next_process += 1
            return pid

    def retired(self, process: int) -> bool:
        """True once ``process`` recorded an unknown outcome (it must not invoke again)."""
        with self._lock:
            return process in self._retired

    def worker(self) -> Worker:
        """A client-thread helper that swaps to a fresh process id after each ``info``."""
        return Worker(self)

    # -- recording ---------------------------------------------------------------------------------
    def invoke(self, process: int, f: str, value: Any = None, *, node: str | None = None, key: Any = None) -> Call:
        """Record the invocation of ``f(value)`` by ``process`` (on ``key``, for a store of many objects:
        each key is then checked on its own); complete the returned call later."""
        if not isinstance(process, int) or isinstance(process, bool):
            raise UsageError(f"process ids are ints (got {process!r}); use recorder.new_process()")
        with self._lock:
            if process in self._open:
                raise UsageError(
                    f"process {process} invokes {f} while its {self._open[process].f} is still open "
                    "(a process is sequential: complete the call first)"
                )
            if process in self._retired:
                raise UsageError(
                    f"process {process} recorded an unknown outcome (info) and retired; "
                    "continue with recorder.new_process()"
                )
            self._next_process = max(self._next_process, process + 1)
            call = Call(self, process, f, value, node, key)
            self._open[process] = call
            self._append(process, "invoke", f, value, node, None, key)
        return call

    @contextmanager
    def call(
        self, process: int, f: str, value: Any = None, *, node: str | None = None, key: Any = None
    ) -> Iterator[Call]:
        """Record a call around a block: ``with rec.call(p, "read", None) as c: c.ok(client.get())``.

        An exception escaping the block completes the call (``fail`` for a definite failure or a
        read-only function, ``info`` otherwise) and is swallowed: its outcome is now in the history,
        and a client loop simply goes on. A block that completes nothing records ``info``.
        """
        call = self.invoke(process, f, value, node=node, key=key)
        try:
            yield call
        except Exception as exc:
            if call.done:
                raise
            call.exception = exc
            if isinstance(exc, self.definite) or f in self.readonly:
                call.fail(exc)
            else:
                call.info(exc)
            return
        if not call.done:
            call.info("the call block ended without recording an outcome")

    def nemesis(self, f: str, value: Any = None) -> None:
        """Record a fault event (``start-partition``, ``stop-pause``, ...) for reports to shade."""
        with self._lock:
            self._append(NEMESIS, "info", f, value, None, None, None)

    def _complete(self, call: Call, status: OpType, value: Any, error: BaseException | str | None) -> None:
        with self._lock:
            if call.done:
                raise UsageError(f"{call!r} is already complete")
            call.done = True
            call.status = status
            del self._open[call.process]
            if status == "info":
                self._retired.add(call.process)
            self.counts[status] += 1
            self._append(call.process, status, call.f, value, call.node, _describe(error), call.key)

    def _append(
        self, process: int | str, type: OpType, f: str, value: Any, node: str | None, error: str | None,
        key: Any,
    ) -> None:
        # called with the lock held: the timestamp order is the event order
        self._ops.append(
            Op(process=process, type=type, f=f, value=value, index=len(self._ops), time=self._clock(),
               node=node, error=error, key=key)
        )

    # -- reading -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._ops)

    @property
    def ops(self) -> list[Op]:
        """A snapshot of the events recorded so far."""
        with self._lock:
            return list(self._ops)

    def history(self) -> History:
        """The validated history so far (calls still open count as unknown outcomes)."""
        return History.from_ops(self.ops, source=self.source)


class Worker:
    """One client thread's view of a :class:`Recorder`: its current process id, renewed after ``info``."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.process = recorder.new_process()

    @contextmanager
    def call(self, f: str, value: Any = None, *, node: str | None = None, key: Any = None) -> Iterator[Call]:
        """Like :meth:`Recorder.call`, under this worker's process; a fresh id follows an ``info``."""
        try:
            with self.recorder.call(self.process, f, value, node=node, key=key) as call:
                yield call
        finally:
            if self.recorder.retired(self.process):
                self.process = self.recorder.new_process()
