"""The world as host code sees it: per-host time, randomness and name lookups, and refusals.

While a simulated host runs (one step of its :class:`~splitbrain.aio.node.AsyncNode`), the process-wide
functions that would let its code see outside the simulation are replaced, on the world's thread only:

* **time** — ``time.time()``/``time_ns()`` read the host's wall clock (a fixed epoch plus its local
  clock, so skew applies and it may jump); ``monotonic()``, ``perf_counter()`` (and ``_ns``),
  ``process_time()`` and ``thread_time()`` read its monotonic clock, which a backward skew freezes
  instead of reversing; ``localtime()``/``gmtime()``/``ctime()``/``strftime()`` without a time use the
  wall clock. ``time.sleep()`` is refused: it would block the whole loop.
* **randomness** — every function of the global ``random``, ``random.Random()`` without a seed,
  ``random.SystemRandom``, ``os.urandom``, ``uuid.uuid1``/``uuid4`` draw from the host's
  :class:`HostRandom`: its small choices come from the world's choice source (recorded, replayed and
  shrunk with the schedule), its floats and identifiers from a generator seeded once per boot.
  ``sample``/``choice``/``shuffle`` first put their population in a canonical order when its items can
  be sorted: the distribution is the same, and code that samples from a ``set``
  (whose order depends on ``PYTHONHASHSEED``) stays reproducible.
* **sockets** — ``socket.socket()`` makes a simulated socket (:mod:`splitbrain.aio.sockets`);
  ``getaddrinfo``/``gethostbyname`` resolve simulated host names; ``gethostname`` is the node id.
* **refused** with :class:`~splitbrain.errors.NondeterminismError`, naming the call and the line of
  host code that made it: threads, subprocesses, ``time.sleep``, and opening real files (but for
  imports, and the source lines of a traceback).

The replacements are installed for each step and the previous values put back after it, so they stack
on top of the determinism auditor's guards (:mod:`splitbrain.sim.audit`) instead of fighting them: host
code reaches the simulated functions, and everything else still meets the auditor. Names bound with
``from time import time`` before the simulation starts are not replaced (the auditor finds those in the
workload's own modules) — except in the modules of the hosts' own code (the entry coroutine's, the
client's and the workload's), where :func:`bound_names` finds them; elsewhere, call such functions
through their module. ``datetime.datetime.now()``/``utcnow()``/``today()`` and ``datetime.date.today()``
read the host's wall clock too.
"""

from __future__ import annotations

import _thread
import builtins
import datetime
import io
import operator
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, MutableSequence, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from splitbrain.errors import NondeterminismError
from splitbrain.sim import audit

if TYPE_CHECKING:
    from splitbrain.aio.node import AsyncNode

__all__ = ["EPOCH", "HostRandom", "bound_names", "current_node", "hosting", "refuse"]

#: the wall clock of every simulated host starts here (2024-01-01T00:00:00Z) plus its local clock
EPOCH = 1_704_067_200

_T = TypeVar("_T")
_STDLIB = frozenset(sys.stdlib_module_names)
#: standard-library callers whose file reads never decide behaviour: source lines for a traceback
_QUIET_READERS = frozenset({"linecache", "tokenize", "traceback"})

_current: AsyncNode | None = None
_owner: int | None = None  # the thread running host code


def current_node() -> AsyncNode | None:
    """The :class:`AsyncNode` whose code is running on this thread, if any."""
    return _current if _owner == _thread.get_ident() else None


