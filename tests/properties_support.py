"""Two small systems for the liveness and reachability tests, each correct and with a planted bug.

* ``beacon``: ``n1`` leads from its start. Bug ``forgets-after-restart``: a restarted ``n1`` comes back as a
  follower, so once it has crashed nobody leads again — ``eventually(leader_up)`` fails after the heal.
* ``async-copy``: the primary ``n1`` answers a write at once and copies the value to the backups in the
  background, re-sending until each acknowledges. Bug ``send-once``: it sends the copy once, so a copy
  lost to a fault is lost for good — ``leads_to(diverged, converged)`` fails after the heal.

Importable (not defined in a test function) so that campaigns can pickle the workloads.
"""

from __future__ import annotations

from typing import Any

from splitbrain import ClientOp, Node, Workload
from splitbrain.sim import eventually, leads_to, sometimes


class Beacon(Node):
    def on_start(self) -> None:
        self.storage["boots"] = self.storage.get("boots", 0) + 1
        self.role = "leader" if self.id == "n1" and self.leads_after_boot() else "follower"

    def leads_after_boot(self) -> bool:
        return True

    def on_client(self, request: Any) -> None:
        self.reply(request, self.storage.get("value"))

    def on_message(self, src: str, msg: Any) -> None:
        pass


class ForgetsAfterRestart(Beacon):
    def leads_after_boot(self) -> bool:
        return self.storage["boots"] == 1  # the bug: only the first boot leads


def leader_up(world: Any) -> bool:
    return any(getattr(n, "role", None) == "leader" for n in world.live_nodes())


def n1_crashed(world: Any) -> bool:
    return any(step.kind == "crash" and step.node == "n1" for step in world.steps)


class BeaconWorkload(Workload):
    name = "beacon"
    model = "register"
    variants = {"correct": Beacon, "forgets-after-restart": ForgetsAfterRestart}
    max_steps = 120
    properties = (eventually(leader_up, within=50),)

    def generate(self, rand: Any, process: int) -> ClientOp:
        return ClientOp("read")


class AsyncCopy(Node):
    """Copies carry the primary's write number, so a late or duplicated copy never overwrites a newer one."""

    def on_start(self) -> None:
        # the write number each backup still has to acknowledge, kept on disk: a restarted primary resumes
        self.pending: dict[str, int] = self.storage.setdefault("pending", {})
        if self.id == "n1":
            self.set_timer(10, "resend")

    def on_client(self, request: Any) -> None:
        if self.id != "n1":
            self.redirect(request, "n1")
            return
        if request.f == "read":
            self.reply(request, self.storage.get("value"))
            return
        seq = self.storage["seq"] = self.storage.get("seq", 0) + 1
        self.storage["value"] = request.value
        self.reply(request, request.value)
        for peer in self.peers:
            self.pending[peer] = seq
            self.send(peer, ("copy", seq, request.value))

    def on_message(self, src: str, msg: Any) -> None:
        kind, seq, value = msg
        if kind == "copy":
            if seq > self.storage.get("seq", 0):
                self.storage.update(seq=seq, value=value)
            self.send(src, ("ack", seq, None))
        elif kind == "ack" and self.pending.get(src, seq + 1) <= seq:
            del self.pending[src]

    def on_timer(self, name: str) -> None:
        if self.resends():
            for peer in sorted(self.pending):
                self.send(peer, ("copy", self.storage["seq"], self.storage["value"]))
        self.set_timer(10, "resend")

    def resends(self) -> bool:
        return True


class SendOnce(AsyncCopy):
    def resends(self) -> bool:
        return False  # the bug: a lost copy is never sent again


def values(world: Any) -> list[Any]:
    return [world.storage(n).get("value") for n in world.node_ids]


def diverged(world: Any) -> bool:
    return len(set(values(world))) > 1


def converged(world: Any) -> bool:
    return not diverged(world)


def backup_behind_while_primary_down(world: Any) -> bool:
    """A situation worth reaching: the primary is down while a backup misses its latest value."""
    return world.node("n1") is None and diverged(world)


def impossible(world: Any) -> bool:
    return world.storage("n1").get("value") == "never written"


class AsyncCopyWorkload(Workload):
    name = "async-copy"
    model = "register"
    variants = {"correct": AsyncCopy, "send-once": SendOnce}
    max_steps = 150
    properties = (
        leads_to(diverged, converged, within=60),
        sometimes(backup_behind_while_primary_down),
    )

    def generate(self, rand: Any, process: int) -> ClientOp:
        if rand.randint(0, 2):
            return ClientOp("write", rand.randint(0, 9))
        return ClientOp("read")


class VacuousCopyWorkload(AsyncCopyWorkload):
    """The same system with a ``sometimes`` property no schedule can reach."""

    name = "async-copy-vacuous"
    properties = (sometimes(impossible),)


BEACON = BeaconWorkload()
ASYNC_COPY = AsyncCopyWorkload()
VACUOUS_COPY = VacuousCopyWorkload()
