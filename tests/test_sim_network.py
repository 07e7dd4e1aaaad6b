"""The network's bookkeeping of when messages come due: the due list, the heap of the others, and the count
of heap entries left stale by a message that went or moved before it came due (the world reads the heap's
top without checking it while there are none)."""

from __future__ import annotations

from splitbrain.sim.network import Network
from splitbrain.sim.vclock import VectorClock


def _post(net: Network, src: str, dst: str, delay: int) -> str:
    msg, _ = net.post(src, dst, "x", net.now, delay, VectorClock(), False, True)
    return msg.id


def _stale_entries(net: Network) -> int:
    return sum(1 for at, _, mid in net._pending if (m := net.in_flight.get(mid)) is None or m.deliver_at != at)


def test_a_message_gone_or_moved_before_it_is_due_leaves_a_counted_stale_entry() -> None:
    net = Network()
    first, second, third = _post(net, "n1", "n2", 5), _post(net, "n1", "n3", 7), _post(net, "n2", "n3", 9)
    assert net.stale == 0
    net.pop(first)  # dropped in flight
    net.delay(second, now=net.now, extra=10)  # its old entry goes stale, a new one is pushed
    assert net.stale == _stale_entries(net) == 2
    net.advance(6)  # drops the stale entry of the first on the way
    assert net.due == [] and net.stale == _stale_entries(net) == 1
    assert net.next_due() == 9  # drops the second's old entry, at the top
    assert net.stale == _stale_entries(net) == 0
    net.advance(17)
    assert net.due == [second, third]  # in the order they were sent


def test_a_due_message_leaves_nothing_stale() -> None:
    net = Network()
    msg = _post(net, "n1", "n2", 3)
    net.advance(3)
    net.pop(msg)  # delivered once due: its entry left the heap when it came due
    net.delay(_post(net, "n1", "n2", 0), now=net.now, extra=2)  # due at once, then delayed
    assert net.stale == _stale_entries(net) == 0


def test_the_world_counts_at_least_every_stale_timer_entry() -> None:
    """Timers re-set, cancelled and set back to an old deadline: never fewer counted than there are."""
    from splitbrain.sim import Node, Workload, World

    class Resetter(Node):
        def on_start(self) -> None:
            self.set_timer(10, "a")
            self.set_timer(20, "a")  # the entry for 10 goes stale
            self.set_timer(10, "a")  # ... and comes back to life
            self.set_timer(5, "b")
            self.cancel_timer("b")

        def on_timer(self, name: str) -> None:
            if self.now() < 40:
                self.set_timer(7, name)

    class Resets(Workload):
        name = "resets"
        model = "register"
        variants = {"correct": Resetter}
        node_count = 2
        clients = 0

    world = World(Resets(), seed=1, max_steps=30)
    world.start()
    for _ in range(30):
        stale = sum(1 for at, key in world._timer_heap if world._timers.get(key) != at)
        assert world._timer_stale >= stale
        events = world.enabled()
        if not len(events):
            break
        world.step(events[0][0])