class HostRandom(random.Random):
    """A simulated host's ``random.Random``: choices from the world's source, bits from a seeded generator.

    A choice among a few options — ``randint``, ``randrange``, ``choice``, ``sample``, ``shuffle`` (every
    call that goes through ``_randbelow``) and ``getrandbits(k)`` for ``k <= 32`` — is one draw from the
    world's choice source: recorded in its step, replayed, and simplified by shrinking like any other
    choice. Floats (``random()`` and everything built on it) and wide bit strings (``uuid4``, ``urandom``,
    ``randbytes``) come from a Mersenne Twister seeded once per boot by ``seed`` (the host's id, its boot
    and one draw): identifiers stay unique however the draws shrink — drawn through the source, a shrunk
    run would give every ``uuid4()`` the same value, which no real run does.
    """

    _CHOICE_BITS = 32

    def __init__(self, draw: Callable[[int, int], int], seed: str) -> None:
        self._draw_int = draw
        self._bits = random.Random(seed)
        super().__init__(0)

    def seed(self, a: Any = None, version: int = 2) -> None:  # its generators are seeded by the host
        super().seed(0, version)

    def _randbelow(self, n: int) -> int:
        if n <= 1 << self._CHOICE_BITS:
            return self._draw_int(0, n - 1)
        return self._bits._randbelow(n)  # type: ignore[attr-defined]

    def getrandbits(self, k: int) -> int:
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        if k <= self._CHOICE_BITS:
            return self._draw_int(0, (1 << k) - 1)
        return self._bits.getrandbits(k)

    def random(self) -> float:
        return self._bits.random()

    def randbytes(self, n: int) -> bytes:
        return self._bits.randbytes(n)

    def choice(self, seq: Sequence[_T]) -> _T:  # type: ignore[override]
        return super().choice(_canonical(seq))

    def sample(self, population: Sequence[_T], k: int, *, counts: Any = None) -> list[_T]:
        return super().sample(_canonical(population), k, counts=counts)

    def shuffle(self, x: MutableSequence[Any]) -> None:
        ordered = _canonical(x)
        if ordered is not x:
            x[:] = ordered
        super().shuffle(x)


def _canonical(seq: Any) -> Any:
    """``seq`` sorted when its items can be sorted (a list), else as it is."""
    try:
        ordered = sorted(seq)
    except TypeError:
        return seq
    return seq if ordered == list(seq) else ordered


def _caller() -> Any:
    """The frame of the host code responsible for a refused call (skipping the standard library and this
    package)."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__") or ""
        if module.partition(".")[0] not in _STDLIB and not module.startswith("splitbrain.aio"):
            return frame
        frame = frame.f_back  # type: ignore[assignment]
    return None


def refuse(what: str, why: str) -> NondeterminismError:
    """The error for host code that reached outside the simulation with ``what``."""
    frame = _caller()
    where = f", at {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}" if frame else ""
    node = current_node()
    host = f" on simulated host {node.id}" if node is not None else ""
    error = NondeterminismError(
        f"{what} called by host code{host}{where}: it {why}. The simulated host cannot use it: nothing the "
        "run depends on may come from outside the simulation (splitbrain.aio)"
    )
    if node is not None and node.refused is None:
        node.refused = error  # raised after the step even if the host code catches it and carries on
    return error


# -- the replacement functions (each checks that host code is running on this thread) ---------------------
_prev: list[tuple[Any, ...]] = []  # what the replaced attributes held before this step (see hosting)
_index: dict[tuple[int, str], tuple[int, int]] = {}  # (id(namespace or class), attribute) -> place in _prev


def _passthrough(owner: Any, attr: str) -> Any:
    group, j = _index[(id(owner if isinstance(owner, type) else vars(owner)), attr)]
    return _prev[group][j]


def _wall() -> float:
    node = _current
    assert node is not None
    return EPOCH + node.local_seconds()


def _mono() -> float:
    node = _current
    assert node is not None
    return node.monotonic_seconds()


def _clock(owner: Any, attr: str, fn: Callable[[], float], ns: bool) -> Callable[..., Any]:
    def clock() -> Any:
        if _owner != _thread.get_ident():
            return _passthrough(owner, attr)()
        value = fn()
        return round(value * 1_000_000_000) if ns else value

    return clock


def _with_wall(owner: Any, attr: str, positional: int) -> Callable[..., Any]:
    """``localtime()``-style functions: without a time argument they read the host's wall clock."""

    def call(*args: Any) -> Any:
        original = _passthrough(owner, attr)
        if _owner == _thread.get_ident() and len(args) <= positional:
            return original(*args, _wall())
        return original(*args)

    return call


def _refusal(owner: Any, attr: str, what: str, why: str) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        if _owner == _thread.get_ident():
            raise refuse(what, why)
        return _passthrough(owner, attr)(*args, **kwargs)

    return refused


