"""The determinism auditor: code under simulation that reaches outside the world is stopped and named.

A simulated run is reproducible only if everything the code under test sees comes through the world:
time from ``self.now()``, randomness from ``self.randint()``, messages from ``send``. A call that
escapes — the wall clock, the global ``random``, a real socket, thread or process — makes the run
depend on something no seed records, and the failure it finds may never replay. simloom and seedloop
refuse such calls; madsim runs a test twice and stops at the first divergence (splitbrain does that
too: ``splitbrain replay --check-determinism``). While a :class:`~splitbrain.sim.World` runs, the
auditor replaces those functions with guards that raise :class:`~splitbrain.errors.NondeterminismError`,
naming the call, the line of the code under test that made it, and what to use instead.

**Who is refused.** Only code under test, on the world's thread or on one of its controlled threads
(:mod:`splitbrain.sim.threads`): the guard walks the stack outward from the call, skips the standard
library and the libraries splitbrain runs on (Hypothesis, msgspec, …), and decides by the first frame
left — splitbrain's own engine (which uses real threads for controlled threads, and Hypothesis, which
times its draws) is allowed; anything else, the bug zoo included, is refused. Other threads of the
process (a progress bar, a Dask worker) are never audited. Log records read the clock for their
timestamps only, so calls from :mod:`logging` pass.

**What is guarded**: ``time.time``/``monotonic``/``perf_counter``/``process_time``/``thread_time``
(and their ``_ns`` forms), ``time.localtime``/``gmtime``/``ctime``/``strftime`` without a time
argument; ``datetime.datetime.now``/``utcnow``/``today`` and ``datetime.date.today``;
every function of the global ``random``, ``random.Random()`` without a seed and ``random.SystemRandom``;
``os.urandom``, ``uuid.uuid1``/``uuid4``; ``socket.socket`` and name lookups; ``threading.Thread.start``
and ``_thread.start_new_thread``; ``subprocess.Popen``, ``os.system``, ``os.fork``, ``os.popen`` and
``os.posix_spawn``. A module attribute is only found when called through its module (``time.time()``),
so the modules of the node, client and workload classes are also searched for names bound to the real
functions (``from time import time``) and those names are guarded for the run too.

Guards are installed when the first auditing world starts and removed when the last one ends; calls
from anywhere but an audited thread go straight to the real function.
"""

from __future__ import annotations

import _thread
import datetime
import functools
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType, ModuleType
from typing import Any

from splitbrain.errors import NondeterminismError

__all__ = ["Auditor", "code_modules", "guarded", "real"]

_CLOCK = "reads the wall clock; use self.now() (the node's simulated clock) or set a timer"
_RANDOM = "uses randomness no seed records; use self.randint()/self.choice() (drawn through the scheduler)"
_SOCKET = "opens a real socket; nodes talk through self.send(), which the simulated network carries"
_THREAD = "starts a real thread the scheduler cannot control; use a ThreadedNode (controlled threads)"
_PROCESS = "starts a real process; a simulated node cannot depend on one"

#: packages whose frames are looked through, like the standard library's: they are not the code under test
_LIBRARIES = frozenset({
    "hypothesis", "msgspec", "rich", "click", "networkx", "dask", "distributed", "pytest", "_pytest", "pluggy",
    "sortedcontainers", "attr", "attrs", "typing_extensions", "coverage", "xdist", "execnet", "jinja2",
    "markupsafe", "importlib_metadata", "zipp", "exceptiongroup", "tblib", "cloudpickle", "toolz", "tlz",
})
#: packages whose clock reads never decide behaviour (a log record's timestamp)
_QUIET = frozenset({"logging"})
_STDLIB = frozenset(sys.stdlib_module_names)
_NOT_GIVEN: Any = object()


def _role(module: str) -> str:
    """``"engine"``, ``"library"``, ``"quiet"`` or ``"user"`` for a frame of ``module``."""
    top = module.partition(".")[0]
    if top == "splitbrain":
        return "user" if module.startswith("splitbrain.impls") else "engine"
    if top in _QUIET:
        return "quiet"
    if top in _STDLIB or top in _LIBRARIES:
        return "library"
    return "user"


_roles: dict[str, str] = {}


def _culprit(frame: FrameType | None) -> FrameType | None:
    """The frame of the code under test responsible for a guarded call, or ``None`` if it is allowed."""
    while frame is not None:
        module = frame.f_globals.get("__name__") or ""
        role = _roles.get(module)
        if role is None:
            role = _roles[module] = _role(module)
        if role == "user":
            return frame
        if role != "library":
            return None
        frame = frame.f_back
    return None


# -- which threads are audited ---------------------------------------------------------------------------
_auditing: dict[int, Auditor] = {}  # thread ident -> the auditor of the world running on it
_lock = _thread.allocate_lock()
_installed: list[tuple[Any, str, Any]] = []  # (module, name, original) bound in the code's modules, to put back
_bound: dict[str, list[str]] = {}  # module -> its names bound to a guarded function, found once
_users = 0


