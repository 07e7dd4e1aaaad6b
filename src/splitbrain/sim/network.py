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
are never cut, dropped or duplicated: the nemesis acts between nodes, as in Jepsen. A node that crashes
loses only the client requests in flight to it (:meth:`Network.drop_to`); the others wait for its next
incarnation.

The network also keeps the messages sorted by *when*, for the world to list the deliverable ones without
looking at every message at every step: the *due* messages (``deliver_at`` reached) in creation order,
and the others in a heap by ``deliver_at``. Time moves only when the world advances it
(:meth:`Network.advance`), which moves the messages that came due; a send, a removal or a delay updates
both at once. (A heap entry whose message has gone, or been delayed since, is dropped when it surfaces.)
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from heapq import heappop, heappush
from itertools import islice
from typing import Any

import msgspec

from splitbrain.sim.vclock import VectorClock

__all__ = [
    "Message",
    "Network",
    "NodeMessages",
    "cuts_between",
    "cuts_one_way",
]


class Message(msgspec.Struct):
    """A message in flight. ``client`` marks client requests and replies (never faulted).

    A struct rather than a dataclass: the simulator makes one per send, and a struct is built in C.
    """

    id: str
    src: str
    dst: str
    payload: Any
    sent_at: int
    deliver_at: int
    vclock: VectorClock
    client: bool = False
    copy_of: str | None = None
    #: ``(src, dst)``, one shared tuple per link
    link: tuple[str, str] = ("", "")
    #: the message's rank in creation order (a network-wide count)
    seq: int = 0


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


class NodeMessages(Sequence[str]):
    """The ids of the node-to-node messages in flight, in creation order, as a live view (what a message
    fault may hit): its length and membership cost nothing; indexing walks to the position."""

    __slots__ = ("_messages",)

    def __init__(self, messages: dict[str, Message]) -> None:
        self._messages = messages

    def __len__(self) -> int:
        return len(self._messages)

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._messages

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return list(self._messages)[index]
        if index < 0:
            index += len(self._messages)
        if not 0 <= index < len(self._messages):
            raise IndexError("message index out of range")
        return next(islice(iter(self._messages), index, None))

    def __iter__(self) -> Iterator[str]:
        return iter(self._messages)


