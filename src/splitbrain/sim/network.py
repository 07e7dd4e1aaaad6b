"""`Network`: messages in flight with stable ids, and the cut links of partitions.

Every message gets a name when it is created (dropped ones too): its link and its number on that link,
``n1>n2#3`` for the third message n1 sent n2. A trace names messages this way, so removing a step while
shrinking renumbers only later messages *on the same link*; a global counter would renumber every later
message in the run and make the rest of the trace mean something else. A message becomes deliverable at its
``deliver_at`` tick; which deliverable message goes next is the scheduler's choice, which is how
reordering happens. Without the ``reorder`` fault each link is FIFO: only the oldest message on a link
may be delivered.

Partitions are sets of cut directed links ``(src, dst)``, so one-way partitions are the general case. A
message sent over a cut link is lost at once, and starting a partition loses the messages in flight over
the links it cuts (iptables DROP, not a queue that flushes on heal). Client links (requests and replies)
are never cut, dropped or duplicated: the nemesis acts between nodes, as in Jepsen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from splitbrain.sim.vclock import VectorClock

__all__ = [
    "Message",
    "Network",
    "cuts_between",
    "cuts_one_way",
]


@dataclass(slots=True)
class Message:
    """A message in flight. ``client`` marks client requests and replies (never faulted)."""

    id: str
    src: str
    dst: str
    payload: Any
    sent_at: int
    deliver_at: int
    vclock: VectorClock
    client: bool = False
    copy_of: str | None = None


def cuts_between(groups: Sequence[Sequence[str]]) -> frozenset[tuple[str, str]]:
    """Both directions of every link between nodes in different groups."""
    return frozenset(
        (a, b)
        for i, left in enumerate(groups)
        for j, right in enumerate(groups)
        if i != j
        for a in left
        for b in right
    )


def cuts_one_way(sources: Iterable[str], targets: Iterable[str]) -> frozenset[tuple[str, str]]:
    """The links from every node in ``sources`` to every node in ``targets`` (replies still flow)."""
    targets = list(targets)
    return frozenset((a, b) for a in sources for b in targets if a != b)


class Network:
    """The messages in flight (in creation order) and the current cut links."""

    def __init__(self) -> None:
        self.in_flight: dict[str, Message] = {}  # insertion order is creation order
        self.cuts: frozenset[tuple[str, str]] = frozenset()
        self._link_counts: dict[tuple[str, str], int] = {}

    def _name(self, src: str, dst: str) -> str:
        n = self._link_counts.get((src, dst), 0) + 1
        self._link_counts[(src, dst)] = n
        return f"{src}>{dst}#{n}"

    def send(
        self, src: str, dst: str, payload: Any, *, now: int, delay: int, vclock: VectorClock,
        client: bool = False, reachable: bool = True,
    ) -> tuple[Message, bool]:
        """Create a message named after its link; returns it and whether it is in flight (else lost)."""
        msg = Message(self._name(src, dst), src, dst, payload, now, now + delay, vclock, client)
        if not reachable or (not client and (src, dst) in self.cuts):
            return msg, False
        self.in_flight[msg.id] = msg
        return msg, True

    def pop(self, msg_id: str) -> Message:
        return self.in_flight.pop(msg_id)

    def duplicate(self, msg_id: str, *, now: int, delay: int) -> Message:
        """A copy of message ``msg_id`` with a new name and its own delay; both may be delivered."""
        orig = self.in_flight[msg_id]
        copy = Message(
            self._name(orig.src, orig.dst), orig.src, orig.dst, orig.payload, now, now + delay, orig.vclock,
            orig.client, copy_of=orig.id,
        )
        self.in_flight[copy.id] = copy
        return copy

    def delay(self, msg_id: str, *, now: int, extra: int) -> None:
        msg = self.in_flight[msg_id]
        msg.deliver_at = max(msg.deliver_at, now) + extra

    def set_cuts(self, cuts: frozenset[tuple[str, str]]) -> list[str]:
        """Replace the cut links; returns the ids of node messages in flight over a newly cut link."""
        self.cuts = cuts
        lost = [m.id for m in self.in_flight.values() if not m.client and (m.src, m.dst) in cuts]
        for msg_id in lost:
            del self.in_flight[msg_id]
        return lost

    def drop_to(self, node: str) -> list[str]:
        """Lose every message in flight to ``node`` (it crashed); returns their ids."""
        lost = [m.id for m in self.in_flight.values() if m.dst == node]
        for msg_id in lost:
            del self.in_flight[msg_id]
        return lost

    def sorted_cuts(self) -> list[tuple[str, str]]:
        return sorted(self.cuts)
