"""A counter behind a front end, for the bounded-search tests: ``n1`` takes the clients' requests and
keeps the count on ``n2``. The correct version sends each ``add`` to ``n2`` as one message; the bug,
``read-modify-write``, reads the count from ``n2`` and writes back the sum, so two adds that interleave
lose one (a lost update: both read 0, both write 1); ``counts-duplicates`` adds a duplicated ``add``
message twice. Clients ``c0`` and ``c1`` add, ``c2`` reads; duplicated
messages are tolerated (a reply already sent is not sent again)."""

from __future__ import annotations

from typing import Any

from splitbrain import ClientOp, Node, Workload
from splitbrain.sim import Rand, Request


class Frontend(Node):
    def on_start(self) -> None:
        self.pending: dict[int, Request] = {}
        self.tags = 0

    def on_client(self, request: Request) -> None:
        if self.id != "n1":
            self.redirect(request, "n1")
            return
        self.tags += 1
        self.pending[self.tags] = request
        self.forward(self.tags, request)

    def forward(self, tag: int, request: Request) -> None:
        if request.f == "add":
            self.send("n2", ("add", tag, request.value))
        else:
            self.send("n2", ("get", tag, None))

    def on_message(self, src: str, msg: Any) -> None:
        kind, tag, value = msg
        if kind == "add":  # at n2: one atomic step, once per request (a duplicated message is not added twice)
            applied = self.storage.setdefault("applied", set())
            if tag not in applied:
                applied.add(tag)
                self.storage["n"] = self.storage.get("n", 0) + value
            self.send(src, ("done", tag, None))
        elif kind == "get":
            self.send(src, ("value", tag, self.storage.get("n", 0)))
        elif kind == "put":
            self.storage["n"] = value
            self.send(src, ("done", tag, None))
        elif kind == "value" and tag in self.pending:
            request = self.pending[tag]
            if request.f == "read":
                self.reply(self.pending.pop(tag), value)
            else:
                self.send("n2", ("put", tag, value + request.value))
        elif kind == "done" and tag in self.pending:
            self.reply(self.pending.pop(tag), None)


class CountsDuplicates(Frontend):
    def on_message(self, src: str, msg: Any) -> None:
        kind, tag, value = msg
        if kind == "add":  # the bug: a duplicated add message is added again
            self.storage["n"] = self.storage.get("n", 0) + value
            self.send(src, ("done", tag, None))
        else:
            super().on_message(src, msg)


class ReadModifyWrite(Frontend):
    def forward(self, tag: int, request: Request) -> None:
        self.send("n2", ("get", tag, None))  # the bug: an add as a read, then a write of the sum


class CounterWorkload(Workload):
    name = "frontend-counter"
    model = "counter"
    variants = {"correct": Frontend, "read-modify-write": ReadModifyWrite, "counts-duplicates": CountsDuplicates}
    node_count = 2
    clients = 3
    max_steps = 60

    def choose_node(self, rand: Rand, nodes: Any, process: int) -> str:
        return "n1"

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("read") if process % 3 == 2 else ClientOp("add", 1)


workload = CounterWorkload()