class Network:
    """The messages in flight (in creation order) and the current cut links."""

    def __init__(self) -> None:
        self.in_flight: dict[str, Message] = {}  # insertion order is creation order
        #: the node-to-node messages among them (what message faults act on), in the same order
        self.between_nodes: dict[str, Message] = {}
        self.node_messages = NodeMessages(self.between_nodes)
        self.cuts: frozenset[tuple[str, str]] = frozenset()
        self.now = 0
        #: per link (src, dst): [the names' prefix "src>dst#", the link tuple shared by its messages, messages
        #: named so far]
        self._links: dict[tuple[str, str], list[Any]] = {}
        self._seq = 0
        # the due messages, in creation order: their seqs (sorted) and, alongside, their ids
        self._due_seqs: list[int] = []
        self.due: list[str] = []
        #: counts the changes of ``due`` (a reader that copied it knows whether its copy still holds)
        self.due_changes = 0
        # the others: (deliver_at, seq, id), a heap; an entry whose message is gone or moved is stale
        self._pending: list[tuple[int, int, str]] = []
        #: how many stale entries the heap holds (each counted when made, uncounted when dropped): while none,
        #: its top is the next deadline as it stands (what the world asks at every step)
        self.stale = 0
        #: keep ``due`` and the heap (a world whose links are FIFO reads neither: it looks at link heads)
        self.track = True

    # -- the due messages and the next deadline ------------------------------------------------------
    def _enter(self, msg: Message) -> None:
        if not self.track:
            return
        if msg.deliver_at <= self.now:
            i = bisect_left(self._due_seqs, msg.seq)
            self._due_seqs.insert(i, msg.seq)
            self.due.insert(i, msg.id)
            self.due_changes += 1
        else:
            heappush(self._pending, (msg.deliver_at, msg.seq, msg.id))

    def _leave(self, msg: Message) -> None:
        if not self.track:
            return
        seqs = self._due_seqs
        i = bisect_left(seqs, msg.seq)
        if i < len(seqs) and seqs[i] == msg.seq:
            del seqs[i]
            del self.due[i]
            self.due_changes += 1

    def advance(self, now: int) -> None:
        """Time is ``now``: the messages whose time came are due."""
        self.now = now
        pending = self._pending
        if not self.track or not pending or pending[0][0] > now:
            return
        in_flight, seqs, due = self.in_flight, self._due_seqs, self.due
        while pending and pending[0][0] <= now:
            deliver_at, seq, msg_id = heappop(pending)
            msg = in_flight.get(msg_id)
            if msg is not None and msg.deliver_at == deliver_at:
                # _enter, inline (every advance step comes here): the message is due, its seq is the entry's
                i = bisect_left(seqs, seq)
                seqs.insert(i, seq)
                due.insert(i, msg_id)
                self.due_changes += 1
            else:
                self.stale -= 1

    def next_due(self) -> int | None:
        """The earliest ``deliver_at`` of a message not yet due, if any."""
        pending, in_flight = self._pending, self.in_flight
        while pending:
            deliver_at, _, msg_id = pending[0]
            msg = in_flight.get(msg_id)
            if msg is not None and msg.deliver_at == deliver_at:
                return deliver_at
            heappop(pending)
            self.stale -= 1
        return None

    # -- messages -----------------------------------------------------------------------------------
    def _link(self, src: str, dst: str) -> list[Any]:
        key = (src, dst)
        found = self._links.get(key)
        if found is None:
            found = self._links[key] = [f"{src}>{dst}#", key, 0]
        return found

    def _name(self, src: str, dst: str) -> str:
        link = self._link(src, dst)
        link[2] += 1
        return link[0] + str(link[2])

    def send(
        self, src: str, dst: str, payload: Any, *, now: int, delay: int, vclock: VectorClock,
        client: bool = False, reachable: bool = True,
    ) -> tuple[Message, bool]:
        """Create a message named after its link; returns it and whether it is in flight (else lost)."""
        return self.post(src, dst, payload, now, delay, vclock, client, reachable)

    def post(
        self, src: str, dst: str, payload: Any, now: int, delay: int, vclock: VectorClock, client: bool,
        reachable: bool,
    ) -> tuple[Message, bool]:
        """:meth:`send` with positional arguments (the simulator's hot path)."""
        found = self._links.get((src, dst)) or self._link(src, dst)
        n = found[2] = found[2] + 1
        name = found[0] + str(n)
        link = found[1]
        seq = self._seq = self._seq + 1
        msg = Message(name, src, dst, payload, now, now + delay, vclock, client, None, link, seq)
        if not reachable or (not client and self.cuts and link in self.cuts):
            return msg, False
        self.in_flight[name] = msg
        if not client:
            self.between_nodes[name] = msg
        if not self.track:
            pass
        elif now + delay <= self.now:
            self._enter(msg)
        else:
            heappush(self._pending, (now + delay, seq, name))
        return msg, True

    def pop(self, msg_id: str) -> Message:
        msg = self.in_flight.pop(msg_id)
        if not msg.client:
            del self.between_nodes[msg_id]
        if self.track:
            if msg.deliver_at > self.now:  # not due: its heap entry stays behind, stale
                self.stale += 1
            self._leave(msg)
        return msg

    def duplicate(self, msg_id: str, *, now: int, delay: int) -> Message:
        """A copy of message ``msg_id`` with a new name and its own delay; both may be delivered."""
        orig = self.in_flight[msg_id]
        self._seq += 1
        copy = Message(
            self._name(orig.src, orig.dst), orig.src, orig.dst, orig.payload, now, now + delay, orig.vclock,
            orig.client, orig.id, orig.link, self._seq,
        )
        self.in_flight[copy.id] = copy
        if not copy.client:
            self.between_nodes[copy.id] = copy
        self._enter(copy)
        return copy

    def delay(self, msg_id: str, *, now: int, extra: int) -> None:
        msg = self.in_flight[msg_id]
        if self.track and msg.deliver_at > self.now:  # not due: its heap entry goes stale
            self.stale += 1
        self._leave(msg)
        msg.deliver_at = max(msg.deliver_at, now) + extra
        self._enter(msg)

    def set_cuts(self, cuts: frozenset[tuple[str, str]]) -> list[str]:
        """Replace the cut links; returns the ids of node messages in flight over a newly cut link."""
        self.cuts = cuts
        lost = [m.id for m in self.between_nodes.values() if (m.src, m.dst) in cuts]
        for msg_id in lost:
            self.pop(msg_id)
        return lost

    def drop_to(self, node: str, *, between_nodes: bool = True) -> list[str]:
        """Lose the messages in flight to ``node`` (it went down): the client requests it had not read, and
        the messages from other nodes too unless ``between_nodes`` is false; returns their ids."""
        lost = [m.id for m in self.in_flight.values() if m.dst == node and (between_nodes or m.client)]
        for msg_id in lost:
            self.pop(msg_id)
        return lost

    def sorted_cuts(self) -> list[tuple[str, str]]:
        return sorted(self.cuts)
