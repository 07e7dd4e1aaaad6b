"""The watchdog's report: what a controlled thread that never handed control back is doing, and where.

The simulator runs one controlled thread at a time and waits for it to reach a scheduling point. A
thread that blocks on something the simulator does not control — a lock made outside the simulation, an
``Event``, a ``Condition``, ``time.sleep``, a socket — would make that wait last forever, silently. So the
wait has a wall-clock deadline (``ThreadedNode.hang_timeout``): the wall clock never decides anything in
a schedule, it only turns a hang into this error. :func:`diagnose` reads the stuck thread's stack with
``sys._current_frames()``, looks again to tell a thread *blocked* in one call from one *busy* in a
loop that has no scheduling point (by its CPU time, where the platform tells it), and builds a
:class:`ThreadHung` that names the thread (which client process, which request), the call it is in and
the line of the code under test that made it. The error carries the stuck thread's frames as its
traceback, so a crash verdict points at that line and a test report prints the thread's stack.
"""

from __future__ import annotations

import linecache
import os
import re
import sys
import time
import traceback
from types import CodeType, FrameType, TracebackType

from splitbrain.errors import SplitbrainError
from splitbrain.sim.thread_code import engine_or_stdlib

__all__ = ["ThreadHung", "diagnose"]

#: seconds between looks at the stuck thread, and how many looks it gets to show it is running
_GRACE = 0.02
_LOOKS = 5

_ADVICE = (
    "The simulator runs one controlled thread at a time and switches threads only at its own primitives "
    "(locks from sync.lock() or threading.Lock/RLock made by the code under test, sync.point(), and with "
    "interleave='lines' every line of the code under test); a thread that waits on anything else — a lock "
    "made outside the simulation, threading.Event, Condition, Semaphore, queue.Queue, time.sleep, I/O — "
    "waits for threads that cannot run. Write that wait with sync.lock()/sync.point(), test the object in "
    "stress mode (REAL_SYNC) instead, or raise ThreadedNode.hang_timeout if it is only slow."
)


class ThreadHung(SplitbrainError, RuntimeError):
    """A controlled thread went ``hang_timeout`` wall-clock seconds without reaching a scheduling point.

    ``node``, ``thread`` (its timer name, ``"thread-p2"``), ``call`` (what it is blocked in) and ``where``
    (``file:line in function`` of the code under test) say which and where; ``busy`` is true when it was
    running (a loop without a scheduling point) rather than blocked.
    """

    def __init__(self, message: str, *, node: str, thread: str, call: str, where: str, busy: bool = False) -> None:
        super().__init__(message)
        self.busy = busy
        self.node = node
        self.thread = thread
        self.call = call
        self.where = where


def _where(frame: FrameType) -> str:
    path = frame.f_code.co_filename
    try:
        rel = os.path.relpath(path)
        if not rel.startswith(".."):
            path = rel
    except ValueError:  # another drive (Windows)
        pass
    return f"{path}:{frame.f_lineno} in {frame.f_code.co_qualname}"


def _line(frame: FrameType) -> str:
    """The source line a frame is at, without indentation or a trailing comment."""
    text = linecache.getline(frame.f_code.co_filename, frame.f_lineno or 0).strip()
    return re.sub(r"\s+#[^'\"]*$", "", text)


def _called(frame: FrameType) -> str:
    """``threading.Event.wait``: the function a frame runs, with its module."""
    module = frame.f_globals.get("__name__", "?")
    return f"{module}.{frame.f_code.co_qualname}"


def _cpu_time(ident: int) -> float | None:
    """The CPU time OS thread ``ident`` has used, where the platform can tell (Linux and most Unixes).

    A thread spinning in a loop burns CPU; one blocked in a call does not. The instruction pointer of
    another thread's frame cannot tell them apart: CPython updates it only at calls, not on every
    backward jump, so a spinning frame looks as still as a blocked one."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (AttributeError, OSError, OverflowError):
        return None


def diagnose(
    ident: int | None, *, node: str, thread: str, what: str, seconds: float, outermost: CodeType
) -> ThreadHung:
    """The error for OS thread ``ident``, stuck ``seconds`` past a resume; ``outermost`` is the code of
    the controlled thread's main function, where its stack stops being the code under test's."""
    who = f"controlled thread {thread} of {node} ({what})"
    first = sys._current_frames().get(ident) if ident is not None else None
    if ident is None or first is None:
        return ThreadHung(
            f"{who} did not hand control back within {seconds:g} s and has no stack any more",
            node=node, thread=thread, call="?", where="?",
        )
    lasti, cpu = first.f_lasti, _cpu_time(ident)
    busy = False
    for _ in range(_LOOKS):  # a busy thread on a loaded machine may not get the CPU at once
        time.sleep(_GRACE)
        frame = sys._current_frames().get(ident) or first
        spent = _cpu_time(ident)
        if cpu is not None and spent is not None:
            busy = spent - cpu > _GRACE / 20
        else:  # no per-thread CPU clock: a thread that moved on to another frame or instruction is busy
            busy = frame is not first or frame.f_lasti != lasti
        if busy:
            break

    stack: list[FrameType] = []  # innermost first
    f: FrameType | None = frame
    while f is not None and f.f_code is not outermost:
        stack.append(f)
        f = f.f_back
    if not stack:
        stack = [frame]
    user = next((i for i, s in enumerate(stack) if not engine_or_stdlib(s.f_code.co_filename)), None)
    at = stack[user] if user is not None else stack[0]
    where = _where(at)
    line = _line(at)
    if user is None or user == 0:  # stuck in the line itself: a builtin call, a loop
        call = f"`{line}`" if line else _called(at)
    else:  # stuck in a function the line called
        call = _called(stack[user - 1]) + (f" (called as `{line}`)" if line else "")
    if busy:
        message = (
            f"{who} ran {seconds:g} s (wall clock) without reaching a scheduling point, last in {call} at "
            f"{where}: a loop that waits for another thread without a scheduling point never lets it run. "
        )
    else:
        message = (
            f"{who} has been blocked for {seconds:g} s (wall clock) in {call} at {where}, outside the "
            "simulator's control. "
        )
    error = ThreadHung(message + _ADVICE, node=node, thread=thread, call=call, where=where, busy=busy)
    error.add_note(f"stack of {thread} when it was given up:\n" + "".join(traceback.format_stack(frame)).rstrip())
    # the stuck thread's own frames (from its request down to the line of the code under test) become the
    # traceback, so that the crash verdict's location and a test report point there
    tb: TracebackType | None = None
    for s in stack[user if user is not None else 0:]:
        if s is at or not engine_or_stdlib(s.f_code.co_filename):
            tb = TracebackType(tb, s, max(s.f_lasti, 0), s.f_lineno or 0)
    return error.with_traceback(tb)
