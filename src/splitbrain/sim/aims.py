"""Aimed faults: a fault a test or workload points at a role or an event, fired as an explicit step.

Drawn faults land on random nodes at random moments; some bugs need one precise moment — the primary
crashing right after it acknowledges a write, the leader partitioned away as soon as there is one.
Jepsen targets its nemeses at roles (``:primaries``, ``:minority``) through the database's ``primaries``
function; detangle and simloom let a test call ``crash``/``partition`` at a chosen moment. Here an
:class:`Aim` says *what* (a fault), *at whom* (a node, a role of ``Workload.roles``, or the node of the
event) and *when* (a :class:`Trigger`), e.g.::

    Aim("crash", "replier", after_reply(f="write"))          # the node that just acknowledged a write
    Aim("isolate", "leader", when_role("leader"))             # partition the leader away once there is one
    Aim("power-loss", "sender", after_send(kind=Vote))        # right after a node sends a vote
    Aim("drop", "message", after_send(kind="Append", src="n1"))  # lose that very message
    Aim("restart", "n2", at(300))
    Aim("cross", "sender", after_role_change("leader"))      # the last voter of a new leader changes sides

Pass them as ``World(..., aims=[...])`` or ``Workload.aims``. After every step of the run phase (and
after the start), each armed aim's trigger is checked; one that holds and whose target can take the
fault now fires, as the very next step, recorded like a drawn fault of its kind (``crash n2``, a
``partition`` with its groups) plus the aim's name. That is what keeps schedules replayable and
shrinkable: a replay follows the recorded step (it does not evaluate the aims again), and shrinking may
remove it like any other step. An aimed fault ignores the fault budget, ``max_down`` and the kinds the
:class:`~splitbrain.sim.FaultConfig` allows — the test asked for it; recoveries (``restart``,
``resume``, ``heal``) still come from the configuration, from other aims, or from the quiesce phase.

Faults: ``crash``, ``power-loss``, ``restart``, ``pause``, ``resume``, ``skew`` (``params``: ``skew``,
``drift``), ``isolate`` (the target alone on one side: a ``partition`` step), ``partition`` (``params``:
``groups``, lists of node ids or role names), ``cross`` (the target leaves its side of the current
partition for the largest side it is cut off from, as a ``partition`` step; with no partition, or alone on
its side, the aim waits), ``heal``, and ``drop``/``duplicate``/``delay`` (``params``: ``delay``) of the
messages an :func:`after_send` trigger matched (target ``"message"``): each matching message of the step,
while ``times`` lasts.

Targets: a node id, a role name, ``"sender"``/``"receiver"`` (of the matched message), ``"replier"``
(the node that answered the client), ``"message"`` (for message faults), or ``fn(world) -> node | None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from splitbrain.errors import UsageError

if TYPE_CHECKING:
    from splitbrain.sim.network import Message
    from splitbrain.sim.world import World

__all__ = [
    "AIM_FAULTS",
    "Aim",
    "Event",
    "Trigger",
    "after_deliver",
    "after_reply",
    "after_role_change",
    "after_send",
    "at",
    "when",
    "when_role",
]

#: the faults an aim can fire
AIM_FAULTS: tuple[str, ...] = (
    "crash", "power-loss", "restart", "pause", "resume", "skew", "isolate", "partition", "cross", "heal",
    "drop", "duplicate", "delay",
)
_MESSAGE_FAULTS = frozenset({"drop", "duplicate", "delay"})
_NO_TARGET = frozenset({"partition", "heal"})


@dataclass(frozen=True)
class Event:
    """What the last step did, as triggers see it: the messages it sent (node and client ones, lost ones
    included), and the message it delivered, if any. A trigger that matched one keeps it in
    ``matched`` for the target (``"sender"``, ``"message"``…)."""

    step: int
    sent: Sequence[Message]
    delivered: Message | None
    matched: Message | None = None


class Trigger:
    """When an aim fires: ``fires(world, event)`` returns the event (with the message it matched, if
    any) when the condition holds after a step, else ``None``. Combine two with ``&``."""

    def fires(self, world: World, event: Event) -> Event | None:
        raise NotImplementedError

    def deadline(self) -> int | None:
        """A time the world should stop at so the trigger can fire exactly then (``at``); else ``None``."""
        return None

    def __and__(self, other: Trigger) -> Trigger:
        return _Both(self, other)


@dataclass(frozen=True)
class _Both(Trigger):
    left: Trigger
    right: Trigger

    def fires(self, world: World, event: Event) -> Event | None:
        first = self.left.fires(world, event)
        if first is None:
            return None
        second = self.right.fires(world, first)
        return second

    def deadline(self) -> int | None:
        return self.left.deadline() or self.right.deadline()

    def __repr__(self) -> str:
        return f"{self.left!r} & {self.right!r}"


@dataclass(frozen=True)
class _At(Trigger):
    time: int

    def fires(self, world: World, event: Event) -> Event | None:
        return event if world.time >= self.time else None

    def deadline(self) -> int | None:
        return self.time

    def __repr__(self) -> str:
        return f"at({self.time})"


@dataclass(frozen=True)
class _When(Trigger):
    predicate: Callable[[World], bool]
    label: str

    def fires(self, world: World, event: Event) -> Event | None:
        return event if self.predicate(world) else None

    def __repr__(self) -> str:
        return self.label


def _kind_matches(kind: Any, payload: Any) -> bool:
    if kind is None:
        return True
    if isinstance(kind, type):
        return isinstance(payload, kind)
    if isinstance(kind, str):
        return type(payload).__name__ == kind or (isinstance(payload, tuple) and bool(payload)
                                                  and payload[0] == kind)
    return bool(kind(payload))


@dataclass(frozen=True)
class _Sent(Trigger):
    kind: Any
    src: str | None
    dst: str | None
    clients: bool

    def fires(self, world: World, event: Event) -> Event | None:
        for msg in event.sent:
            if msg.client != self.clients or (self.src is not None and msg.src != self.src):
                continue
            if self.dst is not None and msg.dst != self.dst:
                continue
            if _kind_matches(self.kind, msg.payload):
                return Event(event.step, event.sent, event.delivered, msg)
        return None

    def __repr__(self) -> str:
        return f"after_send(kind={self.kind!r}, src={self.src!r}, dst={self.dst!r})"


@dataclass(frozen=True)
class _Delivered(Trigger):
    kind: Any
    dst: str | None
    src: str | None

    def fires(self, world: World, event: Event) -> Event | None:
        msg = event.delivered
        if msg is None or msg.client or (self.dst is not None and msg.dst != self.dst):
            return None
        if (self.src is not None and msg.src != self.src) or not _kind_matches(self.kind, msg.payload):
            return None
        return Event(event.step, event.sent, event.delivered, msg)

    def __repr__(self) -> str:
        return f"after_deliver(kind={self.kind!r}, dst={self.dst!r})"


@dataclass(frozen=True)
class _Replied(Trigger):
    f: str | None
    node: str | None
    result: str

    def fires(self, world: World, event: Event) -> Event | None:
        for msg in event.sent:
            reply = msg.payload
            if not msg.client or getattr(reply, "kind", None) != self.result or msg.src not in world.node_ids:
                continue
            if self.node is not None and msg.src != self.node:
                continue
            if self.f is not None and world.request_f(msg.dst, reply.request) != self.f:
                continue
            return Event(event.step, event.sent, event.delivered, msg)
        return None

    def __repr__(self) -> str:
        return f"after_reply(f={self.f!r}, node={self.node!r}, result={self.result!r})"


@dataclass(frozen=True)
class _RoleChanged(Trigger):
    role: str
    #: where the holder after the last step is noted on the world (so each run starts afresh)
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"_aims_role_{self.role}_{id(self)}")

    def fires(self, world: World, event: Event) -> Event | None:
        # checked at every step, since a change is only seen by comparing with the step before
        key = self.key
        now = world.role(self.role)
        before = world.__dict__.get(key)
        world.__dict__[key] = now
        msg = event.delivered
        if msg is None or msg.client or now is None or now == before:
            return None
        return Event(event.step, event.sent, event.delivered, msg)

    def __repr__(self) -> str:
        return f"after_role_change({self.role!r})"


def at(time: int) -> Trigger:
    """Once virtual time reaches ``time`` (the world stops there even if nothing else is due)."""
    if not isinstance(time, int) or time < 0:
        raise UsageError(f"at(time): time must be an int >= 0 (ticks), got {time!r}")
    return _At(time)


def when(predicate: Callable[[World], bool], label: str | None = None) -> Trigger:
    """Whenever ``predicate(world)`` is true after a step."""
    return _When(predicate, label or f"when({getattr(predicate, '__name__', 'predicate')})")


def when_role(role: str) -> Trigger:
    """Once some node plays ``role`` (``Workload.roles``), e.g. ``when_role("leader")``."""
    return _When(lambda world: world.role(role) is not None, f"when_role({role!r})")


def after_send(kind: Any = None, *, src: str | None = None, dst: str | None = None) -> Trigger:
    """Right after a step in which node ``src`` (any, if ``None``) sent a node message of ``kind`` to
    ``dst``: ``kind`` is a class (``isinstance``), a class name or a tuple's first item (``"Append"``), or
    a predicate on the payload. Targets ``"sender"``, ``"receiver"`` and ``"message"`` refer to it."""
    return _Sent(kind, src, dst, clients=False)


def after_deliver(kind: Any = None, *, dst: str | None = None, src: str | None = None) -> Trigger:
    """Right after node ``dst`` (any, if ``None``) handled a message of ``kind`` (as for
    :func:`after_send`)."""
    return _Delivered(kind, dst, src)


def after_role_change(role: str) -> Trigger:
    """Right after a delivered node message made another node play ``role`` (``Workload.roles``): the vote
    that elected a new leader. Target ``"sender"`` is the node whose message decided it — the kingmaker,
    the one voter without whom the new leader would not lead — and ``"receiver"`` the new holder. Put it
    first in an ``&``: it must see every step to notice a change."""
    return _RoleChanged(role)


def after_reply(f: str | None = None, *, node: str | None = None, result: str = "ok") -> Trigger:
    """Right after a node answered a client's operation ``f`` (any, if ``None``) with ``result`` (``ok``:
    an acknowledgement). Target ``"replier"`` is that node."""
    return _Replied(f, node, result)


@dataclass(frozen=True)
class Aim:
    """A fault aimed at ``target`` when ``when`` fires, at most ``times`` times (see the module docs)."""

    fault: str
    target: str | Callable[[World], str | None] | None = None
    when: Trigger = field(default_factory=lambda: _At(0))
    params: Mapping[str, Any] = field(default_factory=dict)
    times: int = 1
    name: str | None = None

    def __post_init__(self) -> None:
        if self.fault not in AIM_FAULTS:
            raise UsageError(f"Aim: unknown fault {self.fault!r} (aimable: {', '.join(AIM_FAULTS)})")
        if not isinstance(self.when, Trigger):
            raise UsageError(f"Aim: when must be a Trigger (at, when, after_send, ...), got {self.when!r}")
        if self.target is None and self.fault not in _NO_TARGET:
            raise UsageError(f"Aim({self.fault!r}) needs a target: a node id, a role name or a function")
        if self.fault in _MESSAGE_FAULTS and self.target != "message":
            raise UsageError(f"Aim({self.fault!r}) acts on the message an after_send trigger matched: "
                             "give target='message'")
        if self.fault == "partition" and "groups" not in self.params:
            raise UsageError("Aim('partition') needs params={'groups': [[...], [...]]} (node ids or roles)")
        if not isinstance(self.times, int) or self.times < 1:
            raise UsageError(f"Aim: times must be an int >= 1, got {self.times!r}")

    @property
    def label(self) -> str:
        """The name a trace records: ``name``, else ``fault target``."""
        if self.name:
            return self.name
        target = getattr(self.target, "__name__", self.target)
        return f"{self.fault} {target}" if target is not None else self.fault