def _current() -> Auditor | None:
    auditor = _auditing.get(_thread.get_ident())
    if auditor is not None:
        return auditor
    controlled = sys.modules.get("splitbrain.sim.thread_control")
    running = getattr(controlled, "running", None)
    me = running() if callable(running) else None
    if me is None:
        return None
    world = getattr(getattr(me, "node", None), "_rt", None)
    found: Auditor | None = getattr(world, "_auditor", None)
    return found if found is not None and found.depth else None


def _check(what: str, why: str) -> None:
    """Raise if the calling thread is audited and the code under test made this call."""
    if not _auditing and "splitbrain.sim.thread_control" not in sys.modules:
        return
    auditor = _current()
    if auditor is None:
        return
    frame = _culprit(sys._getframe(2))
    if frame is None:
        return
    error = NondeterminismError(
        f"{what} called inside the simulator, at {frame.f_code.co_filename}:{frame.f_lineno} in "
        f"{frame.f_code.co_name}: it {why}. A run that does this cannot be replayed (splitbrain's "
        "determinism auditor; World(..., audit=False) turns it off)"
    )
    if auditor.escaped is None:
        auditor.escaped = error
    raise error


# -- the guards ------------------------------------------------------------------------------------------
def _guard(original: Callable[..., Any], what: str, why: str, *, only_without: int | None = None) -> Any:
    """A stand-in for ``original`` that checks first; with ``only_without=n`` only when fewer than ``n + 1``
    positional arguments are given (``time.localtime()`` reads the clock, ``localtime(t)`` does not)."""

    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if only_without is None or (len(args) <= only_without and not kwargs):
            _check(what, why)
        return original(*args, **kwargs)

    guarded.__splitbrain_guard__ = original  # type: ignore[attr-defined]
    return guarded


def _seed_guard(original: Callable[..., Any]) -> Any:
    @functools.wraps(original)
    def seed(self: Any, a: Any = None, *args: Any, **kwargs: Any) -> Any:
        if a is None:
            _check("random.Random() without a seed", "seeds itself from the operating system; " + _RANDOM)
        return original(self, a, *args, **kwargs)

    seed.__splitbrain_guard__ = original  # type: ignore[attr-defined]
    return seed


class _Datetime(datetime.datetime):
    """``datetime.datetime`` whose clock reads are guarded (the C type's methods cannot be replaced)."""

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        _check("datetime.datetime.now()", _CLOCK)
        return _REAL_DATETIME.now(tz)

    @classmethod
    def utcnow(cls) -> Any:
        _check("datetime.datetime.utcnow()", _CLOCK)
        return _REAL_DATETIME.utcnow()

    @classmethod
    def today(cls) -> Any:
        _check("datetime.datetime.today()", _CLOCK)
        return _REAL_DATETIME.today()


class _Date(datetime.date):
    @classmethod
    def today(cls) -> Any:
        _check("datetime.date.today()", _CLOCK)
        return _REAL_DATE.today()


_REAL_DATETIME = datetime.datetime
_REAL_DATE = datetime.date

_RANDOM_FUNCTIONS = (
    "random", "uniform", "triangular", "randint", "choice", "randrange", "sample", "shuffle", "choices",
    "normalvariate", "lognormvariate", "expovariate", "vonmisesvariate", "gammavariate", "gauss",
    "betavariate", "paretovariate", "weibullvariate", "getrandbits", "randbytes", "seed",
)


