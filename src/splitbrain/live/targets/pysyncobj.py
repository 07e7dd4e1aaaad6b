"""PySyncObj targets: three processes of the Raft library PySyncObj (from PyPI, unmodified) serving
replicated registers, their Raft traffic through fault proxies.

Each node is :mod:`~splitbrain.live.targets.syncobj_server` in its own process: a ``SyncObj`` with
``@replicated`` ``write``/``cas``/``read`` and a JSON-lines front end for clients. Raft traffic goes
through a :class:`~splitbrain.live.proxy.FaultProxy` in front of every node's Raft port: a node's Raft
address (what its peers dial) is its proxy's, and it binds its real port (PySyncObj's ``bindAddress``).
PySyncObj opens one connection per pair of nodes, from the node with the greater address, and sends
its own address as the first message (a length-prefixed, zlib-compressed pickle), so each proxy learns
which peer a connection comes from by looking for the known addresses in that first frame — without
unpickling anything — and every partition shape, one-way cut and delay applies to exactly its links.

Clients talk to the front ends directly (client thread ``i``'s home is node ``i mod 3``); writes and
CAS go through the Raft log (PySyncObj forwards them to the leader). Three read paths:

* ``pysyncobj`` — reads answered from the home node's local state: what a PySyncObj application gets
  by reading its object's attributes, the library's default. A follower applies an entry only after the
  leader has told it the entry committed, so it can answer from the past even with no fault at all;
* ``pysyncobj-leader-reads`` — reads answered locally, but only by a node that believes it is the
  leader. Without faults that is the node that acknowledged every write; under a partition or a pause a
  deposed leader keeps believing it leads (PySyncObj steps down only after ``leaderFallbackTimeout``,
  30 s by default) and answers from its stale state: a violation that needs a fault to appear;
* ``pysyncobj-log-reads`` — reads go through the Raft log like writes: linearizable if PySyncObj's
  Raft is.

The ``clock`` fault runs each node under libfaketime (PySyncObj's election and heartbeat timers read
``time.monotonic``, which libfaketime moves).
"""

from __future__ import annotations

import functools
import json
import socket
import struct
import sys
import time
import zlib
from typing import Any

from splitbrain.histories.recorder import DefiniteFailure
from splitbrain.live.network import Route
from splitbrain.live.processes import ServerError, ServerProcess, free_port
from splitbrain.live.proxy import FaultProxy
from splitbrain.live.target import Target

__all__ = [
    "NODES",
    "SyncObjClient",
    "SyncObjLeaderReadsTarget",
    "SyncObjLogReadsTarget",
    "SyncObjTarget",
    "Unknown",
    "first_frame",
    "frame_sender",
]

NODES = ("n1", "n2", "n3")


class Unknown(Exception):
    """The node answered ``info``: the operation may or may not have happened."""


def first_frame(head: bytes) -> bool:
    """``head_done`` for PySyncObj: the first length-prefixed frame has arrived."""
    return len(head) >= 4 and len(head) >= 4 + struct.unpack("<i", head[:4])[0]


def frame_sender(addresses: dict[str, str]) -> Any:
    """``classify`` for PySyncObj: the node whose address the first frame carries (decompressed, searched
    for the address string; nothing is unpickled)."""

    def classify(head: bytes) -> str | None:
        if not first_frame(head):
            return None
        size = struct.unpack("<i", head[:4])[0]
        try:
            body = zlib.decompress(head[4:4 + size])
        except zlib.error:
            return None
        for name, address in addresses.items():
            if address.encode() in body:
                return name
        return None

    return classify


class _Line:
    """One JSON-lines connection to a node's front end."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port, self.timeout = port, timeout
        self.sock: socket.socket | None = None
        self.file: Any = None

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.sock is None:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
            except OSError as exc:  # nothing was sent: definite
                self.close()
                raise DefiniteFailure(f"connect: {exc!r}") from exc
            self.file = self.sock.makefile("rb")
        try:
            self.sock.sendall(json.dumps(body).encode() + b"\n")
            line = self.file.readline()
            if not line.endswith(b"\n"):
                raise ConnectionResetError("the node closed the connection before answering")
            answer: dict[str, Any] = json.loads(line)
            return answer
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class SyncObjClient:
    """A client thread's connections: writes to its home node; reads to home, or to the believed leader."""

    def __init__(self, target: SyncObjTarget, index: int) -> None:
        self.target = target
        self.home = NODES[index % len(NODES)]
        self.leader = self.home
        self.lines: dict[str, _Line] = {}

    def node_for(self, f: str) -> str:
        return self.leader if f == "read" and self.target.reads == "leader" else self.home

    def invoke(self, f: str, value: Any, node: str, key: Any = None) -> Any:
        line = self.lines.get(node)
        if line is None:
            line = self.lines[node] = _Line(self.target.front_ports[node], self.target.timeout)
        answer = line.request({"f": f, "key": key, "value": value})
        if "ok" in answer:
            return answer["ok"]
        if "fail" in answer:
            hint = answer.get("leader")
            if hint is not None:
                self.leader = self.target.node_of(hint) or self.home
            raise DefiniteFailure(answer["fail"])
        raise Unknown(answer.get("info", "no outcome"))

    def close(self) -> None:
        for line in self.lines.values():
            line.close()


