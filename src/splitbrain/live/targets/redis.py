"""Redis targets: a single instance used as a CAS register, and a primary whose replica serves reads.

``redis`` — one ``redis-server`` holding one key. ``read`` is GET, ``write`` is SET, ``cas`` is a Lua
script run with EVAL (Redis runs a script atomically, so compare-and-set is one step). Clients reach the
server through a :class:`~splitbrain.live.proxy.FaultProxy`, so ``partition`` blackholes them. The server
runs with ``appendonly yes`` and ``appendfsync always``: a write is in the append-only file before Redis
acknowledges it, so ``kill`` (SIGKILL) and restart from the same directory lose no acknowledged write and
the history must check linearizable. (SIGKILL alone only needs the ``write(2)`` Redis does before
replying; ``always`` also covers a machine crash. With persistence off, a restart would come back empty
and the checker would rightly report lost writes.)

``redis-replica`` — writes and CAS go to the primary, reads to a replica whose replication link runs
through a proxy that delays it (``lag``, 100 ms by default). Redis replication is asynchronous, so the
replica serves values the primary has already overwritten: the checker must say *not linearizable*.

Both speak RESP over a plain socket (a few lines below), so there is no client library to install.
"""

from __future__ import annotations

import socket
from typing import Any

from splitbrain.histories.recorder import DefiniteFailure
from splitbrain.live.processes import ServerProcess, free_port
from splitbrain.live.proxy import FaultProxy
from splitbrain.live.target import Target

__all__ = [
    "CAS_SCRIPT",
    "KEY",
    "RedisClient",
    "RedisReplicaTarget",
    "RedisTarget",
    "ReplicaClient",
    "Resp",
    "RespError",
    "redis_argv",
    "register_op",
]


KEY = "register"
# compare-and-set in one atomic step: 1 when swapped, 0 when the current value differs
CAS_SCRIPT = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 "
    "else return 0 end"
)


class RespError(Exception):
    """An error reply (``-ERR ...``): Redis did not execute the command."""


class Resp:
    """A minimal RESP2 client: one socket, one command at a time."""

    def __init__(self, port: int, *, timeout: float = 0.5, host: str = "127.0.0.1") -> None:
        self.address = (host, port)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file: Any = None

    def connect(self) -> None:
        """Connect and PING. Any failure here is definite: no command of ours was sent yet."""
        self.close()
        try:
            self._sock = socket.create_connection(self.address, timeout=self.timeout)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._file = self._sock.makefile("rb")
            reply = self._roundtrip(("PING",))
        except (OSError, RespError, ValueError) as exc:
            self.close()
            raise DefiniteFailure(f"connect: {exc!r}") from exc
        if reply != "PONG":
            self.close()
            raise DefiniteFailure(f"connect: unexpected PING reply {reply!r}")

    def command(self, *args: str | int | bytes) -> Any:
        """Send one command and return its reply; an error reply raises :class:`RespError`. A socket
        error closes the connection (the next command reconnects) and escapes: its outcome is unknown."""
        if self._sock is None:
            self.connect()
        try:
            return self._roundtrip(args)
        except RespError:
            raise
        except BaseException:
            self.close()
            raise

    def _roundtrip(self, args: tuple[str | int | bytes, ...]) -> Any:
        assert self._sock is not None
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self._sock.sendall(b"".join(parts))
        return self._reply()

    def _reply(self) -> Any:
        line = self._file.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionResetError("connection closed mid-reply")
        kind, body = line[:1], line[1:-2]
        if kind == b"+":
            return body.decode()
        if kind == b"-":
            raise RespError(body.decode(errors="replace"))
        if kind == b":":
            return int(body)
        if kind == b"$":
            size = int(body)
            if size < 0:
                return None
            data = self._file.read(size + 2)
            if len(data) != size + 2:
                raise ConnectionResetError("connection closed mid-reply")
            return data[:-2]
        if kind == b"*":
            size = int(body)
            return None if size < 0 else [self._reply() for _ in range(size)]
        raise ValueError(f"bad RESP reply {line!r}")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def register_op(conn: Resp, f: str, value: Any) -> Any:
    """One cas-register operation on ``KEY``; error replies mean Redis did not execute it (definite)."""
    try:
        if f == "read":
            raw = conn.command("GET", KEY)
            return None if raw is None else int(raw)
        if f == "write":
            conn.command("SET", KEY, value)
            return value
        if f == "cas":
            old, new = value
            if conn.command("EVAL", CAS_SCRIPT, 1, KEY, old, new) != 1:
                raise DefiniteFailure(f"cas: the value was not {old}")
            return value
    except RespError as exc:
        raise DefiniteFailure(str(exc)) from exc
    raise ValueError(f"unknown register operation {f!r}")


def redis_argv(binary: str, port: int, datadir: str, *, persistent: bool = True) -> list[str]:
    argv = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", datadir, "--daemonize", "no",
        "--protected-mode", "no", "--save", "", "--logfile", "", "--repl-diskless-sync-delay", "0",
    ]
    if persistent:
        argv += ["--appendonly", "yes", "--appendfsync", "always"]
    return argv