def _targets() -> Iterator[tuple[Any, str, str, str, int | None]]:
    """``(owner, attribute, name shown, why, only_without)`` for every guarded callable."""
    for name in ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
                 "process_time", "process_time_ns", "thread_time", "thread_time_ns"):
        yield time, name, f"time.{name}()", _CLOCK, None
    for name in ("localtime", "gmtime", "ctime"):
        yield time, name, f"time.{name}() without a time", _CLOCK, 0
    yield time, "strftime", "time.strftime() without a time", _CLOCK, 1
    for name in _RANDOM_FUNCTIONS:
        if hasattr(random, name):
            yield random, name, f"random.{name}() (the global random)", _RANDOM, None
    for name in ("random", "getrandbits", "randbytes"):
        yield random.SystemRandom, name, "random.SystemRandom", _RANDOM, None
    yield os, "urandom", "os.urandom()", _RANDOM, None
    yield uuid, "uuid1", "uuid.uuid1()", "reads the wall clock and the host's address; " + _RANDOM, None
    yield uuid, "uuid4", "uuid.uuid4()", _RANDOM, None
    yield socket.socket, "__init__", "socket.socket()", _SOCKET, None
    for name in ("create_connection", "create_server", "getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        yield socket, name, f"socket.{name}()", _SOCKET, None
    yield threading.Thread, "start", "threading.Thread.start()", _THREAD, None
    yield _thread, "start_new_thread", "_thread.start_new_thread()", _THREAD, None
    yield subprocess.Popen, "__init__", "subprocess.Popen()", _PROCESS, None
    for name in ("system", "fork", "forkpty", "popen", "posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            yield os, name, f"os.{name}()", _PROCESS, None


def _replacements() -> list[tuple[Any, str, Any, Any]]:
    """``(owner, attribute, original, guard)`` for everything the auditor replaces."""
    out = []
    for owner, attr, what, why, only_without in _targets():
        original = vars(owner)[attr] if isinstance(owner, type) else getattr(owner, attr)
        out.append((owner, attr, original, _guard(original, what, why, only_without=only_without)))
    out.append((random.Random, "seed", vars(random.Random)["seed"], _seed_guard(vars(random.Random)["seed"])))
    out.append((datetime, "datetime", _REAL_DATETIME, _Datetime))
    out.append((datetime, "date", _REAL_DATE, _Date))
    return out


_REPLACEMENTS = _replacements()
# the same by owner: a module's are swapped at once through its namespace, a class's one by one (a setattr
# each made installing and removing the guards cost 10 us a run)
_MODULE_SWAPS: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []  # (namespace, guards, originals)
_CLASS_SWAPS = [(owner, attr, original, guard) for owner, attr, original, guard in _REPLACEMENTS
                if isinstance(owner, type)]
for _owner in dict.fromkeys(owner for owner, _, _, _ in _REPLACEMENTS if isinstance(owner, ModuleType)):
    _MODULE_SWAPS.append((
        vars(_owner),
        {attr: guard for owner, attr, _, guard in _REPLACEMENTS if owner is _owner},
        {attr: original for owner, attr, original, _ in _REPLACEMENTS if owner is _owner},
    ))
assert len(_CLASS_SWAPS) + sum(len(guards) for _, guards, _ in _MODULE_SWAPS) == len(_REPLACEMENTS)
#: real callable (by id) -> its guard, for finding ``from time import time`` in the code's modules
_BY_ORIGINAL: dict[int, tuple[Any, Any]] = {id(orig): (orig, guard) for _, _, orig, guard in _REPLACEMENTS}


def _install(modules: Iterable[ModuleType]) -> None:
    global _users
    with _lock:
        if _users == 0:
            for namespace, guards, _ in _MODULE_SWAPS:
                namespace.update(guards)
            for owner, attr, _, guard in _CLASS_SWAPS:
                setattr(owner, attr, guard)
        _users += 1
        for module in modules:
            namespace = vars(module)
            names = _bound.get(module.__name__)
            if names is None:  # first time: find the names bound to a real function (kept: modules rarely change)
                names = _bound[module.__name__] = [
                    name for name, value in namespace.items()
                    if (found := _BY_ORIGINAL.get(id(value))) is not None and found[0] is value
                ]
            for name in names:
                value = namespace.get(name)
                found = _BY_ORIGINAL.get(id(value))
                if found is not None and found[0] is value:
                    namespace[name] = found[1]
                    _installed.append((module, name, value))


def _uninstall() -> None:
    global _users
    with _lock:
        _users -= 1
        if _users:
            return
        while _installed:  # the names bound in the code's modules
            owner, attr, original = _installed.pop()
            setattr(owner, attr, original)
        for owner, attr, original, _ in reversed(_CLASS_SWAPS):
            setattr(owner, attr, original)
        for namespace, _, originals in reversed(_MODULE_SWAPS):
            namespace.update(originals)


def code_modules(*classes: type) -> list[ModuleType]:
    """The modules defining ``classes`` and their bases, but for splitbrain's engine and the standard
    library: where a ``from time import time`` of the code under test would live."""
    names = _code_module_names.get(classes)
    if names is None:  # worked out once per set of classes (every world asks)
        seen: set[str] = set()
        for cls in classes:
            for base in cls.__mro__:
                name = base.__module__
                if name not in seen and _role(name) == "user":
                    seen.add(name)
        if len(_code_module_names) > 256:  # classes made on the fly must not pile up
            _code_module_names.clear()
        names = _code_module_names[classes] = sorted(seen)
    found = (sys.modules.get(name) for name in names)
    return [module for module in found if module is not None]


_code_module_names: dict[tuple[type, ...], list[str]] = {}


class Auditor:
    """One world's auditor: :meth:`watching` audits the calling thread while the world runs code."""

    __slots__ = ("depth", "escaped", "modules")

    def __init__(self, modules: Iterable[ModuleType] = ()) -> None:
        self.modules = list(modules)
        self.depth = 0
        #: the first refused call, kept in case the code under test swallowed the exception
        self.escaped: NondeterminismError | None = None

    @contextmanager
    def watching(self) -> Iterator[None]:
        ident = _thread.get_ident()
        if self.depth == 0:
            if ident in _auditing:
                raise NondeterminismError("a world started running inside another world's node code")
            _install(self.modules)
            _auditing[ident] = self
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if self.depth == 0:
                del _auditing[ident]
                _uninstall()

    def reraise(self) -> None:
        """Raise the refused call again if the code under test caught it and carried on."""
        if self.escaped is not None:
            raise self.escaped


def guarded(value: Any) -> bool:
    """Whether ``value`` is one of the auditor's guards (for tests)."""
    return hasattr(value, "__splitbrain_guard__") or value in (_Datetime, _Date)


def real(value: Any) -> Any:
    """The real function behind a guard, or ``value``."""
    return getattr(value, "__splitbrain_guard__", value)