def _random_function(attr: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        if _owner == _thread.get_ident():
            assert _current is not None
            return getattr(_current.random, attr)(*args, **kwargs)
        return _passthrough(random, attr)(*args, **kwargs)

    return call


def _system_random(attr: str) -> Callable[..., Any]:
    """``SystemRandom``'s methods (the auditor guards them for the whole run, so they are taken over here
    rather than through ``random._urandom`` alone)."""

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _owner == _thread.get_ident():
            assert _current is not None
            return getattr(_current.random, attr)(*args, **kwargs)
        return _passthrough(random.SystemRandom, attr)(self, *args, **kwargs)

    return call


def _seed(self: random.Random, a: Any = None, version: int = 2) -> None:
    if a is None and _owner == _thread.get_ident() and not isinstance(self, HostRandom):
        assert _current is not None
        a = _current.random.getrandbits(64)  # an unseeded Random() in host code: seeded by the host
    _passthrough(random.Random, "seed")(self, a, version)


def _urandom(owner: Any, attr: str) -> Callable[[int], bytes]:
    """``os.urandom``, and ``random``'s own reference to it (which ``SystemRandom`` reads)."""

    def urandom(n: int) -> bytes:
        if _owner == _thread.get_ident():
            assert _current is not None
            return _current.random.randbytes(n)
        return _passthrough(owner, attr)(n)

    return urandom


def _uuid4() -> uuid.UUID:
    if _owner == _thread.get_ident():
        assert _current is not None
        return uuid.UUID(int=_current.random.getrandbits(128), version=4)
    return _passthrough(uuid, "uuid4")()


def _uuid1(node: int | None = None, clock_seq: int | None = None) -> uuid.UUID:
    if _owner != _thread.get_ident():
        return _passthrough(uuid, "uuid1")(node, clock_seq)
    host = _current
    assert host is not None
    # the fields uuid1 takes from the clock and the network card, from the host's clock and the source
    stamp = round(_wall() * 10_000_000) + 0x01B21DD213814000
    seq = host.random.getrandbits(14) if clock_seq is None else clock_seq
    mac = host.random.getrandbits(48) | (1 << 40) if node is None else node
    fields = (stamp & 0xFFFFFFFF, (stamp >> 32) & 0xFFFF, (stamp >> 48) & 0x0FFF, (seq >> 8) & 0x3F, seq & 0xFF, mac)
    return uuid.UUID(fields=fields, version=1)


class _SocketType(type):
    """``socket.socket`` while host code runs: calling it makes a simulated socket there (a real one on
    any other thread), and ``isinstance(s, socket.socket)`` holds for both kinds."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if _owner != _thread.get_ident():
            return _passthrough(socket, "socket")(*args, **kwargs)
        from splitbrain.aio.sockets import make_socket

        return make_socket(*args, **kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        from splitbrain.aio.sockets import SimSocket

        return isinstance(obj, _REAL_SOCKET | SimSocket)

    def __subclasscheck__(cls, sub: type) -> bool:
        from splitbrain.aio.sockets import SimSocket

        return issubclass(sub, _REAL_SOCKET | SimSocket)


_REAL_SOCKET = socket.socket


class _SocketFactory(metaclass=_SocketType):
    pass


def _getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
    if _owner != _thread.get_ident():
        return _passthrough(socket, "getaddrinfo")(host, port, family, type, proto, flags)
    assert _current is not None
    return _current.stack.getaddrinfo(host, port, family, type, proto)


def _gethostbyname(name: str) -> str:
    if _owner != _thread.get_ident():
        return _passthrough(socket, "gethostbyname")(name)
    assert _current is not None
    return _current.stack.resolve(name)


def _gethostname() -> str:
    if _owner != _thread.get_ident():
        return _passthrough(socket, "gethostname")()
    assert _current is not None
    return _current.id


def _open(owner: Any, attr: str) -> Callable[..., Any]:
    def opened(file: Any, *args: Any, **kwargs: Any) -> Any:
        if _owner == _thread.get_ident() and not _quiet_reader():
            raise refuse(f"open({file!r})", "reads or writes a real file; keep durable state in host.storage")
        return _passthrough(owner, attr)(file, *args, **kwargs)

    return opened


def _quiet_reader() -> bool:
    """Whether the file is opened on behalf of a traceback (source lines), an import, or splitbrain."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__") or ""
        top = module.partition(".")[0]
        if module in _QUIET_READERS or module.startswith("importlib"):
            return True  # source lines for a traceback, or an import (modules and their metadata)
        if top not in _STDLIB:
            return top == "splitbrain" and not module.startswith("splitbrain.impls")
        frame = frame.f_back  # type: ignore[assignment]
    return True


_REAL_DATETIME = datetime.datetime
_REAL_DATE = datetime.date


