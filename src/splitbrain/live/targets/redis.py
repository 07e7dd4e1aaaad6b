"""Redis targets: a single instance used as CAS registers or as lists appended to in transactions, and a
primary whose replica serves reads.

``redis`` — one ``redis-server`` holding one register per key (``register`` for a single-key run,
``register:<k>`` with ``--keys``). ``read`` is GET, ``write`` is SET, ``cas`` is a Lua
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

``redis-append`` — list-append transactions (Elle's workload): each transaction is one MULTI/EXEC
block of ``RPUSH append:<k> v`` and ``LRANGE append:<k> 0 -1`` in order, which Redis runs atomically and
in isolation; checked strict-serializable. ``redis-append-weak`` is the classic mistake: the reads are
done before MULTI, outside the transaction, so another transaction can slip in between a read and the
writes — the checker must find the cycle (G-single or G2).

All speak RESP over a plain socket (a few lines below), so there is no client library to install. A
client's ``connect`` ends with a PING: a server that is down (refused, or accepted-then-closed) fails
there, before any command of the operation was sent, which is a definite failure; an error after the
command went out is an unknown outcome.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from splitbrain.histories.recorder import DefiniteFailure
from splitbrain.live.network import Route
from splitbrain.live.processes import ServerError, ServerProcess, free_port
from splitbrain.live.proxy import FaultProxy, Mode
from splitbrain.live.target import Target

__all__ = [
    "CAS_SCRIPT",
    "KEY",
    "AppendClient",
    "RedisAppendTarget",
    "RedisAppendWeakTarget",
    "RedisClient",
    "RedisReplicaTarget",
    "RedisTarget",
    "ReplicaClient",
    "Resp",
    "RespError",
    "append_txn",
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


def register_op(conn: Resp, f: str, value: Any, key: Any = None) -> Any:
    """One cas-register operation on ``KEY`` (``KEY:<key>`` for a keyed run); error replies mean Redis did
    not execute it (definite)."""
    name = KEY if key is None else f"{KEY}:{key}"
    try:
        if f == "read":
            raw = conn.command("GET", name)
            return None if raw is None else int(raw)
        if f == "write":
            conn.command("SET", name, value)
            return value
        if f == "cas":
            old, new = value
            if conn.command("EVAL", CAS_SCRIPT, 1, name, old, new) != 1:
                raise DefiniteFailure(f"cas: the value was not {old}")
            return value
    except RespError as exc:
        raise DefiniteFailure(str(exc)) from exc
    raise ValueError(f"unknown register operation {f!r}")


def append_txn(conn: Resp, mops: Any, *, reads_outside: bool = False) -> tuple[tuple[str, Any, Any], ...]:
    """Run a list-append transaction as one MULTI/EXEC block; returns the micro-ops with the lists read.

    With ``reads_outside`` (the weakened client), reads are sent first, each on its own, and only the
    appends go into the block: not a transaction any more.
    """
    done: list[tuple[str, Any, Any]] = []
    try:
        if reads_outside:
            early = {i: _ints(conn.command("LRANGE", f"append:{k}", 0, -1))
                     for i, (fn, k, _) in enumerate(mops) if fn == "r"}
            appends = [(fn, k, v) for fn, k, v in mops if fn != "r"]
            if appends:
                conn.command("MULTI")
                for _, k, v in appends:
                    conn.command("RPUSH", f"append:{k}", v)
                conn.command("EXEC")
            return tuple((fn, k, early[i] if fn == "r" else v) for i, (fn, k, v) in enumerate(mops))
        conn.command("MULTI")
        for fn, k, v in mops:
            if fn == "r":
                conn.command("LRANGE", f"append:{k}", 0, -1)
            else:
                conn.command("RPUSH", f"append:{k}", v)
        replies = conn.command("EXEC")
    except RespError as exc:  # an error reply: EXECABORT, or a command refused before EXEC
        conn.close()  # never leave the connection inside a MULTI block
        raise DefiniteFailure(str(exc)) from exc
    if not isinstance(replies, list) or len(replies) != len(mops):
        raise DefiniteFailure(f"EXEC returned {replies!r}")
    for (fn, k, v), reply in zip(mops, replies, strict=True):
        done.append((fn, k, _ints(reply) if fn == "r" else v))
    return tuple(done)


def _ints(reply: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in reply or ())


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

    def invoke(self, f: str, value: Any, node: str, key: Any = None) -> Any:
        return register_op(self.conn, f, value, key)

    def close(self) -> None:
        self.conn.close()


class RedisTarget(Target):
    """A single ``redis-server`` as CAS registers: must check linearizable, also under faults."""

    name = "redis"
    summary = "one redis-server as CAS registers (Lua EVAL); linearizable under every fault"
    # no clock: Debian's redis-server is linked with jemalloc, whose start-up calls clock_gettime()
    # inside libfaketime's own initialisation, and libfaketime aborts the recursion (the server hangs)
    faults = frozenset({"pause", "kill", "partition", "latency", "drop"})
    requires = (("redis-server", "redis-server"),)
    keyed = True

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
        self.proxy = FaultProxy(port, name="n1-clients", port=free_port()).start()
        self.proxies.append(self.proxy)
        # the clients are the other end of the only link: a partition cuts them off from the server
        self.links.add(Route("clients", "n1", self.proxy))

    def client(self, index: int) -> Any:
        assert self.proxy is not None
        return RedisClient(self.proxy.port, "n1", self.timeout)


class AppendClient(RedisClient):
    """List-append transactions through MULTI/EXEC (``weak``: reads outside the block)."""

    def __init__(self, port: int, node: str, timeout: float, *, weak: bool) -> None:
        super().__init__(port, node, timeout)
        self.weak = weak

    def invoke(self, f: str, value: Any, node: str, key: Any = None) -> Any:
        if f != "txn":
            raise ValueError(f"the append workload has only txn operations, not {f!r}")
        return append_txn(self.conn, value, reads_outside=self.weak)


class RedisAppendTarget(RedisTarget):
    """One ``redis-server``, list-append transactions in MULTI/EXEC: strict-serializable under faults."""

    name = "redis-append"
    summary = "one redis-server, list-append transactions in MULTI/EXEC; strict-serializable"
    workload = "append"
    weak = False

    def client(self, index: int) -> Any:
        assert self.proxy is not None
        return AppendClient(self.proxy.port, "n1", self.timeout, weak=self.weak)


class RedisAppendWeakTarget(RedisAppendTarget):
    """The weakened client: reads before MULTI, outside the transaction; must be caught."""

    name = "redis-append-weak"
    summary = "redis-append with the reads outside MULTI/EXEC; must be caught (G-single/G2)"
    weak = True
    expected = "invalid"


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
    faults = frozenset({"pause", "kill", "partition", "latency", "drop"})
    expected = "invalid"
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
        self.link = FaultProxy(primary, name="replication", port=free_port()).start()
        self.proxies.append(self.link)
        self.links.add(Route("replica", "primary", self.link), base=Mode("delay", delay=self.lag))
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
        """Wait until the node answers PING: a restarted replica resyncs in the background (its reads
        fail meanwhile), which a cut replication link can hold up for as long as the cut lasts."""
        server, port = self._server(node), self.ports[node]
        deadline = time.monotonic() + 10
        while not _pings(port):
            if not server.running:
                raise ServerError(f"{node} exited during restart\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise ServerError(f"{node} did not answer PING in 10 s\n{server.log_tail()}")
            time.sleep(0.05)


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
