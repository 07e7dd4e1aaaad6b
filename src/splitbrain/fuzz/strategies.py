"""Exploration strategies: how a campaign picks its schedules.

* ``portfolio`` (default): all of the below and feedback from abstract-state novelty, sharing the budget
  adaptively (:mod:`splitbrain.fuzz.portfolio`), so that no user has to pick one.
* ``hypothesis``: Hypothesis generates the choice sequence and shrinks it
  (:mod:`splitbrain.fuzz.explore`).
* ``random``: a :class:`~splitbrain.sim.RandomSource` per schedule, weighted like the world's events.
* ``pct``: priority scheduling after Burckhardt et al. 2010, "A Randomized Scheduler with Probabilistic
  Guarantees of Finding Bugs" (ASPLOS). Each actor (a node, or a client) gets a random priority; the next
  event is the first enabled event of the highest-priority actor; at ``d - 1`` random steps the actor that
  just ran drops below every initial priority. In a message-passing world an event belongs to the actor
  that handles it (a delivery to its destination, a timer to its node), as in the actor adaptations of
  PCT. Faults and time stalls are not actors: they are drawn with their usual weights, so PCT reorders
  the protocol's events while faults arrive as often as under ``random``.
* ``swarm``: swarm testing after Groce et al. 2012, "Swarm Testing" (ISSTA). Each schedule enables a
  random non-empty subset of the workload's fault kinds (each kind kept with probability 1/2), then runs
  random choices. Omitting some faults lets the others go deeper (a partition that no crash interrupts).

Every schedule's seed derives from its shard's seed and its position, so a shard's schedules do not
depend on where it runs.
"""

from __future__ import annotations

import contextlib
import random
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgspec

from splitbrain.errors import NondeterminismError
from splitbrain.fuzz.explore import SearchOutcome, spent
from splitbrain.fuzz.schedule import HistoryCheck, ScheduleResult, Verdict, history_checks, judge
from splitbrain.sim import ChoiceSource, FaultConfig, RandomSource, Workload, World
from splitbrain.sim.aims import Aim
from splitbrain.sim.scheduler import Choice, Phase, total_weight, weighted

__all__ = [
    "STRATEGIES",
    "PCTSource",
    "make_source",
    "process_independent_hypothesis",
    "run_bound",
    "schedule_seed",
    "source_search",
    "swarm_faults",
]


STRATEGIES: tuple[str, ...] = ("portfolio", "hypothesis", "random", "pct", "swarm")

#: events that belong to an actor; everything else (faults, recoveries, ``advance``) is noise for PCT
_ACTOR_KINDS = frozenset({"deliver", "timer", "invoke", "timeout"})


class PCTSource(ChoiceSource):
    """PCT-style priority choices with bug depth ``depth`` over at most ``max_steps`` run steps.

    Call :meth:`bind` with the world before it runs, so that deliveries can be attributed to their
    destination; the quiesce phase and ``draw`` use a seeded RNG.
    """

    def __init__(self, seed: int, depth: int, max_steps: int) -> None:
        if depth < 1:
            raise ValueError(f"PCT depth must be >= 1, got {depth}")
        self.seed = seed
        self.depth = depth
        self.rng = random.Random(seed)
        k = max(1, max_steps)
        points = self.rng.sample(range(1, k + 1), min(depth - 1, k))
        #: run step number -> new (low) priority for the actor that runs at that step
        self.change: dict[int, float] = {
            step: float(depth - 1 - i) for i, step in enumerate(sorted(points))
        }
        self.priorities: dict[str, float] = {}
        self.fallback = RandomSource(self.rng.getrandbits(32))
        self.world: World | None = None
        self.taken = 0

    def bind(self, world: World) -> None:
        self.world = world

    def actor(self, key: str) -> str:
        kind, _, arg = key.partition(":")
        if kind == "deliver" and self.world is not None:
            message = self.world.network.in_flight.get(arg)
            if message is not None:
                return f"node:{message.dst}"
        if kind == "timer":
            return "node:" + arg.partition(":")[0]
        if kind in ("invoke", "timeout"):
            return "client:" + arg
        return key

    def _priority(self, actor: str) -> float:
        if actor not in self.priorities:
            # initial priorities lie in [d, d + 1): above every changed priority (d - 1, d - 2, ..., 1);
            # drawn from the seed and the actor's name, so the order actors appear in does not matter
            self.priorities[actor] = self.depth + random.Random(f"pct-{self.seed}-{actor}").random()
        return self.priorities[actor]

    def choose(self, enabled: Sequence[Choice], phase: Phase) -> str | None:
        if not enabled:
            return None
        if phase != "run":
            return self.fallback.choose(enabled, phase)
        self.taken += 1
        actors = [(key, w) for key, w in enabled if key.partition(":")[0] in _ACTOR_KINDS]
        noise = [(key, w) for key, w in enabled if key.partition(":")[0] not in _ACTOR_KINDS]
        noise_weight = total_weight(noise)
        if noise and (not actors or self.rng.randrange(total_weight(enabled) or 1) < noise_weight):
            return weighted(noise, self.rng.randrange(noise_weight)) if noise_weight > 0 else noise[0][0]
        best_key, best_actor, best = actors[0][0], "", -1.0
        for key, _ in actors:  # canonical order: the first event of the best actor wins
            actor = self.actor(key)
            priority = self._priority(actor)
            if priority > best:
                best_key, best_actor, best = key, actor, priority
        if self.taken in self.change:
            self.priorities[best_actor] = self.change[self.taken]
        return best_key

    def draw(self, lo: int, hi: int) -> int:
        return self.fallback.draw(lo, hi)


