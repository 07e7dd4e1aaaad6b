"""`ServerProcess`: a server the runner starts itself, which it can pause, kill, restart — and always reaps.

Each server runs in its own session (``start_new_session``), so signals go to its whole process group
and nothing it forks outlives it. Cleanup does not depend on anyone remembering to call ``stop``, nor on
the runner getting the chance to:

* a ``weakref.finalize`` registered at every start kills the group when the object is collected or the
  interpreter exits (finalizers run at exit), and :func:`stop_all` stops every server still running;
* every server gets a *parent-death signal* (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, set by util-linux's
  ``setpriv --pdeathsig KILL`` before it executes the server): when the runner dies, even by SIGKILL,
  the kernel kills the server — paused or not. Linux sends that signal when the *thread* that forked the
  child ends, so every server is forked by one spawner thread that lives as long as the process (a
  server restarted by the nemesis thread would otherwise die with that thread);
* listeners registered with :func:`on_spawn` hear of every start (the runner keeps a pidfile of its
  servers, :mod:`splitbrain.live.orphans`, for the rare case the signal could not be set up).
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from splitbrain.errors import SplitbrainError, UsageError

__all__ = [
    "MissingServer",
    "ServerError",
    "ServerProcess",
    "free_port",
    "on_spawn",
    "port_open",
    "require_binary",
    "running",
    "stop_all",
]


_RUNNING: weakref.WeakSet[ServerProcess] = weakref.WeakSet()
_PORTS_LOCK = threading.Lock()
_PORTS_GIVEN: set[int] = set()
_SPAWN_LISTENERS: list[Callable[[ServerProcess], None]] = []


def on_spawn(listener: Callable[[ServerProcess], None]) -> Callable[[], None]:
    """Call ``listener(server)`` after every server start; returns a function that unregisters it."""
    _SPAWN_LISTENERS.append(listener)

    def remove() -> None:
        with contextlib.suppress(ValueError):
            _SPAWN_LISTENERS.remove(listener)

    return remove


class _Spawner:
    """One long-lived thread that forks every server, so that the parent-death signal (sent when the
    forking *thread* ends) fires only when the whole runner process dies."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], queue.SimpleQueue[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pid = 0

    def run(self, job: Callable[[], Any]) -> Any:
        with self._lock:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()  # a forked child needs its own spawner
                self._thread = threading.Thread(target=self._serve, name="splitbrain-spawner", daemon=True)
                self._thread.start()
        answer: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._jobs.put((job, answer))
        interrupted: BaseException | None = None
        while True:
            try:
                ok, value = answer.get()
                break
            except BaseException as exc:  # e.g. Ctrl-C: the fork goes ahead; wait for it, then go on
                interrupted = exc
        if interrupted is not None:
            raise interrupted
        if not ok:
            raise value
        return value

    def _serve(self) -> None:
        while True:
            job, answer = self._jobs.get()
            try:
                answer.put((True, job()))
            except BaseException as exc:
                answer.put((False, exc))


_SPAWNER = _Spawner()
_SETPRIV = shutil.which("setpriv")