class _HostDatetime(datetime.datetime):
    """``datetime.datetime`` while host code runs: ``now()``, ``utcnow()`` and ``today()`` read the host's
    wall clock (elsewhere, the clock of whatever was in place)."""

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        if _owner != _thread.get_ident():
            return _passthrough(datetime, "datetime").now(tz)
        return cls.fromtimestamp(_wall(), tz)

    @classmethod
    def utcnow(cls) -> Any:
        if _owner != _thread.get_ident():
            return _passthrough(datetime, "datetime").utcnow()
        return cls.fromtimestamp(_wall(), datetime.UTC).replace(tzinfo=None)

    @classmethod
    def today(cls) -> Any:
        return cls.now()


class _HostDate(datetime.date):
    @classmethod
    def today(cls) -> Any:
        if _owner != _thread.get_ident():
            return _passthrough(datetime, "date").today()
        return cls.fromtimestamp(_wall())


_THREAD = "starts a real thread, which the simulated host's scheduler cannot control; use asyncio tasks"
_PROCESS = "starts a real process; a simulated host cannot depend on one"
_SLEEP = "blocks the whole event loop in real time; use `await asyncio.sleep(...)` (virtual time)"


def _replacements() -> list[tuple[Any, str, Any]]:
    out: list[tuple[Any, str, Any]] = []
    for name, fn, ns in (
        ("time", _wall, False), ("time_ns", _wall, True), ("monotonic", _mono, False),
        ("monotonic_ns", _mono, True), ("perf_counter", _mono, False), ("perf_counter_ns", _mono, True),
        ("process_time", _mono, False), ("process_time_ns", _mono, True), ("thread_time", _mono, False),
        ("thread_time_ns", _mono, True),
    ):
        out.append((time, name, _clock(time, name, fn, ns)))
    for name, positional in (("localtime", 0), ("gmtime", 0), ("ctime", 0), ("strftime", 1)):
        out.append((time, name, _with_wall(time, name, positional)))
    out.append((time, "sleep", _refusal(time, "sleep", "time.sleep()", _SLEEP)))
    for name in ("random", "uniform", "triangular", "randint", "choice", "randrange", "sample", "shuffle",
                 "choices", "normalvariate", "lognormvariate", "expovariate", "vonmisesvariate", "gammavariate",
                 "gauss", "betavariate", "paretovariate", "weibullvariate", "getrandbits", "randbytes", "seed"):
        if hasattr(random, name):
            out.append((random, name, _random_function(name)))
    out.append((random, "_urandom", _urandom(random, "_urandom")))  # SystemRandom's source of bits
    for name in ("random", "getrandbits", "randbytes"):
        out.append((random.SystemRandom, name, _system_random(name)))
    out.append((random.Random, "seed", _seed))
    out.append((os, "urandom", _urandom(os, "urandom")))
    out.append((uuid, "uuid4", _uuid4))
    out.append((uuid, "uuid1", _uuid1))
    out.append((socket, "socket", _SocketFactory))
    out.append((socket, "getaddrinfo", _getaddrinfo))
    out.append((socket, "gethostbyname", _gethostbyname))
    out.append((socket, "gethostname", _gethostname))
    out.append((threading.Thread, "start", _refusal(threading.Thread, "start", "threading.Thread.start()", _THREAD)))
    out.append((_thread, "start_new_thread", _refusal(_thread, "start_new_thread", "_thread.start_new_thread()",
                                                       _THREAD)))
    out.append((subprocess.Popen, "__init__", _refusal(subprocess.Popen, "__init__", "subprocess.Popen()", _PROCESS)))
    for name in ("system", "fork", "forkpty", "popen", "posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            out.append((os, name, _refusal(os, name, f"os.{name}()", _PROCESS)))
    out.append((datetime, "datetime", _HostDatetime))
    out.append((datetime, "date", _HostDate))
    out.append((builtins, "open", _open(builtins, "open")))
    out.append((io, "open", _open(io, "open")))
    return out


_REPLACEMENTS = _replacements()


#: id of each replaced function as it was when this module was imported (the real one) -> its replacement
_BY_REAL: dict[int, tuple[Any, Any]] = {
    id(owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)):
        (owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr), rep)
    for owner, attr, rep in _REPLACEMENTS
}