@contextlib.contextmanager
def process_independent_hypothesis() -> Iterator[None]:
    """Make Hypothesis's generation independent of the process it runs in.

    Hypothesis (6.1xx) sometimes draws "local constants" mined from every non-library module loaded in
    the process, so the same ``@seed`` generates different data in a pytest process, a spawned worker
    and a Dask worker. A campaign must give identical results on every executor, so for the duration of
    a shard the local-constant pool is empty (the global constants still apply). This touches a private
    Hypothesis name; if it moves, we run unpatched and only cross-process identity is lost.
    """
    try:
        from hypothesis.internal.conjecture import providers as p
    except ImportError:  # pragma: no cover - a Hypothesis without this module
        yield
        return
    original: Any = getattr(p, "_get_local_constants", None)
    empty_cls: Any = getattr(p, "Constants", None)
    cache: Any = getattr(p, "CONSTANTS_CACHE", None)
    if original is None or empty_cls is None or cache is None:  # pragma: no cover
        yield
        return
    empty = empty_cls()
    cache.cache.clear()
    p._get_local_constants = lambda: empty
    try:
        yield
    finally:
        p._get_local_constants = original
        cache.cache.clear()


def swarm_faults(base: FaultConfig, seed: int) -> FaultConfig:
    """``base`` with a random non-empty subset of its fault kinds (each kept with probability 1/2)."""
    if not base.kinds:
        return base
    rng = random.Random(f"swarm-{seed}")
    kinds = [k for k in base.kinds if rng.random() < 0.5] or [rng.choice(base.kinds)]
    return msgspec.structs.replace(base, kinds=tuple(kinds))


def schedule_seed(shard_seed: int, index: int) -> int:
    """The seed of a shard's ``index``-th schedule: a function of the two alone."""
    return random.Random(f"splitbrain-schedule-{shard_seed}-{index}").getrandbits(32)


def make_source(
    strategy: str, seed: int, *, workload: Workload, faults: FaultConfig | None, max_steps: int, depth: int,
) -> tuple[ChoiceSource, FaultConfig | None]:
    """The choice source and the fault configuration of one schedule of a non-Hypothesis strategy."""
    if strategy == "random":
        return RandomSource(seed), faults
    if strategy == "pct":
        return PCTSource(seed, depth, max_steps), faults
    if strategy == "swarm":
        base = faults if faults is not None else FaultConfig.coerce(workload.faults)
        return RandomSource(seed), swarm_faults(base, seed)
    raise ValueError(f"unknown strategy {strategy!r} (known: {', '.join(STRATEGIES)})")


def run_bound(
    workload: Workload, variant: str, source: ChoiceSource, *, faults: FaultConfig | None, max_steps: int,
    checks: Sequence[tuple[str, HistoryCheck]], aims: Sequence[Aim] | None = None,
) -> ScheduleResult:
    """Like :func:`~splitbrain.fuzz.schedule.run_schedule`, but binds the world to sources that ask
    (PCT needs to see which node a message goes to); ``aims`` adds aimed faults to the workload's."""
    extra = list(aims or ())
    world = World(workload, variant, source=source, faults=faults, max_steps=max_steps,
                  aims=[*workload.aims, *extra] if extra else None)
    bind = getattr(source, "bind", None)
    if callable(bind):
        bind(world)
    try:
        run = world.run()
    except NondeterminismError:
        raise  # not a bug of the system under test: the run cannot be reproduced, so it is not a verdict
    except Exception as exc:  # the implementation under test crashed: a failure, as in run_schedule
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{frame.filename}:{frame.lineno} in {frame.name}"
        return ScheduleResult(
            world.result(),
            Verdict(f"crash:{type(exc).__name__}", f"node code raised {type(exc).__name__}: {exc} ({where})"),
        )
    return ScheduleResult(run, judge(run, checks))


def source_search(
    workload: Workload,
    variant: str,
    strategy: str,
    *,
    seed_value: int,
    examples: int,
    faults: FaultConfig | None = None,
    max_steps: int | None = None,
    depth: int = 3,
    deadline: float | None = None,
    on_found: Callable[[ScheduleResult], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> SearchOutcome:
    """Run up to ``examples`` schedules of ``strategy`` (fewer if ``deadline``, a ``time.time()`` value,
    passes first, or ``stop()`` turns true), stopping at the first failure. No Hypothesis shrinking
    here: the caller shrinks the trace itself."""
    outcome = SearchOutcome()
    steps = max_steps if max_steps is not None else workload.max_steps
    checks = history_checks(workload)
    for i in range(examples):
        if spent(deadline, stop):
            break
        source, schedule_faults = make_source(
            strategy, schedule_seed(seed_value, i), workload=workload, faults=faults, max_steps=steps,
            depth=depth,
        )
        result = run_bound(workload, variant, source, faults=schedule_faults, max_steps=steps, checks=checks)
        outcome.schedules += 1
        outcome.unknown += int(result.verdict.unknown)
        if result.verdict.signature is not None:
            outcome.first = outcome.failure = result
            if on_found is not None:
                on_found(result)
            break
    return outcome
