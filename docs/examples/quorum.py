"""A register replicated on every node, after Attiya, Bar-Noy and Dolev (1995): any node coordinates a
request in two rounds, each answered by a majority of the nodes."""

from splitbrain import ClientOp, Node, Workload

NOTHING = ((0, 0), None)  # (stamp, value) before any write; a stamp is (counter, request id of the write)


class Replica(Node):
    def on_start(self):
        self.storage.setdefault("copy", NOTHING)  # durable: survives a crash
        self.rounds = {}  # in memory, lost on a crash: request id -> the round in progress

    def on_client(self, request):
        if request.f not in ("read", "write"):
            self.fail(request, f"unknown operation {request.f!r}")
            return
        self.rounds[request.id] = {"request": request, "phase": "query", "answers": {}}
        self.send_phase(request.id)
        self.set_timer(20, f"retry {request.id}")

    def send_phase(self, rid):
        """Send the round's current phase to every node (this one too) that has not answered it."""
        rnd = self.rounds[rid]
        for node in self.nodes:
            if node not in rnd["answers"]:
                if rnd["phase"] == "query":
                    self.send(node, ("query", rid))
                else:
                    self.send(node, ("store", rid, rnd["copy"]))

    def on_timer(self, name):
        rid = int(name.split()[1])
        if rid in self.rounds:  # messages get lost: ask again until a majority answers
            self.send_phase(rid)
            self.set_timer(20, name)

    def on_message(self, src, msg):
        kind, rid, *body = msg
        if kind == "query":  # as a replica: report my copy
            self.send(src, ("copy", rid, self.storage["copy"]))
        elif kind == "store":  # as a replica: keep the newer copy
            if body[0][0] > self.storage["copy"][0]:
                self.storage["copy"] = body[0]
            self.send(src, ("stored", rid))
        elif rid in self.rounds:  # as the coordinator: an answer to one of my rounds
            self.answered(rid, src, kind, body)

    def answered(self, rid, src, kind, body):
        rnd = self.rounds[rid]
        if kind != ("copy" if rnd["phase"] == "query" else "stored"):
            return  # a late answer to the phase before
        rnd["answers"][src] = body
        if len(rnd["answers"]) <= len(self.nodes) // 2:
            return  # not a majority yet
        request = rnd["request"]
        if rnd["phase"] == "query":
            # the newest copy a majority knows; a write goes one stamp further
            stamp, value = max((copy for (copy,) in rnd["answers"].values()), key=lambda copy: copy[0])
            if request.f == "write":
                stamp, value = (stamp[0] + 1, request.id), request.value
            rnd.update(phase="store", copy=(stamp, value), answers={})
            self.send_phase(rid)  # a read stores what it is about to return, too
        else:
            del self.rounds[rid]
            self.cancel_timer(f"retry {rid}")
            self.reply(request, rnd["copy"][1] if request.f == "read" else None)


class Volatile(Replica):
    """The bug: the copy lives in a plain dict, which a crash wipes, instead of in self.storage."""

    def on_start(self):
        super().on_start()
        self.storage = {"copy": NOTHING}


class LocalRead(Replica):
    """The bug: a read answers from this node's own copy, without asking a majority."""

    def on_client(self, request):
        if request.f == "read":
            self.reply(request, self.storage["copy"][1])
        else:
            super().on_client(request)


class QuorumWorkload(Workload):
    name = "quorum-register"
    model = "register"
    variants = {"correct": Replica, "volatile": Volatile, "local-read": LocalRead}

    def generate(self, rand, process):
        if rand.randint(0, 1):
            return ClientOp("write", rand.randint(1, 9))
        return ClientOp("read")


workload = QuorumWorkload()
