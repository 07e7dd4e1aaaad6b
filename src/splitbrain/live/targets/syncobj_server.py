"""One PySyncObj node serving replicated registers over a small TCP front end (run as a server process).

``python -m splitbrain.live.targets.syncobj_server --self ADDR --bind ADDR --partner ADDR ... --front PORT
--data DIR --reads local|leader|log`` runs a :class:`Store` — an unmodified ``pysyncobj.SyncObj`` whose
``@replicated`` methods ``write``, ``cas`` and ``read`` go through the Raft log — and answers one JSON
request per line on ``127.0.0.1:PORT``:

* ``{"f": "read"|"write"|"cas", "key": k, "value": v}`` → ``{"ok": result}``, ``{"fail": why}`` (the
  operation certainly did not happen) or ``{"info": why}`` (it may have);
* ``{"f": "status"}`` → ``{"ok": {"self", "leader", "is_leader", "ready"}}``.

Reads, by ``--reads``: ``local`` answers from this node's copy of the state, as a PySyncObj getter does
by default; ``leader`` answers locally only on a node that believes it leads (``fail`` elsewhere);
``log`` sends the read through the Raft log (a ``@replicated`` call, like a write).

Outcomes of replicated calls: a call refused because no leader is known or the queue is full
(``MISSING_LEADER``, ``QUEUE_FULL``) never entered the log: ``fail``. A timeout, or a leader change
before the commit (``NOT_LEADER``, ``LEADER_CHANGED``, ``DISCARDED``, ``UNKNOWN_OUTCOME``), may still
be committed by the next leader: ``info``. ``SIGTERM`` stops the node.

The Raft state survives a SIGKILL: the log is in ``--data``/journal (``journalFile``), snapshots in
``--data``/dump (``fullDumpFile``), and PySyncObj keeps the current term and vote in the journal.
"""

from __future__ import annotations

import argparse
import json
import signal
import socketserver
import sys
import threading
from pathlib import Path
from typing import Any

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated  # type: ignore[import-untyped]
from pysyncobj.syncobj import SyncObjException  # type: ignore[import-untyped]

__all__ = ["DEFINITE", "Store", "main", "serve"]

DEFINITE = {FAIL_REASON.MISSING_LEADER, FAIL_REASON.QUEUE_FULL}


class Store(SyncObj):
    """Registers by key, replicated by PySyncObj."""

    def __init__(self, self_address: str, partners: list[str], conf: SyncObjConf) -> None:
        self.data: dict[Any, Any] = {}  # before SyncObj.__init__, which may restore a dump over it
        super().__init__(self_address, partners, conf)

    @replicated
    def write(self, key: Any, value: Any) -> Any:
        self.data[key] = value
        return value

    @replicated
    def cas(self, key: Any, old: Any, new: Any) -> bool:
        if self.data.get(key) != old:
            return False
        self.data[key] = new
        return True

    @replicated
    def read(self, key: Any) -> Any:
        return self.data.get(key)


def serve(store: Store, request: dict[str, Any], reads: str, timeout: float) -> dict[str, Any]:
    f, key, value = request.get("f"), request.get("key"), request.get("value")
    if f == "status":
        leader = store._getLeader()
        return {"ok": {"self": store.selfNode.address, "leader": None if leader is None else leader.address,
                       "is_leader": store._isLeader(), "ready": store.isReady()}}
    try:
        if f == "read":
            if reads == "log":
                return {"ok": store.read(key, sync=True, timeout=timeout)}
            if reads == "leader" and not store._isLeader():
                leader = store._getLeader()
                return {"fail": "not the leader", "leader": None if leader is None else leader.address}
            return {"ok": store.data.get(key)}
        if f == "write":
            return {"ok": store.write(key, value, sync=True, timeout=timeout)}
        if f == "cas":
            old, new = request["value"]
            if store.cas(key, old, new, sync=True, timeout=timeout):
                return {"ok": value}
            return {"fail": f"the value was not {old}"}
    except SyncObjException as exc:
        if exc.errorCode in DEFINITE:
            return {"fail": f"refused by pysyncobj (reason {exc.errorCode})"}
        return {"info": f"pysyncobj: {exc.errorCode}"}
    return {"fail": f"unknown request {f!r}"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--self", dest="self_address", required=True)
    parser.add_argument("--bind", required=True)
    parser.add_argument("--partner", action="append", default=[])
    parser.add_argument("--front", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--reads", choices=("local", "leader", "log"), default="local")
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    conf = SyncObjConf(
        bindAddress=args.bind, journalFile=str(args.data / "journal"), fullDumpFile=str(args.data / "dump"),
        connectionRetryTime=0.3, dynamicMembershipChange=False,
    )
    store = Store(args.self_address, args.partner, conf)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                try:
                    answer = serve(store, json.loads(line), args.reads, args.timeout)
                except (ValueError, TypeError) as exc:
                    answer = {"fail": f"bad request: {exc}"}
                self.wfile.write(json.dumps(answer).encode() + b"\n")
                self.wfile.flush()

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    front = socketserver.ThreadingTCPServer(("127.0.0.1", args.front), Handler)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=front.serve_forever, daemon=True).start()
    print(f"pysyncobj node {args.self_address} serving on {args.front}", flush=True)
    stop.wait()
    front.shutdown()
    store.destroy()
    sys.exit(0)


if __name__ == "__main__":
    main()
