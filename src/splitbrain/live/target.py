"""The adapter interface between the runner and a real system: `Target` (servers + faults) and `Client`.

A target starts its servers on loopback, hands out one :class:`Client` per client thread, and implements
the faults the nemesis asks for. The base class implements ``pause``/``kill`` generically over
``self.servers`` (a dict of :class:`~splitbrain.live.processes.ServerProcess` by node name); a target
that can be partitioned overrides :meth:`Target.isolate` and :meth:`Target.heal_network`.

A client's ``invoke(f, value, node)`` returns the operation's result, raises
:class:`~splitbrain.histories.recorder.DefiniteFailure` when the operation definitely did not happen,
and lets any other exception escape when the outcome is unknown. The recorder turns those into ``ok``,
``fail`` and ``info``.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Protocol

from splitbrain.errors import UsageError
from splitbrain.live.processes import ServerError, ServerProcess, require_binary
from splitbrain.live.proxy import FaultProxy

__all__ = [
    "Client",
    "Target",
]


class Client(Protocol):
    """One client thread's connection(s) to the system under test."""

    def node_for(self, f: str) -> str:
        """The node the next ``f`` operation will go to (recorded on the invoke)."""
        ...

    def invoke(self, f: str, value: Any, node: str) -> Any:
        """Run one operation on ``node``: return its result, raise DefiniteFailure, or raise."""
        ...

    def close(self) -> None: ...


class Target:
    """Base class for systems under test. Subclasses set the class attributes and implement
    :meth:`launch` and :meth:`client`; ``start``/``stop`` and the context manager do the bookkeeping.

    ``workdir`` holds the servers' data (when not given: a fresh temporary directory made by
    :meth:`start` and removed by :meth:`stop`); ``logdir`` receives the server logs (default:
    ``workdir/logs``).
    """

    name: ClassVar[str] = "target"
    summary: ClassVar[str] = ""
    model: ClassVar[str] = "cas-register"
    #: nemesis kinds this target supports
    faults: ClassVar[frozenset[str]] = frozenset({"pause", "kill"})
    #: (binary, Debian package) pairs that must be installed
    requires: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, *, workdir: Path | None = None, logdir: Path | None = None) -> None:
        self._own_workdir = workdir is None
        self._workdir = Path(workdir) if workdir is not None else None  # else made by start()
        self._logdir = Path(logdir) if logdir is not None else None
        self.servers: dict[str, ServerProcess] = {}
        self.proxies: list[FaultProxy] = []
        self.isolated: frozenset[str] = frozenset()
        self.started = False

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise UsageError(f"target {self.name} makes its temporary working directory in start()")
        return self._workdir

    @property
    def logdir(self) -> Path:
        return self._logdir if self._logdir is not None else self.workdir / "logs"

    @logdir.setter
    def logdir(self, path: Path) -> None:
        self._logdir = Path(path)

    @classmethod
    def check_installed(cls) -> dict[str, str]:
        """Paths of the required binaries; :class:`~splitbrain.live.processes.MissingServer` if not."""
        return {binary: require_binary(binary, package) for binary, package in cls.requires}

    # -- lifecycle ---------------------------------------------------------------------------------
    def launch(self) -> None:
        """Start the servers and proxies (register them in ``servers`` and ``proxies`` as you go, so a
        failure half-way still cleans up) and wait until they serve."""
        raise NotImplementedError

    def start(self) -> Target:
        """Launch; on "address already in use" (a port taken by someone else since it was chosen),
        clean up and launch again on fresh ports, up to three times."""
        self.check_installed()
        if self._own_workdir:
            self._workdir = Path(tempfile.mkdtemp(prefix=f"splitbrain-{self.name}-"))
        self.started = True
        for attempt in range(3):
            try:
                self.launch()
                return self
            except ServerError as exc:
                self._teardown()
                if "address already in use" not in str(exc).lower() or attempt == 2:
                    self.stop()
                    raise
            except BaseException:
                self.stop()
                raise
        return self

    def _teardown(self) -> None:
        """Kill what a failed launch started and forget it, so that ``launch`` can run again."""
        for server in self.servers.values():
            with contextlib.suppress(Exception):
                server.kill()
            with contextlib.suppress(OSError):
                shutil.rmtree(self.workdir / server.name)
        for proxy in self.proxies:
            with contextlib.suppress(Exception):
                proxy.stop()
        self.servers.clear()
        self.proxies.clear()

    def stop(self) -> None:
        """Stop every server and proxy and remove the temporary data. Idempotent, never raises."""
        for server in reversed(self.servers.values()):
            with contextlib.suppress(Exception):  # keep stopping the rest
                if self._own_workdir:
                    server.kill()  # the data is about to be deleted: a graceful shutdown only costs time
                else:
                    server.stop(grace=1.0)
        for proxy in self.proxies:
            with contextlib.suppress(Exception):
                proxy.stop()
        if self._own_workdir and self.started:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.started = False

    def __enter__(self) -> Target:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def nodes(self) -> list[str]:
        return list(self.servers)

    def client(self, index: int) -> Client:
        """A new client for client thread ``index`` (0-based)."""
        raise NotImplementedError

    # -- faults ------------------------------------------------------------------------------------
    def _server(self, node: str) -> ServerProcess:
        try:
            return self.servers[node]
        except KeyError:
            raise UsageError(f"{self.name} has no node {node!r} (nodes: {', '.join(self.servers)})") from None

    def pause(self, node: str) -> None:
        self._server(node).pause()

    def resume(self, node: str) -> None:
        self._server(node).resume()

    def kill(self, node: str) -> None:
        self._server(node).kill()

    def restart(self, node: str) -> None:
        """Start a killed node again with its data (waits until it serves, as far as it can alone)."""
        self._server(node).start(wait=False)
        self.wait_restarted(node)

    def wait_restarted(self, node: str) -> None:
        self._server(node).wait_ready()

    def isolate(self, node: str) -> None:
        """Cut ``node`` off from the others (and record it in ``isolated``)."""
        raise UsageError(f"target {self.name} does not support network partitions")

    def heal_network(self) -> None:
        """Undo every network fault."""
        self.isolated = frozenset()
        for proxy in self.proxies:
            proxy.heal()
