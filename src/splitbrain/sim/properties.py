"""Liveness and reachability properties: ``eventually``, ``leads_to`` and ``sometimes``.

Invariants (:func:`~splitbrain.sim.invariant`) say that nothing bad ever happens. Two more kinds of
property say that something good does, in the vocabulary of stateright and of TLA+ (Lamport 2002,
*Specifying Systems*, on ``<>P`` and ``P ~> Q``):

* ``eventually(predicate, within=T)`` — *liveness after healing*: once the world heals (the quiesce step:
  partitions healed, nodes restarted and resumed, no more faults), ``predicate(world)`` holds after some
  step no later than ``T`` ticks of virtual time. "A leader is elected within 500 ticks of the heal."
* ``leads_to(trigger, response, within=T)`` — after the heal, whenever ``trigger`` becomes true, ``response``
  holds no later than ``T`` ticks after. "Every write acknowledged is on all replicas within 300 ticks."
* ``sometimes(predicate)`` — *reachability*: some schedule of a campaign reaches a state where
  ``predicate`` holds. It never fails one schedule; a campaign none of whose schedules reached it fails as
  **vacuous** — its clean result says nothing about the situation the test was written for (a leader that
  crashed holding uncommitted entries), so it must not pass.

Faults may delay anything forever, which is why liveness is judged only after the heal, as Jepsen judges
recovery after its final generator. Virtual time makes "within T" exact: the bound is on ticks, not on
steps or seconds. The world keeps quiescing while a liveness property still waits (up to its deadline),
so a run is long enough to decide it; the first step after a deadline that passed unmet ends the run with
a violation, as an invariant does. A world that goes quiet (nothing left to run) with a property unmet
violates it too: nothing more can happen. A run cut short by the world's quiesce step limit leaves it
undecided.

List them in ``Workload.properties``. The world evaluates them after every step (the predicates should be
cheap) and keeps what it saw in :class:`PropertyWatch`, which the fuzzing layer reads: liveness verdicts
become failures with the signature ``liveness:NAME``; reached ``sometimes`` properties are counted per
campaign.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from splitbrain.errors import UsageError

if TYPE_CHECKING:
    from splitbrain.sim.world import World

__all__ = [
    "Eventually",
    "LeadsTo",
    "Property",
    "PropertyWatch",
    "Sometimes",
    "eventually",
    "leads_to",
    "sometimes",
    "validate",
    "watch_of",
]

Predicate = Callable[["World"], bool]


def _name_of(fn: Any, given: str | None) -> str:
    if given:
        return given
    name = getattr(fn, "__name__", "") or "property"
    return "property" if name == "<lambda>" else name.strip("_").replace("_", "-")


def _check_within(within: Any, what: str) -> int:
    if isinstance(within, bool) or not isinstance(within, int) or within < 0:
        raise UsageError(f"{what}: within must be an int >= 0 (virtual ticks after the heal), got {within!r}")
    return within


@dataclass(frozen=True)
class Property:
    """Base of the three kinds; ``name`` is what reports and signatures (``liveness:NAME``) use."""

    name: str

    @property
    def liveness(self) -> bool:
        return False


@dataclass(frozen=True)
class Eventually(Property):
    """``predicate`` holds within ``within`` ticks of the heal (see :func:`eventually`)."""

    predicate: Predicate = field(repr=False, default=lambda world: True)
    within: int = 0

    @property
    def liveness(self) -> bool:
        return True


@dataclass(frozen=True)
class LeadsTo(Property):
    """After the heal, each time ``trigger`` becomes true, ``response`` holds within ``within`` ticks."""

    trigger: Predicate = field(repr=False, default=lambda world: False)
    response: Predicate = field(repr=False, default=lambda world: True)
    within: int = 0

    @property
    def liveness(self) -> bool:
        return True


@dataclass(frozen=True)
class Sometimes(Property):
    """Some schedule of the campaign reaches a state where ``predicate`` holds."""

    predicate: Predicate = field(repr=False, default=lambda world: True)


def eventually(predicate: Predicate, *, within: int, name: str | None = None) -> Eventually:
    """After the world heals, ``predicate(world)`` holds after some step at most ``within`` ticks later.

    ``name`` defaults to the function's name (``leader_elected`` -> ``leader-elected``)."""
    if not callable(predicate):
        raise UsageError(f"eventually: predicate must be a function of the world, got {predicate!r}")
    return Eventually(_name_of(predicate, name), predicate, _check_within(within, "eventually"))


def leads_to(trigger: Predicate, response: Predicate, *, within: int, name: str | None = None) -> LeadsTo:
    """After the world heals, whenever ``trigger(world)`` becomes true, ``response(world)`` holds after
    some step at most ``within`` ticks later (at once counts). A trigger already true at the heal counts as
    becoming true then."""
    if not callable(trigger) or not callable(response):
        raise UsageError("leads_to: trigger and response must be functions of the world")
    default = f"{_name_of(trigger, None)}-leads-to-{_name_of(response, None)}"
    return LeadsTo(name or default, trigger, response, _check_within(within, "leads_to"))


def sometimes(predicate: Predicate, *, name: str | None = None) -> Sometimes:
    """Some schedule of a campaign reaches a state where ``predicate(world)`` holds; a campaign where none
    does fails as vacuous."""
    if not callable(predicate):
        raise UsageError(f"sometimes: predicate must be a function of the world, got {predicate!r}")
    return Sometimes(_name_of(predicate, name), predicate)