def _pings(port: int) -> bool:
    conn = Resp(port, timeout=0.5)
    try:
        conn.connect()
        return True
    except DefiniteFailure:
        return False
    finally:
        conn.close()


class RedisClient:
    """A client of the single-instance target (through the client proxy)."""

    def __init__(self, port: int, node: str, timeout: float) -> None:
        self.node = node
        self.conn = Resp(port, timeout=timeout)

    def node_for(self, f: str) -> str:
        return self.node

    def invoke(self, f: str, value: Any, node: str) -> Any:
        return register_op(self.conn, f, value)

    def close(self) -> None:
        self.conn.close()


class RedisTarget(Target):
    """A single ``redis-server`` as a CAS register: must check linearizable, also under faults."""

    name = "redis"
    summary = "one redis-server as a CAS register (Lua EVAL); linearizable under pause, kill, partition"
    faults = frozenset({"pause", "kill", "partition"})
    requires = (("redis-server", "redis-server"),)

    def __init__(self, *, timeout: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timeout = timeout
        self.proxy: FaultProxy | None = None

    def launch(self) -> None:
        binary = self.check_installed()["redis-server"]
        port = free_port()
        data = self.workdir / "n1"
        data.mkdir(parents=True, exist_ok=True)
        self.servers["n1"] = server = ServerProcess(
            "n1", redis_argv(binary, port, str(data)), log=self.logdir / "n1.log",
            ready=lambda: _pings(port),
        )
        server.start()
        self.proxy = FaultProxy(port, name="n1-clients").start()
        self.proxies.append(self.proxy)

    def client(self, index: int) -> RedisClient:
        assert self.proxy is not None
        return RedisClient(self.proxy.port, "n1", self.timeout)

    def isolate(self, node: str) -> None:
        """Blackhole every client connection to the server."""
        self._server(node)
        assert self.proxy is not None
        self.isolated = frozenset({node})
        self.proxy.drop()


class ReplicaClient:
    """Writes and CAS to the primary, reads from the replica."""

    def __init__(self, ports: dict[str, int], timeout: float) -> None:
        self.conns = {node: Resp(port, timeout=timeout) for node, port in ports.items()}

    def node_for(self, f: str) -> str:
        return "replica" if f == "read" else "primary"

    def invoke(self, f: str, value: Any, node: str) -> Any:
        return register_op(self.conns[node], f, value)

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


class RedisReplicaTarget(Target):
    """A primary and a replica behind a delayed replication link: reads must be caught stale."""

    name = "redis-replica"
    summary = "primary + replica, reads from the replica over a delayed link; must be caught stale"
    faults = frozenset({"pause", "kill", "partition"})
    requires = (("redis-server", "redis-server"),)

    def __init__(self, *, lag: float = 0.1, timeout: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lag = lag
        self.timeout = timeout
        self.ports: dict[str, int] = {}
        self.link: FaultProxy | None = None

    def launch(self) -> None:
        binary = self.check_installed()["redis-server"]
        self.ports = {"primary": free_port(), "replica": free_port()}
        for node in self.ports:
            (self.workdir / node).mkdir(parents=True, exist_ok=True)
        primary = self.ports["primary"]
        self.servers["primary"] = ServerProcess(
            "primary", redis_argv(binary, primary, str(self.workdir / "primary")),
            log=self.logdir / "primary.log", ready=lambda: _pings(primary),
        )
        self.servers["primary"].start()
        self.link = FaultProxy(primary, name="replication").start()
        self.proxies.append(self.link)
        replica = self.ports["replica"]
        argv = redis_argv(binary, replica, str(self.workdir / "replica"), persistent=False)
        self.servers["replica"] = ServerProcess(
            "replica", [*argv, "--replicaof", "127.0.0.1", str(self.link.port)],
            log=self.logdir / "replica.log", ready=lambda: _replica_synced(replica),
        )
        self.servers["replica"].start()
        self.link.delay(self.lag)  # after the initial sync, whose handshake takes many round trips

    def client(self, index: int) -> ReplicaClient:
        return ReplicaClient(self.ports, self.timeout)

    def wait_restarted(self, node: str) -> None:
        # a restarted primary serves at once; the replica resyncs in the background (reads may fail)
        self._server(node).wait_ready(timeout=5.0)

    def isolate(self, node: str) -> None:
        """Blackhole the replication link (either node: there are only two)."""
        self._server(node)
        assert self.link is not None
        self.isolated = frozenset({node})
        self.link.drop()

    def heal_network(self) -> None:
        super().heal_network()
        if self.link is not None:
            self.link.delay(self.lag)


def _replica_synced(port: int) -> bool:
    conn = Resp(port, timeout=0.5)
    try:
        conn.connect()
        info = conn.command("INFO", "replication")
        return b"master_link_status:up" in info
    except (DefiniteFailure, OSError, RespError):
        return False
    finally:
        conn.close()
