"""Campaign statistics: what a campaign actually explored, and what a clean one lets us claim.

A worker counts, for every step it runs, the step's kind (faults by kind) and the world's *abstract
state*: a small hashable summary such as each node's role and term. A workload may define
``abstract_state(world)``; otherwise :func:`default_abstract_state` reads ``role``, ``term`` and ``view``
from each live node. The number of distinct abstract states says how much of the protocol's state
space the schedules reached, which a count of schedules alone does not.

States travel between processes as 64-bit BLAKE2 digests of their ``repr`` (Python's ``hash`` of a
string differs per process), so shards on any worker merge into one set.

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

import copy
import hashlib
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from splitbrain.histories.availability import Availability, availability
from splitbrain.sim.faults import FAULT_KINDS
from splitbrain.sim.workload import Invariant, Workload

if TYPE_CHECKING:
    from splitbrain.sim.world import World

__all__ = [
    "CampaignStats",
    "ShardStats",
    "StatsObserver",
    "default_abstract_state",
    "digest",
    "pct_bound",
]


_FAULTS = frozenset(FAULT_KINDS)


def default_abstract_state(world: World) -> Hashable:
    """Per node, in node order: ``down`` when crashed, else its ``role``, ``term`` and ``view`` (those
    it has)."""
    parts: list[tuple[Any, ...]] = []
    for node_id in world.node_ids:
        node = world.node(node_id)
        if node is None:
            parts.append((node_id, "down"))
        else:
            parts.append((node_id, getattr(node, "role", None), getattr(node, "term", None),
                          getattr(node, "view", None)))
    return tuple(parts)


def digest(state: Hashable) -> int:
    """A process-independent 64-bit digest of an abstract state."""
    return int.from_bytes(hashlib.blake2b(repr(state).encode(), digest_size=8).digest(), "big")


class StatsObserver:
    """Counts steps, faults by kind and abstract states, and measures each schedule's availability; hooks
    into a world as an extra invariant that never fails (invariants are checked after every step, in
    every phase). Set ``active`` to false to stop observing (the shrinking phase)."""

    def __init__(self, workload: Workload) -> None:
        custom = getattr(workload, "abstract_state", None)
        self.abstract: Callable[[World], Hashable] = custom if callable(custom) else default_abstract_state
        self.active = True
        self.steps = 0
        self.faults: Counter[str] = Counter()
        self.states: set[Hashable] = set()
        self.availability = Availability()
        self._world: World | None = None  # the schedule being observed: its history is read once it is done

    def check(self, world: World) -> str | None:
        if self.active:
            if world is not self._world:
                self._finish()
                self._world = world
            self.steps += 1
            kind = world.steps[-1].kind
            if kind in _FAULTS:
                self.faults[kind] += 1
            self.states.add(self.abstract(world))
        return None

    def _finish(self) -> None:
        """Add the availability of the last schedule observed (whole by now: a new one has begun, or the
        shard is over)."""
        if self._world is not None:
            self.availability.merge(availability(self._world.recorder.ops, nodes=self._world.node_ids, unit="tick"))
            self._world = None

    def wrap(self, workload: Workload) -> Workload:
        """A shallow copy of ``workload`` whose invariants end with this observer."""
        observed = copy.copy(workload)
        observed.invariants = (*workload.invariants, Invariant("(statistics)", self.check))
        return observed

    def shard_stats(self, schedules: int, seconds: float) -> ShardStats:
        self._finish()
        return ShardStats(
            schedules=schedules, steps=self.steps, faults=dict(self.faults),
            states=frozenset(digest(s) for s in self.states), seconds=seconds, availability=self.availability,
        )


@dataclass(frozen=True)
class ShardStats:
    """What one shard explored (picklable, merged by the campaign)."""

    schedules: int = 0
    steps: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    states: frozenset[int] = frozenset()
    seconds: float = 0.0
    availability: Availability = field(default_factory=Availability)


@dataclass
class CampaignStats:
    """Statistics of a whole campaign: the shards' counts merged, over the campaign's wall time."""

    strategy: str = "hypothesis"
    depth: int = 3
    actors: int = 0
    max_steps: int = 0
    schedules: int = 0
    steps: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    states: set[int] = field(default_factory=set)
    worker_seconds: float = 0.0
    availability: Availability = field(default_factory=Availability)

    def add(self, shard: ShardStats) -> None:
        self.schedules += shard.schedules
        self.steps += shard.steps
        self.faults.update(shard.faults)
        self.states |= shard.states
        self.worker_seconds += shard.seconds
        self.availability.merge(shard.availability)

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
            + f": {self.schedules} schedules, {self.steps} events ({rate:,.0f} events/s)",
            f"faults fired: {faults}",
            f"distinct abstract states: {len(self.states)}",
            self.confidence(failed),
            *self.availability_lines(),
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
        }
        if self.strategy == "pct":
            out |= {"depth": self.depth, "pct_probability": self.pct_probability()}
        if wall_seconds is not None:
            out["events_per_second"] = round(self.steps / max(wall_seconds, 1e-9), 1)
        return out


def pct_bound(actors: int, steps: int, depth: int) -> float:
    """``1 / (n * k**(d-1))``: PCT's per-run probability of finding a depth-``d`` bug."""
    return 1.0 / (max(actors, 1) * max(steps, 1) ** max(depth - 1, 0))