def _deathsig_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` under ``setpriv --pdeathsig KILL`` (when util-linux's setpriv is there)."""
    return [_SETPRIV, "--pdeathsig", "KILL", "--", *argv] if _SETPRIV else list(argv)


class ServerError(SplitbrainError, RuntimeError):
    """A server process would not start or answer; the message ends with the tail of its log."""


class MissingServer(UsageError):
    """The server binary is not installed; the message names the Debian package to install."""


def require_binary(binary: str, package: str) -> str:
    """The full path of ``binary``, or :class:`MissingServer` naming the Debian ``package``."""
    path = shutil.which(binary)
    if path is None:
        raise MissingServer(
            f"{binary} is not installed (not found on PATH): install the Debian package {package} "
            f"(`sudo apt-get install {package}`, or `bash scripts/system-deps.sh`)"
        )
    return path


def _ephemeral_floor() -> int:
    """The lowest port the kernel hands to outgoing connections (Linux), or 0 when unknown."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
            return int(ranges.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def free_port() -> int:
    """A loopback TCP port that is free now and not handed out before by this process.

    A server binds the port only later, so the port must not be taken in between: it is drawn at random
    from below the kernel's ephemeral range (which outgoing connections use) when there is room, and
    checked by binding it. A collision with another process remains possible; :meth:`Target.start`
    retries on "address already in use".
    """
    floor = _ephemeral_floor()
    draw = random.Random()  # seeded from the OS: parallel runs should not draw the same ports
    for _ in range(200):
        port = draw.randrange(10000, floor) if floor > 11000 else 0
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers will
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = sock.getsockname()[1]
        with _PORTS_LOCK:
            if port not in _PORTS_GIVEN:
                _PORTS_GIVEN.add(port)
                return port
    raise ServerError("no free loopback port found")


def _kill_group(popen: subprocess.Popen[bytes]) -> None:
    """Kill a server's process group and reap it (also used as the finalizer)."""
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=5)


class ServerProcess:
    """A server process: ``argv`` run in ``cwd`` with output appended to ``log``.

    ``ready`` is polled after every start until it returns True (the server answers) or ``start_timeout``
    passes. Methods are safe to call from the nemesis thread while clients keep running.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log: Path,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        ready: Callable[[], bool] | None = None,
        start_timeout: float = 15.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = Path(log)
        self.cwd = cwd
        self.env = env
        self.ready = ready
        self.start_timeout = start_timeout
        self.paused = False
        self._popen: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], ServerProcess] | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        state = "paused" if self.paused else ("running" if self.running else "stopped")
        return f"<ServerProcess {self.name} pid={self.pid} {state}>"

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, *, wait: bool = True) -> None:
        """Start the server (no-op when running) and, with ``wait``, block until ``ready``."""
        with self._lock:
            if self.running:
                return
            self.log.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log, "ab") as out:

                def spawn() -> None:  # registers the process even if the caller is interrupted meanwhile
                    popen = subprocess.Popen(
                        _deathsig_argv(self.argv), cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                    )
                    self._popen = popen
                    self.paused = False
                    self._finalizer = weakref.finalize(self, _kill_group, popen)
                    _RUNNING.add(self)

                _SPAWNER.run(spawn)
            for listener in list(_SPAWN_LISTENERS):
                with contextlib.suppress(Exception):  # bookkeeping must never stop a server starting
                    listener(self)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Poll ``ready`` until True; :class:`ServerError` (with the log's tail) if the server exits or
        the time runs out."""
        deadline = time.monotonic() + (self.start_timeout if timeout is None else timeout)
        while True:
            if not self.running:
                raise ServerError(f"{self.name} exited during start-up\n{self.log_tail()}")
            if self.ready is None or self.ready():
                return
            if time.monotonic() > deadline:
                raise ServerError(f"{self.name} did not become ready in time\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, grace: float = 2.0) -> None:
        """Terminate (SIGTERM, then SIGKILL after ``grace`` seconds) and reap. Idempotent."""
        with self._lock:
            popen = self._popen
            if popen is None:
                return
            if popen.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(popen.pid, signal.SIGCONT)  # a stopped process cannot handle SIGTERM
                    os.killpg(popen.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout=grace)
            self._reap()

    def kill(self) -> None:
        """SIGKILL the whole process group and reap it: a crash, with no chance to flush anything."""
        with self._lock:
            self._reap()

    def _reap(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # kills the group if still alive, waits; runs at most once
            self._finalizer = None
        self.paused = False
        _RUNNING.discard(self)

    def restart(self, *, wait: bool = True) -> None:
        """Kill if running, then start again with the same arguments (and so the same data)."""
        self.kill()
        self.start(wait=wait)

    def pause(self) -> None:
        """SIGSTOP the process group: the server is frozen, its sockets stay open."""
        with self._lock:
            if self.running:
                assert self._popen is not None
                os.killpg(self._popen.pid, signal.SIGSTOP)
                self.paused = True

    def resume(self) -> None:
        """SIGCONT the process group."""
        with self._lock:
            if self.running:
                assert self._popen is not None
                os.killpg(self._popen.pid, signal.SIGCONT)
            self.paused = False

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return f"(no log at {self.log})"
        return "\n".join(f"  | {line}" for line in text) or f"  (empty log {self.log})"


def running() -> list[ServerProcess]:
    """Every server started by this process and not yet stopped."""
    return [proc for proc in list(_RUNNING) if proc.running]


def stop_all() -> None:
    """Kill every server still running (test teardown, emergencies)."""
    for proc in list(_RUNNING):
        proc.kill()


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
