"""A counter with two ways to reach a bad state, for the shortest-trace tests: ``n2``'s timer sends ``n1``
an ``inc`` every 5 ticks, and in the bug variants ``n1`` counts them; the invariant says the count stays
below 3. ``slow-leak`` has only that way (three ticks and their deliveries); ``leak`` also adds a client's
``add 3`` to the count, so an invocation and its delivery get there far sooner. A trace that found
``leak`` through the ticks shrinks to a 1-minimal trace of ticks that is not the shortest one."""

from __future__ import annotations

from typing import Any

from splitbrain import ClientOp, Node, Workload
from splitbrain.sim import FaultConfig, Rand, Request, World
from splitbrain.sim.workload import invariant


class Correct(Node):
    counts_ticks = False
    counts_adds = False

    def on_start(self) -> None:
        if self.id == "n2":
            self.set_timer(5, "tick")

    def on_timer(self, name: str) -> None:
        self.send("n1", ("inc",))
        self.set_timer(5, "tick")

    def on_message(self, src: str, msg: Any) -> None:
        if self.counts_ticks:
            self.storage["x"] = self.storage.get("x", 0) + 1

    def on_client(self, request: Request) -> None:
        if self.counts_adds:
            self.storage["x"] = self.storage.get("x", 0) + request.value
        self.reply(request, None)


class SlowLeak(Correct):
    counts_ticks = True


class Leak(Correct):
    counts_ticks = True
    counts_adds = True


@invariant(state_only=True)
def below_three(world: World) -> str | None:
    x = world.storage("n1").get("x", 0)
    return f"n1 counted {x}" if x >= 3 else None


class TickerWorkload(Workload):
    name = "ticker-counter"
    model = "counter"
    variants = {"correct": Correct, "slow-leak": SlowLeak, "leak": Leak}
    node_count = 2
    clients = 1
    max_steps = 40
    faults = FaultConfig(kinds=())
    invariants = (below_three,)

    def choose_node(self, rand: Rand, nodes: Any, process: int) -> str:
        return "n1"

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("add", 3)


workload = TickerWorkload()
