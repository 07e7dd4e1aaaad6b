"""etcd targets: a 3-member cluster on loopback, used as a CAS register over the v3 JSON gateway.

Each member (``etcd`` from the Debian package ``etcd-server``) has its own data directory, client port
and peer port. Members reach each other only through a :class:`~splitbrain.live.proxy.FaultProxy` in
front of each peer port (the advertised peer URLs are the proxies'). etcd names the sending member in an
``X-Server-From`` header on every peer request, so each proxy knows which peer opened a connection and
``isolate(n)`` blackholes exactly the paths between ``n`` and the others, both ways: a real partition.

Clients talk HTTP/JSON to the gRPC gateway on each member's client port (``/v3/kv/range``, ``/v3/kv/put``,
``/v3/kv/txn``; keys and values base64-encoded). ``read`` is a range, ``write`` a put, ``cas`` a txn that
compares the value and puts on success (a failed comparison is a definite ``fail``).

``etcd`` — linearizable reads (the default): must check valid under pause, kill and partitions. Client
thread ``i`` talks to member ``i mod 3``.

``etcd-serializable`` — reads with ``serializable: true`` are answered from the member's local state
without consulting a quorum. While a member is isolated, writes go to the majority and the even-numbered
clients read from the isolated member, which can only serve values the majority has since overwritten:
the checker must say *not linearizable*.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
from typing import Any

from splitbrain.histories.recorder import DefiniteFailure
from splitbrain.live.processes import ServerProcess, free_port
from splitbrain.live.proxy import FaultProxy, http_header_source
from splitbrain.live.target import Target

__all__ = [
    "KEY",
    "NODES",
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

    def invoke(self, f: str, value: Any, node: str) -> Any:
        conn = self._conns.get(node)
        if conn is None:
            port = self.target.client_ports[node]
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.target.timeout)
            self._conns[node] = conn
        try:
            return self._register_op(conn, f, value)
        except (OSError, http.client.HTTPException):
            conn.close()  # unknown state: start a fresh connection next time
            del self._conns[node]
            raise

    def _register_op(self, conn: http.client.HTTPConnection, f: str, value: Any) -> Any:
        key = _b64(KEY)
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
    summary = "3-member etcd cluster, linearizable reads; must check valid under pause, kill, partition"
    faults = frozenset({"pause", "kill", "partition"})
    requires = (("etcd", "etcd-server"),)
    serializable = False

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

    def launch(self) -> None:
        binary = self.check_installed()["etcd"]
        peer_ports = {n: free_port() for n in NODES}
        self.client_ports = {n: free_port() for n in NODES}
        classify = http_header_source("X-Server-From")
        for n in NODES:
            proxy = FaultProxy(peer_ports[n], name=f"{n}-peer", classify=classify).start()
            self.proxies.append(proxy)
            self.peer_proxies[n] = proxy
        cluster = ",".join(f"{n}=http://127.0.0.1:{self.peer_proxies[n].port}" for n in NODES)
        token = f"splitbrain-{self.workdir.name}"
        for n in NODES:
            client = self.client_ports[n]
            argv = [
                binary, "--name", n, "--data-dir", str(self.workdir / n),
                "--listen-client-urls", f"http://127.0.0.1:{client}",
                "--advertise-client-urls", f"http://127.0.0.1:{client}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer_ports[n]}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_proxies[n].port}",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", token,
                "--heartbeat-interval", str(self.heartbeat_ms), "--election-timeout", str(self.election_ms),
                "--logger", "zap", "--log-outputs", "stderr",
            ]
            self.servers[n] = ServerProcess(
                n, argv, log=self.logdir / f"{n}.log", env={"PATH": "/usr/bin:/bin"},
                ready=functools.partial(_healthy, client), start_timeout=30.0,
            )
        for server in self.servers.values():
            server.start(wait=False)
        for server in self.servers.values():
            server.wait_ready()
        self.member_ids = self._member_ids()

    def _member_ids(self) -> dict[str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.client_ports[NODES[0]], timeout=10)
        try:
            members = post(conn, "/v3/cluster/member/list", {}).get("members", [])
        finally:
            conn.close()
        return {m["name"]: format(int(m["ID"]), "x") for m in members}

    def client(self, index: int) -> EtcdClient:
        return EtcdClient(self, index)

    def isolate(self, node: str) -> None:
        """Blackhole every peer path between ``node`` and the other members, in both directions."""
        self._server(node)
        self.isolated = frozenset({node})
        for other in NODES:
            if other != node:
                self.peer_proxies[node].drop(source=self.member_ids[other])
                self.peer_proxies[other].drop(source=self.member_ids[node])


class EtcdSerializableTarget(EtcdTarget):
    """The same cluster read with ``serializable: true``: stale reads must be caught."""

    name = "etcd-serializable"
    summary = "3-member etcd cluster, serializable reads from an isolated member; must be caught stale"
    serializable = True
