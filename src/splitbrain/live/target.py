"""The adapter interface between the runner and a real system: `Target` (servers + faults) and `Client`.

A target starts its servers on loopback, hands out one :class:`Client` per client thread, and implements
the faults the nemesis asks for. The base class implements ``pause``/``kill`` generically over
``self.servers`` (a dict of :class:`~splitbrain.live.processes.ServerProcess` by node name), network
faults over ``self.links`` (the :class:`~splitbrain.live.network.Route` of every proxied path between
nodes: register them in :meth:`Target.launch` and every partition shape, one-way cut, delay and lossy
link works), and clock faults through libfaketime for a target that starts its servers with
:meth:`Target.faketime_env`.

A client's ``invoke(f, value, node)`` — ``invoke(f, value, node, key=k)`` for a target that declares
``keyed = True`` and runs with several keys — returns the operation's result, raises
:class:`~splitbrain.histories.recorder.DefiniteFailure` when the operation definitely did not happen
(a refused connection: nothing was sent), and lets any other exception escape when the outcome is
unknown (a lost reply). The recorder turns those into ``ok``, ``fail`` and ``info``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol

from splitbrain.errors import UsageError
from splitbrain.live.network import Link, Links
from splitbrain.live.processes import ServerError, ServerProcess, require_binary
from splitbrain.live.proxy import FaultProxy

#: libfaketime from the Debian package of that name (scripts/system-deps.sh installs it)
FAKETIME_LIBRARY = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
_CLOCK_LOCK = threading.Lock()

__all__ = [
    "Client",
    "FaultRefused",
    "Target",
]


class FaultRefused(Exception):
    """The system refused a fault it can refuse — etcd declines to remove a member while the cluster is
    not healthy — so nothing changed. The nemesis records it (``nemesis-refused``), not as an error."""


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
    #: the workload the runner drives: ``register`` (read/write/cas, checked against ``model``) or
    #: ``append`` (list-append transactions, checked by the transaction checker at ``consistency``)
    workload: ClassVar[str] = "register"
    consistency: ClassVar[str] = "strict-serializable"
    #: True when clients take a ``key`` (so ``--keys N`` spreads the work over independent keys)
    keyed: ClassVar[bool] = False
    #: nemesis kinds this target supports
    faults: ClassVar[frozenset[str]] = frozenset({"pause", "kill"})
    #: (binary, Debian package) pairs that must be installed
    requires: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: what the runner expects the verdict to be (for listings and docs; the checker decides)
    expected: ClassVar[str] = "valid"

    def __init__(self, *, workdir: Path | None = None, logdir: Path | None = None,
                 timeout: float | None = None) -> None:
        self._own_workdir = workdir is None
        self._workdir = Path(workdir) if workdir is not None else None  # else made by start()
        self._logdir = Path(logdir) if logdir is not None else None
        self.servers: dict[str, ServerProcess] = {}
        self.proxies: list[FaultProxy] = []
        self.links = Links()
        self.isolated: frozenset[str] = frozenset()
        self.started = False
        #: set before start() to run the servers under libfaketime (the ``clock`` nemesis)
        self.clock = False
        if timeout is not None:
            self.timeout = timeout

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
        self.links.clear()

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

    def restart_all(self, nodes: list[str]) -> None:
        """Start several killed nodes together, then wait for each (a majority restarted one at a time
        would wait forever for a quorum that the next restart brings)."""
        for node in nodes:
            self._server(node).start(wait=False)
        for node in nodes:
            self.wait_restarted(node)

    def wait_restarted(self, node: str) -> None:
        self._server(node).wait_ready()

    @property
    def network_nodes(self) -> list[str]:
        """The endpoints of the links partitions are drawn over (the servers, and for a target whose
        clients go through a proxy, ``clients``)."""
        return self.links.nodes() or self.nodes

    def set_network(self, cut: Collection[Link], slow: Mapping[Link, float] | None = None) -> None:
        """Blackhole exactly the directed links in ``cut`` and delay those in ``slow`` (seconds)."""
        if not self.links.routes:
            raise UsageError(f"target {self.name} does not support network faults")
        self.links.apply(cut, slow)
        self.isolated = frozenset(  # the nodes cut off from every other node, both ways
            n for n in self.nodes
            if all((n, o) in self.links.cut and (o, n) in self.links.cut for o in self.network_nodes if o != n)
        )

    def isolate(self, node: str) -> None:
        """Cut ``node`` off from the others, both ways (and record it in ``isolated``)."""
        from splitbrain.live.network import isolate

        self.set_network(isolate(self.network_nodes, node))

    def heal_network(self) -> None:
        """Undo every network fault."""
        self.isolated = frozenset()
        if self.links.routes:
            self.links.apply(frozenset(), {})
        else:
            for proxy in self.proxies:
                proxy.heal()

    def leader(self) -> str | None:
        """The node that believes it leads, when the target can tell (for ``isolate-leader``)."""
        return None

    def wait_recovered(self, timeout: float = 30.0) -> bool:
        """After the final heal: wait until every server serves again; False if the time ran out."""
        deadline = time.monotonic() + timeout
        for server in self.servers.values():
            try:
                if not server.running:
                    server.start(wait=False)
                server.wait_ready(timeout=max(0.1, deadline - time.monotonic()))
            except ServerError:
                return False
        return True

    # -- clocks (libfaketime) ----------------------------------------------------------------------
    def faketime_env(self, node: str, env: Mapping[str, str] | None = None) -> dict[str, str] | None:
        """The environment that runs ``node`` under libfaketime with an offset read from a control file
        (``None`` — inherit the environment — when the ``clock`` nemesis is off). Go programs such as
        etcd read the clock without libc, so this only works for C and Python servers."""
        if not self.clock:
            return dict(env) if env is not None else None
        control = self.workdir / f"{node}.faketime"
        control.write_text("+0\n")
        return {
            **(dict(env) if env is not None else os.environ),
            "LD_PRELOAD": FAKETIME_LIBRARY, "FAKETIME_TIMESTAMP_FILE": str(control),
            "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_RESET": "1",
        }

    def set_clock(self, node: str, offset: float) -> None:
        """Move ``node``'s clocks (wall and monotonic) ``offset`` seconds from the true time."""
        self._server(node)
        control = self.workdir / f"{node}.faketime"
        if not self.clock or not control.exists():
            raise UsageError(f"target {self.name} was not started with a controllable clock")
        # the nemesis's strobe thread and its heal may set one node's clock at once: one write-and-replace
        # at a time, so neither finds the temporary file gone
        with _CLOCK_LOCK:
            tmp = control.with_suffix(".tmp")
            tmp.write_text(f"{offset:+.3f}\n")
            tmp.replace(control)  # atomic: libfaketime never reads half a line
