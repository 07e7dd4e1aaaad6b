"""Real ``threading`` locks in the code under test: made controlled when the simulator can, refused when not.

An object written with plain ``threading.Lock()`` instead of ``sync.lock()`` should still be testable —
that is what testing unmodified code means — and a real lock held across a scheduling point would
otherwise deadlock the simulation (the holder is parked, the waiter blocks the OS thread the world is
waiting for). So, while a :class:`~splitbrain.sim.threads.ThreadedNode` is alive, ``threading.Lock`` and
``threading.RLock`` are replaced by factories that give a
:class:`~splitbrain.sim.thread_control.ControlledLock` (or ``ControlledRLock``) when the caller is

* the node's ``create()`` on the world's thread, or one of its controlled threads, and
* code that is not the standard library or splitbrain's engine (so ``threading.Event`` or
  ``queue.Queue``, which make their locks inside the standard library, keep real ones),

and a real lock to everyone else: other threads of the process, other worlds, the standard library.
Only these two factories are replaced — they are plain functions, so nothing that subclasses or
``isinstance``-checks a ``threading`` class can notice. The replacement is reference-counted by live
node incarnations and undone when the last one is discarded.

What the factories cannot see: a lock made before the simulation (at import time) or through a name
bound before it (``from threading import Lock``). When the object ``create()`` returns holds such a real
lock as an attribute, :func:`refuse_real_locks` refuses it with an error that says how to fix it; a real
lock that is not an attribute (a module global) is caught by the watchdog the first time a thread blocks
on it.

The other real primitives — ``Event``, ``Condition``, ``Semaphore``, ``Barrier``, ``queue.Queue``,
``time.sleep``, I/O — are neither controlled nor refused: a controlled thread that waits on one is
reported by the watchdog (see :mod:`splitbrain.sim.thread_watchdog`). Refusing them when they are made
would reject objects that work — an ``Event`` used as a flag, a queue used with ``put_nowait`` and
``get_nowait`` never blocks — and controlling them means a controlled version of each (Lincheck and
Shuttle do that for the JVM's and Rust's primitives); locks are where objects written for threads start,
and a :class:`~splitbrain.sim.thread_control.ControlledLock` already has the whole of a lock's meaning.
"""

from __future__ import annotations

import _thread
import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from splitbrain.errors import UsageError
from splitbrain.sim.thread_code import engine_or_stdlib
from splitbrain.sim.thread_control import current, running

if TYPE_CHECKING:
    from splitbrain.sim.threads import ThreadedNode

__all__ = ["creating", "install", "refuse_real_locks", "uninstall"]

_REAL_LOCK = threading.Lock
_REAL_RLOCK = threading.RLock
_REAL_TYPES: dict[type, str] = {type(_REAL_LOCK()): "threading.Lock", type(_REAL_RLOCK()): "threading.RLock"}
_guard = _thread.allocate_lock()
_users = 0


def _host() -> ThreadedNode | None:
    """The node whose simulation the calling thread belongs to, if any."""
    me = running()
    if me is not None:
        return me.node
    node: ThreadedNode | None = getattr(current, "creating", None)
    return node


def _lock() -> Any:
    host = _host()
    if host is None or engine_or_stdlib(sys._getframe(1).f_code.co_filename):
        return _REAL_LOCK()
    return host._new_lock(reentrant=False)


def _rlock(*args: Any, **kwargs: Any) -> Any:
    host = _host()
    if host is None or engine_or_stdlib(sys._getframe(1).f_code.co_filename):
        return _REAL_RLOCK(*args, **kwargs)
    return host._new_lock(reentrant=True)


def install() -> None:
    """Replace ``threading.Lock``/``RLock`` with the factories (one more live node uses them)."""
    global _users
    with _guard:
        if _users == 0:
            vars(threading).update(Lock=_lock, RLock=_rlock)
        _users += 1


def uninstall() -> None:
    """One node fewer uses the factories; the last one puts the real ``threading`` functions back."""
    global _users
    with _guard:
        _users = max(0, _users - 1)
        if _users == 0 and threading.Lock is _lock:
            vars(threading).update(Lock=_REAL_LOCK, RLock=_REAL_RLOCK)


@contextlib.contextmanager
def creating(node: ThreadedNode) -> Iterator[None]:
    """While ``node.create()`` runs on this thread, locks its object makes are the node's."""
    before = getattr(current, "creating", None)
    current.creating = node
    try:
        yield
    finally:
        current.creating = before


def refuse_real_locks(obj: Any, owner: str) -> None:
    """Refuse an object that holds a real lock the factories did not see being made."""
    try:
        attributes = sorted(vars(obj).items())
    except TypeError:  # no __dict__ (slots, builtins): nothing to look at
        return
    for name, value in attributes:
        kind = _REAL_TYPES.get(type(value))
        if kind is not None:
            raise UsageError(
                f"{owner}.create() returned a {type(obj).__name__} whose attribute {name!r} is a real "
                f"{kind} made outside the simulation (at import time, or through a name bound before it, "
                "such as `from threading import Lock`); the simulator cannot control it, and a thread "
                "blocked on it would hang the run. Make the lock while the object is created, with "
                "threading.Lock()/threading.RLock() (controlled automatically in the simulator) or "
                "sync.lock()"
            )
