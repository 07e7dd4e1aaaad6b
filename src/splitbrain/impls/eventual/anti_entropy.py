"""Anti-entropy: replicas that agree eventually by exchanging their whole state with their peers.

Demers et al. ("Epidemic Algorithms for Replicated Database Maintenance", PODC 1987) combine two
mechanisms, and :class:`AntiEntropyNode` has both:

* **direct mail** — an update is sent to every other replica at once (:meth:`AntiEntropyNode.spread`).
  Cheap and fast, but a dropped message or a partitioned replica misses it for good;
* **anti-entropy** — every few ticks each replica picks a peer and the two exchange their whole state
  (push-pull: a ``Push`` with the sender's state, answered with a ``Pull`` carrying the receiver's merged
  state). This repairs whatever direct mail lost.

Demers et al. pick the partner at random, so replicas converge with probability 1 but after no fixed
time. Here each node walks its peers in turn from a random starting point (:class:`PeerRotation`): within
``n - 1`` exchanges it has pushed its state to every peer, so once faults heal and updates stop, all
replicas are equal within ``(n - 1) * max(gossip_period)`` ticks plus message delays. A check run after
a fixed settling time (``Workload.settle``) needs that bound: a random choice would fail a correct system
now and then.

A replica's state must form a join-semilattice — merging is commutative, associative and idempotent —
so that receiving a state twice, late, or out of order does no harm (the state-based replication of
Shapiro et al. 2011). Subclasses keep their state in ``self.storage`` (durable: a crash loses only the
timer; the messages in flight to it arrive after its restart) and define :meth:`snapshot` (an immutable
copy to send) and :meth:`absorb` (merge a received one in).
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from splitbrain.errors import UsageError
from splitbrain.sim import Node, Workload


class Mail(msgspec.Struct, frozen=True):
    """Direct mail: state (whole, or the part an update changed) pushed to every peer after an update."""

    state: Any


class Push(msgspec.Struct, frozen=True):
    """Anti-entropy, first half: the sender's whole state; the receiver merges it and answers with a Pull."""

    state: Any


class Pull(msgspec.Struct, frozen=True):
    """Anti-entropy, second half: the receiver's state after merging the Push."""

    state: Any


class PeerRotation:
    """A node's anti-entropy partners: its peers in turn, from a random starting point."""

    def __init__(self, node: Node) -> None:
        self.peers = node.peers
        self.turn = node.randint(0, len(self.peers) - 1) if self.peers else 0

    def next(self) -> str | None:
        """The next partner (``None`` for a node alone)."""
        if not self.peers:
            return None
        peer = self.peers[self.turn % len(self.peers)]
        self.turn += 1
        return peer


class AntiEntropyNode(Node):
    """A replica that spreads updates by direct mail and repairs them by periodic push-pull exchanges."""

    #: ticks between two exchanges started by one node, drawn uniformly from this range each time
    gossip_period: ClassVar[tuple[int, int]] = (8, 16)

    def on_start(self) -> None:
        self.partners = PeerRotation(self)
        self.set_timer(self.randint(*self.gossip_period), "anti-entropy")

    def on_timer(self, name: str) -> None:
        if name == "anti-entropy":
            peer = self.partners.next()
            if peer is not None:
                self.send(peer, Push(self.snapshot()))
            self.set_timer(self.randint(*self.gossip_period), "anti-entropy")

    def on_message(self, src: str, msg: Any) -> None:
        kind = type(msg)
        if kind is Push:
            self.absorb(msg.state)
            self.send(src, Pull(self.snapshot()))
        elif kind is Pull or kind is Mail:
            self.absorb(msg.state)

    def spread(self, state: Any) -> None:
        """Direct mail: send ``state`` to every peer."""
        self.broadcast(Mail(state))

    # -- what a subclass defines -------------------------------------------------------------------
    def snapshot(self) -> Any:
        """This replica's whole state as an immutable value (it travels in messages)."""
        raise NotImplementedError

    def absorb(self, state: Any) -> None:
        """Merge a state received from a peer (a snapshot, or the part a direct mail carries)."""
        raise NotImplementedError


def settling_time(
    node_count: int, period: tuple[int, int], delay: tuple[int, int], *, hops: int = 2, drift_ppm: int = 0
) -> int:
    """Ticks within which replicas agree once faults heal and updates stop: every node pushes to every
    peer within ``node_count - 1`` exchanges (each up to ``period[1]`` ticks of its clock apart — longer in
    virtual time on a clock that runs ``drift_ppm`` slow — the first up to a period away), and an exchange
    takes ``hops`` message delays (push and pull: two)."""
    longest = -(-period[1] * 1_000_000 // (1_000_000 - drift_ppm))
    return max(1, node_count - 1) * longest + hops * delay[1]


def require_settling(workload: Workload, period: tuple[int, int], *, hops: int = 2) -> None:
    """Refuse a workload whose ``settle`` is too short for its replicas to agree under its faults' clock
    drift (the final reads would then report a correct system as not converged)."""
    needed = settling_time(
        workload.node_count, period, workload.delay, hops=hops, drift_ppm=workload.faults.max_drift_ppm
    )
    if workload.settle < needed:
        raise UsageError(
            f"workload {workload.name}: settle={workload.settle} ticks is too short for {workload.node_count} "
            f"nodes to converge by anti-entropy; use settle >= {needed}"
        )