class SyncObjTarget(Target):
    """Three PySyncObj nodes; reads from the home node's local state (the library's default)."""

    name = "pysyncobj"
    summary = "3 PySyncObj (Raft) nodes, reads from local state (the default); stale reads expected"
    faults = frozenset({"pause", "kill", "partition", "latency", "drop", "clock"})
    keyed = True
    reads = "local"
    expected = "invalid"

    def __init__(self, *, timeout: float = 1.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timeout = timeout
        self.front_ports: dict[str, int] = {}
        self.addresses: dict[str, str] = {}  # node -> Raft address (its proxy)
        self.raft_proxies: dict[str, FaultProxy] = {}

    @classmethod
    def check_installed(cls) -> dict[str, str]:
        import importlib.util

        if importlib.util.find_spec("pysyncobj") is None:
            from splitbrain.live.processes import MissingServer

            raise MissingServer(
                "pysyncobj is not installed: `pip install pysyncobj` (or `pip install splitbrain[live]`)"
            )
        return {}

    def node_of(self, address: str) -> str | None:
        return next((n for n, a in self.addresses.items() if a == address), None)

    def launch(self) -> None:
        self.check_installed()
        raft = {n: free_port() for n in NODES}
        self.front_ports = {n: free_port() for n in NODES}
        proxy_ports = {n: free_port() for n in NODES}
        self.addresses = {n: f"127.0.0.1:{proxy_ports[n]}" for n in NODES}
        classify = frame_sender(self.addresses)
        for n in NODES:
            proxy = FaultProxy(raft[n], name=f"{n}-raft", port=proxy_ports[n], classify=classify,
                               head_done=first_frame).start()
            self.proxies.append(proxy)
            self.raft_proxies[n] = proxy
        for n in NODES:
            argv = [
                sys.executable, "-m", "splitbrain.live.targets.syncobj_server",
                "--self", self.addresses[n], "--bind", f"127.0.0.1:{raft[n]}",
                *[arg for o in NODES if o != n for arg in ("--partner", self.addresses[o])],
                "--front", str(self.front_ports[n]), "--data", str(self.workdir / n), "--reads", self.reads,
                "--timeout", str(max(0.2, self.timeout - 0.3)),
            ]
            self.servers[n] = ServerProcess(
                n, argv, log=self.logdir / f"{n}.log", env=self.faketime_env(n, _python_env()),
                ready=functools.partial(self._answers, n), start_timeout=30.0,
            )
        for server in self.servers.values():
            server.start(wait=False)
        for server in self.servers.values():
            server.wait_ready()
        deadline = time.monotonic() + 30
        while not all(self._knows_leader(n) for n in NODES):
            if time.monotonic() > deadline:
                raise ServerError("the PySyncObj nodes elected no leader in 30 s\n"
                                  + "\n".join(s.log_tail(5) for s in self.servers.values()))
            time.sleep(0.1)
        for a in NODES:  # PySyncObj dials from the greater address to the smaller one
            for b in NODES:
                if self.addresses[a] > self.addresses[b]:
                    self.links.add(Route(a, b, self.raft_proxies[b], a))

    def status(self, node: str, timeout: float = 0.5) -> dict[str, Any] | None:
        line = _Line(self.front_ports[node], timeout)
        try:
            answer = line.request({"f": "status"})
        except (OSError, DefiniteFailure, ValueError):
            return None
        finally:
            line.close()
        ok: dict[str, Any] | None = answer.get("ok")
        return ok

    def _answers(self, node: str) -> bool:
        return self.status(node) is not None

    def _knows_leader(self, node: str) -> bool:
        status = self.status(node)
        return bool(status and status.get("leader"))

    def leader(self) -> str | None:
        for node in NODES:
            server = self.servers.get(node)
            if server is None or not server.running or server.paused:
                continue
            status = self.status(node)
            if status and status.get("is_leader"):
                return node
        return None

    def wait_recovered(self, timeout: float = 30.0) -> bool:
        ok = super().wait_recovered(timeout)
        deadline = time.monotonic() + timeout
        while ok and time.monotonic() < deadline:  # one leader that everybody agrees on
            leaders = {(self.status(n) or {}).get("leader") for n in NODES}
            if len(leaders) == 1 and None not in leaders:
                return True
            time.sleep(0.1)
        return False

    def client(self, index: int) -> SyncObjClient:
        return SyncObjClient(self, index)


class SyncObjLeaderReadsTarget(SyncObjTarget):
    """Local reads only on a node that believes it leads: stale only when a fault deposes a leader."""

    name = "pysyncobj-leader-reads"
    summary = "PySyncObj, local reads on the (believed) leader only; stale only under faults"
    reads = "leader"


class SyncObjLogReadsTarget(SyncObjTarget):
    """Reads through the Raft log."""

    name = "pysyncobj-log-reads"
    summary = "PySyncObj, reads through the Raft log (@replicated); linearizable if its Raft is"
    reads = "log"
    expected = "valid"


def _python_env() -> dict[str, str]:
    """The environment of a node: this interpreter's, so ``-m splitbrain...`` and pysyncobj import."""
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env.pop("PYTHONSTARTUP", None)
    return env