def _real(value: Any) -> Any:
    """The function or class the auditor's guard ``value`` stands in for (``value`` if it is none)."""
    if isinstance(value, type) and audit.guarded(value):  # its datetime stand-ins are subclasses
        return _REAL_DATETIME if issubclass(value, _REAL_DATETIME) else _REAL_DATE
    return audit.real(value)


def bound_names(modules: Any) -> list[tuple[dict[str, Any], str, Any]]:
    """``(namespace, name, replacement)`` for every name in ``modules`` bound to a replaced function —
    ``from time import monotonic`` — directly or through the determinism auditor's guard of it (the
    auditor rebinds such names in the workload's modules for the run): host code calling the name gets
    the host's version, as it does through the module."""
    out = []
    for module in modules:
        namespace = vars(module)
        for name, value in list(namespace.items()):
            real = _real(value)
            found = _BY_REAL.get(id(real))
            if found is not None and found[0] is real and not name.startswith("__"):
                out.append((namespace, name, found[1]))
    return out


# Modules are patched a namespace at a time (one C call each way: itemgetter to save, dict.update to
# patch and restore), classes attribute by attribute (their dict is read-only).
def _groups() -> list[tuple[dict[str, Any], tuple[str, ...], Any, dict[str, Any]]]:
    by_namespace: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    for owner, attr, rep in _REPLACEMENTS:
        if not isinstance(owner, type):
            namespace = vars(owner)
            by_namespace.setdefault(id(namespace), (namespace, {}))[1][attr] = rep
    return [(ns, tuple(reps), _getter(tuple(reps)), reps) for ns, reps in by_namespace.values()]


def _getter(keys: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """Like ``operator.itemgetter(*keys)``, but always a tuple (itemgetter of one key gives the value)."""
    if len(keys) == 1:
        key = keys[0]
        return lambda namespace: (namespace[key],)
    return operator.itemgetter(*keys)


_MODULE_GROUPS = _groups()
_CLASS_SLOTS = [(owner, attr, rep) for owner, attr, rep in _REPLACEMENTS if isinstance(owner, type)]
_CLASS_GROUP = len(_MODULE_GROUPS)  # the position of the classes' saved values in _prev
for _g, (_ns, _keys, _, _) in enumerate(_MODULE_GROUPS):
    for _j, _key in enumerate(_keys):
        _index[(id(_ns), _key)] = (_g, _j)
for _j, (_owner_obj, _attr, _) in enumerate(_CLASS_SLOTS):
    _index[(id(_owner_obj), _attr)] = (_CLASS_GROUP, _j)


@contextmanager
def hosting(node: AsyncNode, bound: list[tuple[dict[str, Any], str, Any]] = ()) -> Iterator[None]:  # type: ignore[assignment]
    """Run the body as host ``node``: the replacements above are in place on this thread, and so are the
    ``bound`` names (see :func:`bound_names`)."""
    global _current, _owner, _prev
    if _owner is not None:
        if _current is node and _owner == _thread.get_ident():
            yield  # re-entered (a client operation started while the host runs): already in place
            return
        raise NondeterminismError(
            f"simulated host {node.id} started running while host {_current.id if _current else '?'} was running: "
            "two worlds cannot run asyncio hosts at once in one process"
        )
    # the hottest path of splitbrain.aio (every step of every host)
    previous: list[tuple[Any, ...]] = [get(ns) for ns, _, get, _ in _MODULE_GROUPS]
    previous.append(tuple([owner.__dict__[attr] for owner, attr, _ in _CLASS_SLOTS]))
    _prev = previous
    for ns, _, _, replacements in _MODULE_GROUPS:
        ns.update(replacements)
    for owner, attr, replacement in _CLASS_SLOTS:
        setattr(owner, attr, replacement)
    names = [namespace[name] for namespace, name, _ in bound]
    for namespace, name, replacement in bound:
        namespace[name] = replacement
    _current, _owner = node, _thread.get_ident()
    try:
        yield
    finally:
        _current, _owner = None, None
        for (namespace, name, _), value in zip(bound, names, strict=True):
            namespace[name] = value
        for (ns, keys, _, _), values in zip(_MODULE_GROUPS, previous, strict=False):
            ns.update(zip(keys, values, strict=True))
        for (owner, attr, _), value in zip(_CLASS_SLOTS, previous[_CLASS_GROUP], strict=True):
            setattr(owner, attr, value)
