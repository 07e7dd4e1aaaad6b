"""Campaign statistics: what a campaign actually explored, and what a clean one lets us claim.

A worker counts, for every step it runs, the step's kind (faults by kind) and the world's *abstract
state*: a small hashable summary such as each node's role and term. A workload may define
``abstract_state(world)``; otherwise :func:`default_abstract_state` reads ``role``, ``term`` and ``view``
from each live node. The number of distinct abstract states says how much of the protocol's state
space the schedules reached, which a count of schedules alone does not.

States travel between processes as 64-bit BLAKE2 digests of their ``repr`` (Python's ``hash`` of a
string differs per process), so shards on any worker merge into one set. Each digest travels with the
index of the schedule that first reached it, so the campaign can draw *coverage growth*: distinct states
against schedules run, whose flattening says when more of the same search stops paying. The observer
also tells the search which steps of the schedule just run reached a state new to the shard — the
feedback the portfolio strategy steers by (:mod:`splitbrain.fuzz.portfolio`).

The confidence of a clean campaign: for PCT, Burckhardt et al. 2010 ("A Randomized Scheduler with
Probabilistic Guarantees of Finding Bugs", ASPLOS) prove that one run finds a bug of depth ``d`` with
probability at least ``p = 1 / (n * k**(d-1))`` for ``n`` actors and ``k`` steps, so ``N`` clean runs
miss it with probability at most ``(1 - p)**N``. Random strategies have no such bound; for them we state
the "rule of three": a bug hit by a schedule with probability above ``3/N`` would, with 95% confidence,
have been seen in ``N`` clean schedules.

Availability: the observer also keeps each search schedule's history (not the shrinking replays) and
adds its :func:`~splitbrain.histories.availability.availability` analysis — the ok, fail and info counts
and ok latencies per fault state, and the series over schedule time — so a campaign reports what each
side of a partition could still do, next to what it explored.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from splitbrain.histories.availability import Availability, availability
from splitbrain.sim.faults import FAULT_KINDS
from splitbrain.sim.properties import watch_of
from splitbrain.sim.workload import Invariant, Workload

if TYPE_CHECKING:
    from splitbrain.sim.world import World

__all__ = [
    "CampaignStats",
    "ShardStats",
    "StatsObserver",
    "abstract_state_of",
    "default_abstract_state",
    "digest",
    "pct_bound",
]


_FAULTS = frozenset(FAULT_KINDS)


def default_abstract_state(world: World) -> Hashable:
    """Per node, in node order: ``down`` when crashed, else its ``role`` and how far its ``term`` and
    ``view`` (those it has) lag the highest among the live nodes, capped at 3.

    Terms and views count up without bound, so their raw values would make every long run look new; what
    a protocol's correctness turns on is who is behind whom (a deposed leader one term back), not the
    number itself."""
    rows: list[tuple[str, Any, Any, Any]] = []
    top_term = top_view = 0
    for node_id in world.node_ids:
        node = world.node(node_id)
        if node is None:
            rows.append((node_id, "down", None, None))
            continue
        term, view = getattr(node, "term", None), getattr(node, "view", None)
        if type(term) is int and term > top_term:
            top_term = term
        if type(view) is int and view > top_view:
            top_view = view
        rows.append((node_id, getattr(node, "role", None), term, view))
    return tuple(
        (node_id, role) if role == "down" else (
            node_id, role, min(top_term - term, 3) if type(term) is int else term,
            min(top_view - view, 3) if type(view) is int else view,
        )
        for node_id, role, term, view in rows
    )


def abstract_state_of(workload: Workload) -> Callable[[World], Hashable]:
    """The workload's :meth:`~splitbrain.sim.Workload.abstract_state` when its class (or the instance)
    defines one, else :func:`default_abstract_state`. A workload's method that returns ``None`` for some
    world falls back to the default for that world."""
    custom = getattr(workload, "abstract_state", None)
    own = getattr(type(workload), "abstract_state", None)
    if not callable(custom) or (own is Workload.abstract_state and "abstract_state" not in vars(workload)):
        return default_abstract_state

    def abstract(world: World) -> Hashable:
        state = custom(world)
        return default_abstract_state(world) if state is None else state

    return abstract


def digest(state: Hashable) -> int:
    """A process-independent 64-bit digest of an abstract state."""
    return int.from_bytes(hashlib.blake2b(repr(state).encode(), digest_size=8).digest(), "big")


class StatsObserver:
    """Counts steps, faults by kind and abstract states, and measures each schedule's availability; hooks
    into a world as an extra invariant that never fails (checked after every step that ran node code, in
    every phase). Set ``active`` to false to stop observing (the shrinking phase). A schedule counts from
    its first observed step; the start step always runs node code, so every schedule is seen."""

    def __init__(self, workload: Workload) -> None:
        self.abstract: Callable[[World], Hashable] = abstract_state_of(workload)
        self.active = True
        self.steps = 0
        self.faults: Counter[str] = Counter()
        #: every abstract state seen -> the index (from 0) of the first schedule that reached it
        self.first_seen: dict[Hashable, int] = {}
        #: the schedule being observed: its index, and the steps at which it reached a new state
        self.schedule = -1
        self.novel_at: list[int] = []
        #: ``sometimes`` property -> schedules that reached it
        self.reached: Counter[str] = Counter()
        self.availability = Availability()
        self._world: World | None = None  # the schedule being observed: its history is read once it is done

    @property
    def states(self) -> set[Hashable]:
        return set(self.first_seen)

    def check(self, world: World) -> str | None:
        if self.active:
            if world is not self._world:
                self._finish()
                self._world = world
                self.schedule += 1
                self.novel_at = []
            state = self.abstract(world)
            if state not in self.first_seen:
                self.first_seen[state] = self.schedule
                self.novel_at.append(len(world.steps) - 1)
        return None

    def _finish(self) -> None:
        """Count the steps and faults of the last schedule observed and add its availability (whole by
        now: a new one has begun, or the shard is over), and the ``sometimes`` properties it reached."""
        world = self._world
        if world is not None:
            self.steps += len(world.steps)
            faults = self.faults
            for step in world.steps:
                if step.kind in _FAULTS:
                    faults[step.kind] += 1
            watch = watch_of(world)
            if watch is not None:
                self.reached.update(watch.reached)
            self.availability.merge(availability(world.recorder.ops, nodes=world.node_ids, unit="tick"))
            self._world = None

    def wrap(self, workload: Workload) -> Workload:
        """A shallow copy of ``workload`` whose invariants end with this observer. It is declared
        state-only: the world calls it only after a step that ran node code or took a node up or down (no
        other step changes an abstract state); steps and faults are counted from the trace."""
        observed = copy.copy(workload)
        observed.invariants = (*workload.invariants, Invariant("(statistics)", self.check, state_only=True))
        return observed

    def shard_stats(self, schedules: int, seconds: float, arms: dict[str, tuple[int, int]] | None = None) -> ShardStats:
        self._finish()
        return ShardStats(arms=dict(arms or {}),
            schedules=schedules, steps=self.steps, faults=dict(self.faults),
            states={digest(s): i for s, i in self.first_seen.items()}, seconds=seconds,
            availability=self.availability, reached=dict(self.reached),
        )


@dataclass(frozen=True)
class ShardStats:
    """What one shard explored (picklable, merged by the campaign). ``states`` maps each abstract state's
    digest to the index of the shard's schedule that first reached it; ``reached`` counts the schedules
    that reached each ``sometimes`` property."""

    schedules: int = 0
    steps: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    states: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    availability: Availability = field(default_factory=Availability)
    reached: dict[str, int] = field(default_factory=dict)
    #: portfolio arm -> (schedules it ran, new abstract states it found)
    arms: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class CampaignStats:
    """Statistics of a whole campaign: the shards' counts merged, over the campaign's wall time."""

    strategy: str = "portfolio"
    depth: int = 3
    actors: int = 0
    max_steps: int = 0
    schedules: int = 0
    steps: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    #: abstract state digest -> the campaign-wide index of the first schedule that reached it
    states: dict[int, int] = field(default_factory=dict)
    worker_seconds: float = 0.0
    availability: Availability = field(default_factory=Availability)
    #: the workload's ``sometimes`` properties, and how many schedules reached each
    sometimes: tuple[str, ...] = ()
    reached: Counter[str] = field(default_factory=Counter)
    #: portfolio arm -> [schedules, new abstract states found in its shard]
    arms: dict[str, list[int]] = field(default_factory=dict)

    def add(self, shard: ShardStats) -> None:
        """Merge a shard's counts; shards must be added in shard-index order (their schedules then
        number on from the ones before, which is what the coverage growth counts in)."""
        offset = self.schedules
        self.schedules += shard.schedules
        self.steps += shard.steps
        self.faults.update(shard.faults)
        states = self.states
        for state, first in shard.states.items():
            at = offset + first
            if at < states.get(state, at + 1):
                states[state] = at
        self.worker_seconds += shard.seconds
        self.availability.merge(shard.availability)
        self.reached.update(shard.reached)
        for arm, (runs, found) in shard.arms.items():
            mine = self.arms.setdefault(arm, [0, 0])
            mine[0] += runs
            mine[1] += found

    def growth(self, points: int = 8) -> list[tuple[int, int]]:
        """Coverage growth: ``(schedules run, distinct abstract states reached by then)`` at up to
        ``points`` schedule counts spaced geometrically up to the last, plus the schedule that found the
        last new state."""
        n = self.schedules
        if n <= 0 or not self.states:
            return []
        firsts = sorted(self.states.values())
        marks = {n, firsts[-1] + 1}
        k = 1
        while k < n and len(marks) < points + 2:
            marks.add(k)
            k = max(k + 1, round(k * (n ** (1 / max(points - 1, 1)))))
        return [(m, bisect.bisect_left(firsts, m)) for m in sorted(marks) if 0 < m <= n]

    def coverage_line(self) -> str:
        """Distinct abstract states, and how they grew with the schedules run."""
        growth = self.growth(6)
        text = f"distinct abstract states: {len(self.states)}"
        if not growth:
            return text
        last = max(self.states.values()) + 1
        steps = ", ".join(f"{s} after {m}" for m, s in growth)
        return f"{text} (coverage: {steps} schedules; the last new state at schedule {last})"

    def arms_text(self) -> str:
        """How the portfolio shared the schedules: ``; swarm 40 (12 new states), ...`` (empty otherwise)."""
        if not self.arms:
            return ""
        return "; arms: " + ", ".join(f"{arm} {runs} ({found} new)" for arm, (runs, found) in self.arms.items())

    def vacuous(self) -> list[str]:
        """The ``sometimes`` properties no schedule reached (none when no schedule ran)."""
        if self.schedules == 0:
            return []
        return [name for name in self.sometimes if not self.reached.get(name)]

    def sometimes_lines(self) -> list[str]:
        if not self.sometimes:
            return []
        out = ["sometimes properties (schedules that reached each):"]
        for name in self.sometimes:
            hit = self.reached.get(name, 0)
            out.append(f"  {name}: {hit} of {self.schedules}" + ("" if hit else " - NEVER REACHED: the campaign "
                                                                  "is vacuous for it"))
        return out

    def pct_probability(self) -> float:
        """PCT's lower bound on the chance that one run finds a given depth-``d`` bug."""
        return pct_bound(self.actors, self.max_steps, self.depth)

    def confidence(self, failed: bool) -> str:
        """What a clean campaign lets us claim (nothing, if it failed)."""
        n = self.schedules
        if failed:
            return "confidence: not applicable (the campaign failed)"
        if n == 0:
            return "confidence: none (no schedule ran)"
        if self.strategy == "pct":
            p = self.pct_probability()
            miss = (1.0 - p) ** n
            return (
                f"confidence (PCT, Burckhardt et al. 2010): each run finds a given depth-{self.depth} bug with "
                f"p >= 1/({self.actors}*{self.max_steps}^{self.depth - 1}) = {p:.3g}; after {n} clean runs "
                f"P(missed such a bug) <= (1-p)^{n} = {miss:.6g}"
            )
        return (
            f"confidence ({self.strategy}: no formal bound): a bug that a schedule hits with probability "
            f"> {3.0 / n:.3g} (3/N) would have been seen with 95% confidence"
        )

    def lines(self, wall_seconds: float, failed: bool) -> list[str]:
        """A short human-readable summary."""
        rate = self.steps / max(wall_seconds, 1e-9)
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        return [
            f"strategy {self.strategy}" + (f" (depth {self.depth})" if self.strategy == "pct" else "")
            + f": {self.schedules} schedules, {self.steps} events ({rate:,.0f} events/s)"
            + self.arms_text(),
            f"faults fired: {faults}",
            self.coverage_line(),
            self.confidence(failed),
            *self.availability_lines(),
            *self.sometimes_lines(),
        ]

    def availability_lines(self) -> list[str]:
        """A heading and one line per fault state that saw operations (none before any operation)."""
        lines = self.availability.lines()
        if not lines:
            return []
        return ["availability by fault state at invoke (ok fraction; ok latency):", *(f"  {x}" for x in lines)]

    def to_json(self, wall_seconds: float | None = None, failed: bool = False) -> dict[str, Any]:
        """The statistics as plain data (``splitbrain fuzz --json``)."""
        out: dict[str, Any] = {
            "strategy": self.strategy, "schedules": self.schedules, "steps": self.steps,
            "faults": dict(sorted(self.faults.items())), "distinct_states": len(self.states),
            "worker_seconds": round(self.worker_seconds, 3), "confidence": self.confidence(failed),
            "availability": self.availability.to_json(),
            "coverage": [{"schedules": m, "states": s} for m, s in self.growth()],
        }
        if self.arms:
            out["arms"] = {arm: {"schedules": r, "new_states": f} for arm, (r, f) in self.arms.items()}
        if self.sometimes:
            out["sometimes"] = {name: self.reached.get(name, 0) for name in self.sometimes}
            out["vacuous"] = self.vacuous()
        if self.strategy == "pct":
            out |= {"depth": self.depth, "pct_probability": self.pct_probability()}
        if wall_seconds is not None:
            out["events_per_second"] = round(self.steps / max(wall_seconds, 1e-9), 1)
        return out


def pct_bound(actors: int, steps: int, depth: int) -> float:
    """``1 / (n * k**(d-1))``: PCT's per-run probability of finding a depth-``d`` bug."""
    return 1.0 / (max(actors, 1) * max(steps, 1) ** max(depth - 1, 0))