def validate(properties: Sequence[Any], workload: str) -> tuple[Property, ...]:
    """The workload's ``properties``, checked: each made by one of the three functions, names unique."""
    out: list[Property] = []
    seen: set[str] = set()
    for prop in properties:
        if not isinstance(prop, Property) or type(prop) is Property:
            raise UsageError(
                f"workload {workload}: properties must be made with eventually(), leads_to() or sometimes(); "
                f"got {prop!r}"
            )
        if prop.name in seen:
            raise UsageError(f"workload {workload}: two properties are named {prop.name!r}; give one a name=")
        seen.add(prop.name)
        out.append(prop)
    return tuple(out)


class PropertyWatch:
    """What one world has seen of its workload's properties, checked after every step through
    :meth:`invariants` (which fail only when a liveness deadline passes unmet).

    ``healed_at`` is the time of the heal (the first step of the quiesce phase); ``reached`` the
    ``sometimes`` properties that held after some step; ``met`` the ``eventually`` properties that held in
    time; ``open`` the deadlines of ``leads_to`` triggers still waiting for their response."""

    def __init__(self, properties: Sequence[Property]) -> None:
        self.properties = tuple(properties)
        self.liveness = tuple(p for p in self.properties if p.liveness)
        self.reachability = tuple(p for p in self.properties if isinstance(p, Sometimes))
        self.healed_at: int | None = None
        self.reached: set[str] = set()
        self.met: set[str] = set()
        self.open: dict[str, list[int]] = {}  # leads_to name -> deadlines of the triggers still open
        self._was: dict[str, bool] = {}  # leads_to name -> its trigger held after the previous step

    @property
    def names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.liveness)

    def invariants(self) -> list[Any]:
        """The checks the world runs after every step: one per liveness property (named after it, so
        that its violation names it) and one for the ``sometimes`` properties (which never fails)."""
        from splitbrain.sim.workload import Invariant

        out = [Invariant(p.name, self._checker(p)) for p in self.liveness]
        if self.reachability:
            out.append(Invariant("(sometimes)", self._reach))
        return out

    def _reach(self, world: World) -> str | None:
        for prop in self.reachability:
            if prop.name not in self.reached and prop.predicate(world):
                self.reached.add(prop.name)
        return None

    def _checker(self, prop: Property) -> Callable[[World], str | None]:
        def check(world: World) -> str | None:
            if world.phase != "quiesce":
                return None
            now = world.time
            if self.healed_at is None:
                self.healed_at = now
            if isinstance(prop, Eventually):
                if prop.name in self.met:
                    return None
                if prop.predicate(world):
                    self.met.add(prop.name)
                elif now > self.healed_at + prop.within:
                    return (f"did not hold within {prop.within} ticks of the heal at t={self.healed_at} "
                            f"(now t={now})")
                return None
            assert isinstance(prop, LeadsTo)
            return self._leads_to(prop, world, now)

        return check

    def _leads_to(self, prop: LeadsTo, world: World, now: int) -> str | None:
        triggered = bool(prop.trigger(world))
        deadlines = self.open.setdefault(prop.name, [])
        if triggered and not self._was.get(prop.name, False):
            deadlines.append(now + prop.within)
        self._was[prop.name] = triggered
        if deadlines and prop.response(world):
            deadlines.clear()
        if deadlines and now > deadlines[0]:
            started = deadlines[0] - prop.within
            return (f"triggered at t={started} (after the heal at t={self.healed_at}), no response "
                    f"within {prop.within} ticks (now t={now})")
        return None

    def pending(self, world: World) -> bool:
        """A liveness property is still waiting and its deadline has not passed: keep the world running."""
        if self.healed_at is None:
            return bool(self.liveness)
        now = world.time
        for prop in self.liveness:
            if isinstance(prop, Eventually) and prop.name not in self.met and now <= self.healed_at + prop.within:
                return True
            if isinstance(prop, LeadsTo) and any(now <= d for d in self.open.get(prop.name, ())):
                return True
        return False

    def final(self, world: World, *, quiet: bool) -> tuple[str, str] | None:
        """After the run: ``(name, message)`` of a liveness property left unmet when the world went
        ``quiet`` (nothing more could happen), else ``None`` (met, or undecided: see :meth:`undecided`)."""
        if not quiet or self.healed_at is None:
            return None
        for prop in self.liveness:
            if isinstance(prop, Eventually) and prop.name not in self.met:
                return prop.name, (f"the world went quiet at t={world.time} ({world.time - self.healed_at}"
                                   f" ticks after the heal) and it never held")
            if isinstance(prop, LeadsTo) and self.open.get(prop.name):
                started = self.open[prop.name][0] - prop.within
                return prop.name, (f"triggered at t={started}; the world went quiet at t={world.time} "
                                   "with no response")
        return None

    def undecided(self) -> list[str]:
        """Liveness properties the run ended too early to decide (it was cut short, not quiet)."""
        out = [p.name for p in self.liveness if isinstance(p, Eventually) and p.name not in self.met]
        out += [p.name for p in self.liveness if isinstance(p, LeadsTo) and self.open.get(p.name)]
        if self.healed_at is None:
            out = [p.name for p in self.liveness]
        return out


def watch_of(world: Any) -> PropertyWatch | None:
    """The :class:`PropertyWatch` of a world whose workload has properties, else ``None``."""
    found: Any = world.__dict__.get("_property_watch")
    return found if isinstance(found, PropertyWatch) else None
