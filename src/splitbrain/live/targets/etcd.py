"""etcd targets: a 3-member cluster on loopback, used as CAS registers or as lists appended to in
transactions, over the v3 JSON gateway.

Each member (``etcd`` from the Debian package ``etcd-server``) has its own data directory, client port
and peer port. Members reach each other only through a :class:`~splitbrain.live.proxy.FaultProxy` in
front of each peer port (the advertised peer URLs are the proxies'). etcd names the sending member in an
``X-Server-From`` header on every peer request, so each proxy knows which peer opened a connection: the
routes of :mod:`~splitbrain.live.network` (every member opens connections to every other) let any
partition shape, one-way cut or delay be applied to exactly the links it names.

Clients talk HTTP/JSON to the gRPC gateway on each member's client port (``/v3/kv/range``, ``/v3/kv/put``,
``/v3/kv/txn``; keys and values base64-encoded). ``read`` is a range, ``write`` a put, ``cas`` a txn that
compares the value and puts on success (a failed comparison is a definite ``fail``).

``etcd`` — linearizable reads (the default): must check valid under pause, kill and partitions. Client
thread ``i`` talks to member ``i mod 3``.

``etcd-serializable`` — reads with ``serializable: true`` are answered from the member's local state
without consulting a quorum. While a member is isolated, writes go to the majority and the even-numbered
clients read from the isolated member, which can only serve values the majority has since overwritten:
the checker must say *not linearizable*.

``etcd-append`` — Elle's list-append over etcd, as Jepsen's etcd test does it: a list is a JSON array
stored under ``append/<k>``; a transaction first reads all its keys in one range-only txn (one
revision), computes the new lists, then commits one txn whose compares require every key it *read or
wrote* to be unchanged (same ``mod_revision``) and whose success branch puts the new lists. A failed
compare is a definite ``fail`` (nothing was written). Checked strict-serializable.
``etcd-append-weak`` only compares the keys it writes: reads of other keys are not validated at commit
— reads outside the transaction, in effect — and the checker must find the write skew (G2).

etcd is a Go program: it reads the clock without libc, so libfaketime cannot skew it and this target
has no ``clock`` fault (Jepsen changes the system clock of a whole VM instead, which needs root and a
machine per node).
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import shutil
import time
from typing import Any

from splitbrain.histories.recorder import DefiniteFailure
from splitbrain.live.network import Route
from splitbrain.live.processes import ServerError, ServerProcess, free_port, port_open
from splitbrain.live.proxy import FaultProxy, http_header_source
from splitbrain.live.target import FaultRefused, Target

__all__ = [
    "KEY",
    "NODES",
    "EtcdAppendTarget",
    "EtcdAppendWeakTarget",
    "EtcdClient",
    "EtcdError",
    "EtcdSerializableTarget",
    "EtcdTarget",
    "post",
]


KEY = "register"
NODES = ("n1", "n2", "n3")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class EtcdError(Exception):
    """The gateway answered with an error status (the message is etcd's)."""


def post(conn: http.client.HTTPConnection, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST JSON to the gateway and decode the answer; :class:`EtcdError` on an error status."""
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        try:
            message = json.loads(data).get("message") or data.decode(errors="replace")
        except ValueError:
            message = data.decode(errors="replace")
        raise EtcdError(f"HTTP {response.status}: {message}")
    answer: dict[str, Any] = json.loads(data)
    return answer


class EtcdClient:
    """A client thread's connections (one per member, opened on demand) and its routing."""

    def __init__(self, target: EtcdTarget, index: int) -> None:
        self.target = target
        self.index = index
        self.home = NODES[index % len(NODES)]
        self._conns: dict[str, http.client.HTTPConnection] = {}

    def node_for(self, f: str) -> str:
        if not self.target.serializable:
            return self.home
        isolated = self.target.isolated
        if f == "read" and isolated and self.index % 2 == 0:
            return min(isolated)  # read where staleness lives
        if self.home in isolated:
            return min(n for n in NODES if n not in isolated)  # write through the majority
        return self.home

    def invoke(self, f: str, value: Any, node: str, key: Any = None) -> Any:
        conn = self._conns.get(node)
        if conn is None:
            port = self.target.client_ports[node]
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.target.timeout)
            try:
                conn.connect()
            except ConnectionRefusedError as exc:  # nothing was sent: definite
                conn.close()
                raise DefiniteFailure(f"connect: {exc!r}") from exc
            self._conns[node] = conn
        try:
            if f == "txn":
                return self._append_txn(conn, value)
            return self._register_op(conn, f, value, key)
        except (OSError, http.client.HTTPException):
            conn.close()  # unknown state: start a fresh connection next time
            del self._conns[node]
            raise

    def _append_txn(self, conn: http.client.HTTPConnection, mops: Any) -> Any:
        keys = list(dict.fromkeys(k for _, k, _ in mops))
        reads = post(conn, "/v3/kv/txn", {
            "success": [{"request_range": {"key": _b64(f"append/{k}")}} for k in keys],
        })
        current: dict[Any, list[int]] = {}
        revisions: dict[Any, int] = {}
        for k, answer in zip(keys, reads.get("responses") or [], strict=False):
            kvs = (answer.get("response_range") or {}).get("kvs") or []
            current[k] = json.loads(base64.b64decode(kvs[0]["value"])) if kvs else []
            revisions[k] = int(kvs[0].get("mod_revision", 0)) if kvs else 0
        if len(current) != len(keys):
            raise EtcdError(f"the read of {keys} came back incomplete: {reads!r}")
        done, written = [], {}
        for fn, k, v in mops:
            if fn == "r":
                done.append((fn, k, tuple(current[k])))
            else:
                current[k] = [*current[k], v]
                written[k] = current[k]
                done.append((fn, k, v))
        if not written:
            return tuple(done)  # read-only: one range at one revision is the transaction
        guarded = list(written) if self.target.weak else keys  # weak: reads are not validated at commit
        answer = post(conn, "/v3/kv/txn", {
            "compare": [{"key": _b64(f"append/{k}"), "result": "EQUAL", "target": "MOD",
                         "mod_revision": str(revisions[k])} for k in guarded],
            "success": [{"request_put": {"key": _b64(f"append/{k}"), "value": _b64(json.dumps(lst))}}
                        for k, lst in written.items()],
        })
        if not answer.get("succeeded"):
            raise DefiniteFailure("conflict: a key changed since it was read (the txn's compares failed)")
        return tuple(done)

    def _register_op(self, conn: http.client.HTTPConnection, f: str, value: Any, name: Any = None) -> Any:
        key = _b64(KEY if name is None else f"{KEY}/{name}")
        if f == "read":
            body: dict[str, Any] = {"key": key}
            if self.target.serializable:
                body["serializable"] = True
            kvs = post(conn, "/v3/kv/range", body).get("kvs") or []
            return int(base64.b64decode(kvs[0]["value"])) if kvs else None
        if f == "write":
            post(conn, "/v3/kv/put", {"key": key, "value": _b64(str(value))})
            return value
        if f == "cas":
            old, new = value
            answer = post(conn, "/v3/kv/txn", {
                "compare": [{"key": key, "result": "EQUAL", "target": "VALUE", "value": _b64(str(old))}],
                "success": [{"request_put": {"key": key, "value": _b64(str(new))}}],
            })
            if not answer.get("succeeded"):
                raise DefiniteFailure(f"cas: the value was not {old}")
            return value
        raise ValueError(f"unknown register operation {f!r}")

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()


def _healthy(port: int) -> bool:
    """True when the member says it is healthy (``/health``: it is up and knows a leader)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        return response.status == 200 and json.loads(response.read()).get("health") == "true"
    except (OSError, http.client.HTTPException, ValueError):
        return False
    finally:
        conn.close()


class EtcdTarget(Target):
    """Three etcd members on loopback with a fault proxy on every peer port."""

    name = "etcd"
    summary = "3-member etcd cluster, linearizable reads; must check valid under every fault"
    faults = frozenset({"pause", "kill", "partition", "latency", "drop", "member"})
    requires = (("etcd", "etcd-server"),)
    keyed = True
    serializable = False
    weak = False

    def __init__(
        self, *, timeout: float = 1.0, heartbeat_ms: int = 50, election_ms: int = 500, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.timeout = timeout
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.client_ports: dict[str, int] = {}
        self.peer_proxies: dict[str, FaultProxy] = {}
        self.member_ids: dict[str, str] = {}  # name -> id in hex, as etcd writes it in X-Server-From
        self.removed: set[str] = set()  # members removed by the ``member`` nemesis, not yet added back
        self.peer_ports: dict[str, int] = {}
        self.binary = "etcd"

    def launch(self) -> None:
        self.binary = self.check_installed()["etcd"]
        self.peer_ports = {n: free_port() for n in NODES}
        self.client_ports = {n: free_port() for n in NODES}
        classify = http_header_source("X-Server-From")
        for n in NODES:
            proxy = FaultProxy(self.peer_ports[n], name=f"{n}-peer", classify=classify, port=free_port()).start()
            self.proxies.append(proxy)
            self.peer_proxies[n] = proxy
        for n in NODES:
            self.servers[n] = self._member(n, NODES, "new")
        for server in self.servers.values():
            server.start(wait=False)
        for server in self.servers.values():
            server.wait_ready()
        self.member_ids = self._member_ids()
        self._routes()

    def _member(self, n: str, cluster: tuple[str, ...] | list[str], state: str) -> ServerProcess:
        client = self.client_ports[n]
        members = ",".join(f"{m}=http://127.0.0.1:{self.peer_proxies[m].port}" for m in cluster)
        argv = [
            self.binary, "--name", n, "--data-dir", str(self.workdir / n),
            "--listen-client-urls", f"http://127.0.0.1:{client}",
            "--advertise-client-urls", f"http://127.0.0.1:{client}",
            "--listen-peer-urls", f"http://127.0.0.1:{self.peer_ports[n]}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_proxies[n].port}",
            "--initial-cluster", members, "--initial-cluster-state", state,
            "--initial-cluster-token", f"splitbrain-{self.workdir.name}",
            "--heartbeat-interval", str(self.heartbeat_ms), "--election-timeout", str(self.election_ms),
            "--logger", "zap", "--log-outputs", "stderr",
        ]
        return ServerProcess(
            n, argv, log=self.logdir / f"{n}.log", env={"PATH": "/usr/bin:/bin"},
            ready=functools.partial(_healthy, client), start_timeout=30.0,
        )

    def _routes(self) -> None:
        """Peer routes by member id (ids change when a member is replaced); re-applies the network state."""
        cut, slow = self.links.cut, self.links.slow
        self.links.clear()
        for opener in NODES:  # every member opens connections (streams, pipelines) to every other
            for acceptor in NODES:
                if opener != acceptor and opener in self.member_ids:
                    self.links.add(Route(opener, acceptor, self.peer_proxies[acceptor], self.member_ids[opener]))
        self.links.apply(cut, slow)

    # -- membership ------------------------------------------------------------------------------------
    def _admin(self, path: str, body: dict[str, Any], avoid: str) -> dict[str, Any]:
        """A cluster request through the first running member other than ``avoid`` that answers."""
        error: Exception | None = None
        for node in NODES:
            server = self.servers.get(node)
            if node == avoid or server is None or not server.running or server.paused:
                continue
            conn = http.client.HTTPConnection("127.0.0.1", self.client_ports[node], timeout=5)
            try:
                return post(conn, path, body)
            except (OSError, http.client.HTTPException, EtcdError) as exc:
                error = exc
            finally:
                conn.close()
        raise EtcdError(f"no member answered {path}: {error}")

    def remove_member(self, node: str) -> None:
        """Remove ``node`` from the cluster (``member remove``), stop it and delete its data: the cluster
        runs with one member fewer until :meth:`add_member`."""
        self._server(node)
        member = int(self.member_ids[node], 16)
        try:
            self._admin("/v3/cluster/member/remove", {"ID": str(member)}, avoid=node)
        except EtcdError as exc:
            if "unhealthy cluster" in str(exc):  # --strict-reconfig-check: not while a member is behind
                raise FaultRefused(str(exc)) from exc
            raise
        self.removed.add(node)
        self.servers[node].kill()
        shutil.rmtree(self.workdir / node, ignore_errors=True)

    def add_member(self, node: str, *, patience: float = 15.0) -> None:
        """Add ``node`` back as a new member (``member add``, a fresh id and empty data) and start it.

        Right after a removal etcd may refuse the addition as ``unhealthy cluster`` (its strict
        reconfiguration check wants the members that remain connected to a quorum for a while first; on a
        loaded machine that takes longer): asked again every half second for up to ``patience`` seconds."""
        if node not in self.removed:
            return
        proxy = self.peer_proxies[node]
        deadline = time.monotonic() + patience
        while True:
            try:
                answer = self._admin("/v3/cluster/member/add", {"peerURLs": [f"http://127.0.0.1:{proxy.port}"]},
                                     avoid=node)
                break
            except EtcdError as exc:
                if "unhealthy cluster" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)
        self.member_ids[node] = format(int(answer["member"]["ID"]), "x")
        self.removed.discard(node)
        self._routes()
        self.servers[node] = self._member(node, NODES, "existing")
        self.servers[node].start(wait=False)
        self.wait_restarted(node)

    def wait_recovered(self, timeout: float = 30.0) -> bool:
        for node in sorted(self.removed):
            try:
                self.add_member(node)
            except (OSError, EtcdError, ServerError):
                return False
        return super().wait_recovered(timeout)

    def _member_ids(self) -> dict[str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.client_ports[NODES[0]], timeout=10)
        try:
            members = post(conn, "/v3/cluster/member/list", {}).get("members", [])
        finally:
            conn.close()
        return {m["name"]: format(int(m["ID"]), "x") for m in members}

    def client(self, index: int) -> EtcdClient:
        return EtcdClient(self, index)

    def wait_restarted(self, node: str) -> None:
        """A restarted member serves its client port at once; it is healthy only once it reaches a quorum,
        which a partition in effect may prevent (the final heal waits for health)."""
        server, port = self._server(node), self.client_ports[node]
        deadline = time.monotonic() + 15
        while not port_open(port):
            if not server.running:
                raise ServerError(f"{node} exited during restart\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise ServerError(f"{node} did not open its client port in 15 s\n{server.log_tail()}")
            time.sleep(0.05)

    def leader(self) -> str | None:
        """The member the first answering member names as leader (``/v3/maintenance/status``)."""
        names = {int(i, 16): name for name, i in self.member_ids.items()}
        for node in NODES:
            server = self.servers.get(node)
            if server is None or not server.running or server.paused:
                continue
            conn = http.client.HTTPConnection("127.0.0.1", self.client_ports[node], timeout=0.5)
            try:
                leader = int(post(conn, "/v3/maintenance/status", {}).get("leader", 0))
            except (OSError, http.client.HTTPException, EtcdError, ValueError):
                continue
            finally:
                conn.close()
            if leader in names:
                return names[leader]
        return None


class EtcdSerializableTarget(EtcdTarget):
    """The same cluster read with ``serializable: true``: stale reads must be caught."""

    name = "etcd-serializable"
    summary = "3-member etcd cluster, serializable reads from an isolated member; must be caught stale"
    serializable = True
    expected = "invalid"


class EtcdAppendTarget(EtcdTarget):
    """List-append transactions over etcd txns, compares on every key read or written."""

    name = "etcd-append"
    summary = "3-member etcd cluster, list-append transactions (guarded txns); strict-serializable"
    workload = "append"


class EtcdAppendWeakTarget(EtcdAppendTarget):
    """The weakened client: only written keys are compared at commit; must be caught."""

    name = "etcd-append-weak"
    summary = "etcd-append validating only the keys it writes (reads unguarded); must be caught (G2)"
    weak = True
    expected = "invalid"
