"""The default strategy: a portfolio of searches sharing one budget, steered by abstract-state novelty.

No single way of drawing schedules finds every bug first: PCT finds a bad ordering of a few messages in
few runs (Burckhardt et al. 2010, ASPLOS), a schedule that omits some fault kinds lets the others go
deeper (swarm testing, Groce et al. 2012, ISSTA), faults aimed at whoever leads reach the moments a
protocol is fragile, and a corpus of schedules that reached new states, extended from where they did,
reaches states that fresh random runs rarely do (the state-novelty feedback of Mallory, Meng et al. 2023,
CCS, and ModelFuzz, OOPSLA 2025). So the portfolio runs them all, one schedule at a time, and hands more of
the budget to the arms that recently reached abstract states the shard had not seen — a multi-armed
bandit with a floor, so no arm ever starves (a bug may hide where novelty does not point).

The arms (:data:`ARMS`):

* ``random`` — the workload's faults, weighted choices (the baseline).
* ``swarm`` — a per-run fault mix: a random non-empty subset of the fault kinds, each kept kind made 1, 2,
  4 or 8 times as frequent (with its recoveries), and sometimes a run twice as long.
* ``pct`` — PCT priorities at depth 2-4, under the workload's faults or a swarm mix.
* ``aimed`` — faults aimed at the node that just took a client's request, the one that just answered a
  client, or a role the workload names (``Workload.roles``, e.g. the leader) (:mod:`splitbrain.sim.aims`):
  mostly one fault at one target fired two to four times, spaced out; over a swarm mix, or (one run in
  two) over no drawn faults at all, so that nothing undoes what the aims set up.
* ``moving-cut`` — the isolated-leader nemesis, moving: whoever just took a client's request is cut off
  from the other nodes, two to four times, each cut replacing the one before, with no drawn faults or
  heals (:func:`moving_isolation`); for clusters of three or more that allow partitions.
* ``kingmaker`` — one such cut, of the first node to take a request; then whenever a delivered message
  makes a new node play a role of the workload (the vote that elects a new leader), its sender crosses
  to the other side of the cut (``Aim("cross", "sender", after_role_change(role))``); for workloads with
  roles that the moving cut can run on.
* ``mutate`` — feedback: take a schedule from the corpus (those that reached new states), keep its choices
  up to a step where it reached a new state, and continue from there with fresh random choices.
* ``hypothesis`` — a slice of Hypothesis-generated schedules (:mod:`splitbrain.fuzz.explore`), with
  ``hypothesis.target`` on the novelty each reached, so Hypothesis's own search leans the same way.

A schedule's reward is ``log(1 + new states)``, plus a bonus for a ``sometimes`` property reached for the
first time in the shard. Everything is drawn from the shard's seed and counted in schedules, never
seconds, so with a count budget a shard gives the same result on any executor. Learning is per shard:
shards share nothing while they run.

The random arms draw their choices through :class:`SplicedSource`: a sequence of seeded segments, each
taking over at a given call count. The same segments give the same run, and a child that keeps its
parent's segments up to the call count at a step replays the parent exactly up to that step — which is
what lets the corpus be extended from the middle of a run without storing its choices.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from splitbrain.fuzz.explore import SearchOutcome, hypothesis_search, spent
from splitbrain.fuzz.schedule import HistoryCheck, ScheduleResult, history_checks
from splitbrain.fuzz.stats import StatsObserver
from splitbrain.fuzz.strategies import PCTSource, run_bound
from splitbrain.sim import ChoiceSource, FaultConfig, RandomSource, Workload, World
from splitbrain.sim.aims import Aim, Trigger, after_reply, after_role_change, at, when, when_role
from splitbrain.sim.properties import watch_of
from splitbrain.sim.scheduler import Choice, Enabled, Phase
from splitbrain.sim.trace import Step

__all__ = [
    "ARMS",
    "Bandit",
    "Plan",
    "SplicedSource",
    "fault_mix",
    "mix_config",
    "moving_isolation",
    "portfolio_search",
    "quiet_mix",
]

ARMS: tuple[str, ...] = ("random", "swarm", "pct", "aimed", "mutate", "hypothesis", "moving-cut", "kingmaker")

#: schedules per turn of the Hypothesis arm (one Hypothesis run; its set-up is paid once per slice)
HYPOTHESIS_SLICE = 8
#: every arm's least share of the picks, whatever its rewards (a bug may hide where novelty does not point)
FLOOR = 0.04
#: how fast an arm's value follows its recent rewards (exponential recency weighting)
ALPHA = 0.25
#: most schedules kept in the corpus
CORPUS = 48
_RECOVERY = {"partition": "heal", "oneway": "heal", "bridge": "heal", "crash": "restart", "power-loss": "restart",
             "pause": "resume"}


Mix = tuple[tuple[str, int], ...]
"""A per-run fault mix: ``(kind, multiplier)`` for the fault and recovery kinds it reweights (0 omits)."""


class SplicedSource(ChoiceSource):
    """Weighted random choices from seeded segments: ``splices`` is ``((0, seed0, mix0), (k1, seed1, mix1),
    ...)`` — from call ``k_i`` on, the RNG seeded ``seed_i`` makes every choice and draw, and the weights
    of the fault and recovery steps it chooses among are multiplied by ``mix_i`` (the world's fault
    configuration stays the workload's, so a mix can change in the middle of a run). :attr:`marks` holds,
    per executed step, the calls made up to the end of that step (where a child may splice in)."""

    def __init__(self, splices: Sequence[tuple[int, int, Mix]]) -> None:
        assert splices and splices[0][0] == 0
        self.splices = tuple(splices)
        self.seed = self.splices[0][1]
        self.calls = 0
        self._next = 1
        self._use(self.splices[0])
        self.marks: list[int] = []

    def _use(self, splice: tuple[int, int, Mix]) -> None:
        self._source = RandomSource(splice[1])
        self._below = self._source._below
        self._mix = dict(splice[2])
        self._factor: dict[str, int] = {}  # run prefix -> multiplier, filled as prefixes are met

    def _switch(self) -> None:
        while self._next < len(self.splices) and self.calls >= self.splices[self._next][0]:
            self._use(self.splices[self._next])
            self._next += 1

    def _weight(self, prefix: str) -> int:
        factor = self._factor.get(prefix)
        if factor is None:
            factor = self._factor[prefix] = self._mix.get(prefix.partition(":")[0], 1)
        return factor

    def choose(self, enabled: Sequence[Choice], phase: Phase) -> str | None:
        if self._next < len(self.splices):
            self._switch()
        self.calls += 1
        if not self._mix or phase != "run" or type(enabled) is not Enabled or enabled._n <= 1:
            return self._source.choose(enabled, phase)
        runs = enabled._runs
        factors = self._factor
        total = 0
        for prefix, ids, weight in runs:  # two passes over the runs, no list built: this is every step
            factor = factors.get(prefix)
            if factor is None:
                factor = self._weight(prefix)
            total += len(ids) * weight * factor
        if total <= 0:
            return self._source.choose(enabled, phase)
        r = self._below(total)
        for prefix, ids, weight in runs:
            weight *= factors[prefix]
            span = len(ids) * weight
            if r < span:
                return prefix + ids[r // weight]
            r -= span
        return enabled.first()  # pragma: no cover - r < total always lands in a run

    def draw(self, lo: int, hi: int) -> int:
        if self._next < len(self.splices):
            self._switch()
        self.calls += 1
        return self._source.draw(lo, hi)

    def executed(self, step: Step) -> None:
        self.marks.append(self.calls)


@dataclass(frozen=True)
class Plan:
    """One schedule to run: the arm that made it, its run length and aimed faults, and its choices —
    ``splices`` for the random arms, ``seed``, ``depth`` and ``mix`` for PCT."""

    arm: str
    steps: int
    seed: int
    splices: tuple[tuple[int, int, Mix], ...] = ()
    aims: tuple[Aim, ...] = ()
    depth: int = 0
    mix: Mix = ()


@dataclass
class _Entry:
    """A corpus schedule: its plan, the call counts at each step, the run-phase steps where it reached
    new states, and how often it has been extended."""

    plan: Plan
    marks: list[int]
    novel: list[int]
    energy: float
    times: list[int]  # the world's time after each step
    picked: int = 0


def fault_mix(base: FaultConfig, rng: random.Random) -> Mix:
    """Swarm testing's per-run fault mix over ``base``'s kinds: each kept with probability 1/2 (at least
    one), the kept ones made 1, 2, 4 or 8 times as frequent, and their recoveries (heal, restart, resume)
    as frequent as the faults or left as they are (faults then last longer)."""
    kinds = [k for k in base.kinds if k != "reorder"]  # reorder is a switch of the world, not a step
    if not kinds:
        return ()
    kept = [k for k in kinds if rng.random() < 0.5] or [rng.choice(kinds)]
    factor = rng.choice((1, 2, 4, 8))
    lasting = rng.random() < 0.5
    mix: dict[str, int] = {k: 0 for k in kinds if k not in kept}
    for kind in kept:
        mix[kind] = factor
        recovery = _RECOVERY.get(kind)
        if recovery is not None and not lasting:
            mix[recovery] = factor
    return tuple(sorted(mix.items()))


def quiet_mix(base: FaultConfig) -> Mix:
    """A mix that draws none of ``base``'s faults (recoveries stay): the run's faults are its aims."""
    return tuple(sorted((k, 0) for k in base.kinds if k != "reorder"))


def moving_isolation(mix: Mix) -> Mix:
    """``mix`` with ``heal`` never drawn: for runs whose only faults are aimed isolations. Each isolation
    replaces the cut before it (the node cut off before rejoins as the next one leaves), so the cut moves
    from one node that took a request to the next, and the world heals at quiesce as always. A drawn heal
    would end an isolation at a random moment — usually before the cluster had moved on without the node
    cut off, which is what the bugs behind Raft's Figure 8 need twice in a row (one such campaign found
    ``commit-old-term`` in 1 schedule of 5 where the same aims with drawn heals needed ~60)."""
    return tuple(sorted({**dict(mix), "heal": 0}.items()))


def mix_config(base: FaultConfig, mix: Mix) -> FaultConfig:
    """``base`` with ``mix`` applied to its kinds and weights (for the sources that take weights from the
    world's configuration: PCT and Hypothesis)."""
    if not mix:
        return base
    factors = dict(mix)
    weights = dict(base.weights)
    for kind, factor in factors.items():
        if factor > 0:
            weights[kind] = base.weight(kind) * factor
    kinds = tuple(k for k in base.kinds if factors.get(k, 1) > 0)
    return msgspec.structs.replace(base, kinds=kinds, weights=weights)


def _took_request(world: World) -> bool:
    """The last step delivered a client's request to a node, which acted on it by messaging peers it can
    reach (a node already cut off from them, say a deposed leader that does not know it yet, is no
    target: faulting it changes nothing)."""
    step = world.steps[-1]
    if step.kind != "deliver" or step.f is None or step.dst not in world.node_ids:
        return False
    cuts = world.network.cuts
    for sent in step.sent or ():
        src, _, rest = sent.partition(">")
        dst = rest.partition("#")[0]
        if dst in world.node_ids and (src, dst) not in cuts:
            return True
    return False


def _requestee(world: World) -> str | None:
    """The node the last step delivered a client's request to."""
    return world.steps[-1].dst


def _aimed_at(target: str) -> tuple[str | Callable[[World], str | None], Trigger]:
    """An aim's target and the event it waits for, for a portfolio target: ``requestee`` (the node that
    just took a client's request, right then), ``replier`` (the node that just answered one) or a role
    of the workload (whoever plays it, once someone does)."""
    if target == "requestee":
        return _requestee, when(_took_request, "took_request")
    if target == "replier":
        return "replier", after_reply()
    return target, when_role(target)


class _Spaced:
    """A trigger's predicate that holds from time ``start`` on, at most once per ``gap`` ticks: it notes
    (on the world, so each run starts afresh) when it last held."""

    def __init__(self, start: int, gap: int) -> None:
        self.start, self.gap = start, gap
        self.key = f"_portfolio_spaced_{id(self)}"

    def __call__(self, world: World) -> bool:
        now = world.time
        if now < self.start:
            return False
        last = world.__dict__.get(self.key)
        if last is not None and now < last + self.gap:
            return False
        world.__dict__[self.key] = now
        return True


class Bandit:
    """Shares picks among arms: each arm's value follows its recent rewards (recency-weighted mean, so
    an arm whose novelty dries up loses its share), and every arm keeps :data:`FLOOR` of the picks. Each
    arm is tried once before the values count."""

    def __init__(self, arms: Sequence[str], rng: random.Random, cost: dict[str, int] | None = None) -> None:
        self.arms = list(arms)
        self.cost = {a: (cost or {}).get(a, 1) for a in self.arms}  # schedules one pick runs
        self.rng = rng
        self.value = dict.fromkeys(self.arms, 1.0)
        self.pulls = dict.fromkeys(self.arms, 0)
        self.found = dict.fromkeys(self.arms, 0)  # new states each arm found

    def pick(self) -> str:
        for arm in self.arms:
            if not self.pulls[arm]:
                return arm
        total = sum(self.value.values())
        # shares of the schedules, so an arm that runs several per pick is picked that much less often
        shares = [(FLOOR + (1 - FLOOR * len(self.arms)) * (self.value[a] / total if total > 0 else 1 / len(self.arms)))
                  / self.cost[a] for a in self.arms]
        r = self.rng.random() * sum(shares)
        for arm, share in zip(self.arms, shares, strict=True):
            r -= share
            if r < 0:
                return arm
        return self.arms[-1]

    def reward(self, arm: str, reward: float, schedules: int = 1, states: int = 0) -> None:
        self.pulls[arm] += schedules
        self.found[arm] += states
        # as if each of the pick's schedules were rewarded in turn: an arm that runs several schedules
        # a pick (Hypothesis's slices) must not keep a stale value several times as long as the others
        self.value[arm] += (1 - (1 - ALPHA) ** schedules) * (reward - self.value[arm])


class _Portfolio:
    """The state of one shard's portfolio search."""

    def __init__(
        self, workload: Workload, observer: StatsObserver, variant: str, *, seed: int, base: FaultConfig,
        steps: int, checks: Sequence[tuple[str, HistoryCheck]], arms: Sequence[str],
    ) -> None:
        self.workload, self.observer, self.variant = workload, observer, variant
        self.rng = random.Random(f"portfolio-{seed}")
        self.base, self.steps, self.checks = base, steps, checks
        usable = [a for a in arms if (a != "aimed" or self._aimable()) and (a != "moving-cut" or self._cuttable())
                  and (a != "kingmaker" or (self._cuttable() and bool(workload.roles)))]
        if not usable:
            raise ValueError("no portfolio arm can run: 'aimed' needs a fault it may aim (crash, power-loss, "
                             "pause or partition among the faults); 'moving-cut' partitions and three or more "
                             "nodes; 'kingmaker' those and a role (Workload.roles) to follow")
        self.bandit = Bandit(usable, self.rng, {"hypothesis": HYPOTHESIS_SLICE})
        self.corpus: list[_Entry] = []
        self.reached: set[str] = set()
        self.horizon = max(steps, 50)  # ticks a run's run phase lasts, learned from the runs
        self.sequence = 0

    def _cuttable(self) -> bool:
        """Whether the ``moving-cut`` arm can run: partitions allowed, and a cluster of three or more (with
        two nodes, cutting one off leaves no majority to move on without it)."""
        return self.base.allows("partition") and self.workload.node_count >= 3

    def _aimable(self) -> bool:
        return bool(self._aim_faults())

    def _aim_faults(self) -> list[str]:
        faults = [k for k in ("crash", "power-loss", "pause") if self.base.allows(k)]
        if self.base.allows("partition") and self.workload.node_count >= 2:
            faults.append("isolate")
        return faults

    def _aim_fault(self) -> str:
        """Half the time ``isolate`` when partitions are allowed — the one fault that loses a node's
        messages both ways while it keeps running (a leader cut off right after it took a write: the
        scenario of most lost-write bugs) — else any aimable fault."""
        faults = self._aim_faults()
        if "isolate" in faults and self.rng.random() < 0.5:
            return "isolate"
        return self.rng.choice(faults)

    def _aim_target(self) -> str:
        """Half the time the node that just took a client's request, else the one that just answered one
        or a role the workload names."""
        if self.rng.random() < 0.5:
            return "requestee"
        return self.rng.choice(["replier", *self.workload.roles])

    def _seed(self) -> int:
        return self.rng.getrandbits(32)

    # -- plans --------------------------------------------------------------------------------------
    def plan(self, arm: str) -> Plan:
        if arm == "mutate" and self.corpus:
            return self._mutant()
        if arm == "random":
            seed = self._seed()
            return Plan("random", self.steps, seed, ((0, seed, ()),))
        if arm == "pct":
            mix = fault_mix(self.base, self.rng) if self.rng.random() < 0.5 else ()
            return Plan("pct", self.steps, self._seed(), depth=self.rng.choice((2, 3, 4)), mix=mix)
        if arm == "moving-cut":
            return self._moving_cut()
        if arm == "kingmaker":
            return self._kingmaker()
        steps = self.steps * 2 if self.rng.random() < 0.25 else self.steps
        quiet = arm == "aimed" and self.rng.random() < 0.5
        if quiet:
            mix = quiet_mix(self.base)  # the aimed faults alone: drawn faults would undo their set-up
        else:
            mix = fault_mix(self.base, self.rng)
        seed = self._seed()
        aims = self._aims() if arm == "aimed" else ()
        if quiet and aims and all(a.fault == "isolate" for a in aims):
            mix = moving_isolation(mix)
        return Plan(arm if arm != "mutate" else "swarm", steps, seed, ((0, seed, mix),), aims)

    def _aim(self, t: int, target: str | None = None, fault: str | None = None) -> Aim:
        """A fault aimed, from time ``t`` on, at the node that just acted on a client's request, the one
        that just answered a client, or a role of the workload."""
        fault = fault or self._aim_fault()
        target = target or self._aim_target()
        node, trigger = _aimed_at(target)
        return Aim(fault, node, trigger & at(t), name=f"portfolio {fault} {target} from t={t}")

    def _gap(self) -> int:
        """The least time between two firings of a spaced aim: log-uniform from 1/64 of a run to half of
        one, since nothing says on what time scale the system under test moves on — a new leader a few
        election timeouts after its predecessor was cut off, or a lease many of them later. (One uniform
        draw from the shard's generator, the same call as a uniform gap would make, mapped onto the log
        scale.)"""
        low, high = max(1, self.horizon // 64), max(2, self.horizon // 2 + 1)
        first, last = self.horizon // 8, self.horizon // 2 + 1
        drawn = self.rng.randrange(first, last) if last > first else first
        fraction = (drawn - first) / max(1, last - 1 - first)
        return int(math.exp(math.log(low) + fraction * (math.log(high) - math.log(low))))

    def _aims(self) -> tuple[Aim, ...]:
        """Three runs in four, a per-run policy (as swarm testing picks a per-run feature set): one fault at
        one target, fired two to four times, each at least a random gap after the one before — "isolate
        whoever just took a request, and again once the cluster has moved on", the shape of the multi-
        election bugs (Raft's Figure 8). Otherwise one to four aims, each drawn on its own, at random
        times. Under a quiet mix, isolations are never healed by a drawn step: each firing moves the cut
        to the new target (see :func:`moving_isolation`)."""
        if self.rng.random() < 0.25:
            times = sorted(self.rng.randrange(self.horizon) for _ in range(self.rng.choice((1, 2, 3, 4))))
            return tuple(self._aim(t) for t in times)
        fault = self._aim_fault()
        target = self._aim_target()
        return (self._spaced_aim(fault, target, f"{fault} {target}"),)

    def _spaced_aim(self, fault: str, target: str, label: str) -> Aim:
        """``fault`` at ``target`` (``requestee``, ``replier`` or a role), fired two to four times from a
        random start, each at least :meth:`_gap` after the one before."""
        spaced = _Spaced(self.rng.randrange(self.horizon // 3 + 1), self._gap())
        count = self.rng.choice((2, 3, 4))
        name = f"portfolio {label} x{count} from t={spaced.start} every {spaced.gap}+ ticks"
        node, trigger = _aimed_at(target)
        return Aim(fault, node, trigger & when(spaced, "spaced"), times=count, name=name)

    def _moving_cut(self) -> Plan:
        """Jepsen's isolated-leader nemesis, moving: no drawn faults and no drawn heals; the node that just
        took a client's request and passed it on is cut off from every other node, two to four times, each
        a spaced gap (:meth:`_gap`) after the one before, so every cut heals the last one. Whoever leads
        when a write comes in loses it to a cut, a new leader takes the next write and is cut off in turn,
        and the first comes back with a log that disagrees: the scenario of Raft's Figure 8 and of
        membership changes that outrun their commits."""
        seed = self._seed()
        aim = self._spaced_aim("isolate", "requestee", "moving cut")
        return Plan("moving-cut", self.steps, seed, ((0, seed, moving_isolation(quiet_mix(self.base))),), (aim,))

    def _kingmaker(self) -> Plan:
        """The first node to take a client's request (and pass it on) is cut off from the others, once;
        then the kingmaker changes sides: whenever a delivered message makes a new node play one of the
        workload's roles (the vote that elects a new leader), its sender crosses to the other side of the
        cut, one to three times; no drawn faults or heals. The new leader then leads with a voter that
        has heard nothing from it, on the side of the leader it deposed — which still holds whatever it
        took before the cut, and takes more. That is the shape of Ongaro's 2015 bug in single-server
        membership changes (the deposed leader's configuration elects it again with the voter the new
        leader never reached) and, generally, of a majority made of a stale voter.

        The cut falls at the first request because three acts must follow it within the run — a new
        leader elected, that leader acting, the deposed one back — each a few election timeouts long: on
        ``config-before-noop`` the arm needs 14 schedules per find (seeds 1-36) where a cut at a random
        moment of the run's first third, as the moving cut's, needs 26 (``benchmarks/kingmaker.py``)."""
        seed = self._seed()
        node, took = _aimed_at("requestee")
        cut = Aim("isolate", node, took, name="portfolio kingmaker's cut: the first node to take a request")
        role = self.rng.choice(list(self.workload.roles))
        times = self.rng.choice((1, 2, 3))
        crossing = Aim("cross", "sender", after_role_change(role), times=times,
                       name=f"portfolio kingmaker of the {role} crosses the cut x{times}")
        return Plan("kingmaker", self.steps, seed, ((0, seed, moving_isolation(quiet_mix(self.base))),),
                    (cut, crossing))

    def _mutant(self) -> Plan:
        """Extend a corpus schedule from a step where it reached a new state: with fresh choices (under its
        own fault mix or a new one), or with the same choices and one more fault aimed at that moment —
        "what if the leader crashed right here?" (a fault at a new state, as Mallory and ModelFuzz do)."""
        weights = [e.energy / (1 + e.picked) for e in self.corpus]
        entry = self.rng.choices(self.corpus, weights=weights)[0]
        entry.picked += 1
        novel = entry.novel
        cut = novel[-1] if self.rng.random() < 0.5 else self.rng.choice(novel)
        parent = entry.plan
        if self._aimable() and len(parent.aims) < 8 and self.rng.random() < 0.5:
            # the aim waits until time passes the cut, so the run up to there stays the parent's
            return Plan("mutate", parent.steps, parent.seed, parent.splices,
                        (*parent.aims, self._aim(entry.times[cut] + 1)))
        at_call = entry.marks[min(cut, len(entry.marks) - 1)]
        kept = tuple(s for s in parent.splices if s[0] < at_call)
        mix = kept[-1][2] if self.rng.random() < 0.5 else fault_mix(self.base, self.rng)
        return Plan("mutate", parent.steps, self._seed(), (*kept, (at_call, self._seed(), mix)), parent.aims)

    # -- running ------------------------------------------------------------------------------------
    def run(self, plan: Plan) -> tuple[ScheduleResult, list[int]]:
        source: ChoiceSource
        faults = self.base
        if plan.arm == "pct":
            source = PCTSource(plan.seed, plan.depth, plan.steps)
            faults = mix_config(self.base, plan.mix)
        else:
            source = SplicedSource(plan.splices)
        result = run_bound(self.workload, self.variant, source, faults=faults, max_steps=plan.steps,
                           checks=self.checks, aims=plan.aims)
        return result, list(getattr(source, "marks", []))

    def learn(self, arm: str, plan: Plan, result: ScheduleResult, marks: list[int]) -> float:
        """Reward ``arm`` (which made ``plan``) for what its schedule reached; keep it in the corpus if it found new
        states in its run phase."""
        steps = result.trace.steps
        quiesce = next((i for i, s in enumerate(steps) if s.kind == "quiesce"), len(steps))
        if quiesce < len(steps):
            self.horizon = max(self.horizon, steps[quiesce].t)
        novel = list(self.observer.novel_at)
        reward = math.log1p(len(novel))
        watch = watch_of(result.run.world)
        if watch is not None:
            fresh = watch.reached - self.reached
            reward += 2.0 * len(fresh)
            self.reached |= fresh
        early = [i for i in novel if 0 < i < quiesce]
        if early and plan.arm != "pct" and marks:
            times = [step.to if step.to is not None else step.t for step in steps]
            self.corpus.append(_Entry(plan, marks, early, float(len(novel)), times))
            if len(self.corpus) > CORPUS:
                self.corpus.remove(min(self.corpus, key=lambda e: e.energy / (1 + e.picked)))
        self.bandit.reward(arm, reward, 1, len(novel))
        return reward

    def hypothesis_slice(self, outcome: SearchOutcome, examples: int, deadline: float | None,
                         on_found: Callable[[ScheduleResult], None] | None,
                         stop: Callable[[], bool] | None = None) -> SearchOutcome:
        faults = mix_config(self.base, fault_mix(self.base, self.rng)) if self.rng.random() < 0.5 else self.base
        before = len(self.observer.first_seen)
        scores: list[float] = []

        def score(result: ScheduleResult) -> float:
            value = float(len(self.observer.novel_at))
            scores.append(value)
            return value

        part = hypothesis_search(
            self.workload, self.variant, seed_value=self._seed(), examples=examples, faults=faults,
            max_steps=self.steps, checks=self.checks, shrink_runs=0, deadline=deadline, on_found=on_found,
            score=score, stop=stop,
        )
        found = len(self.observer.first_seen) - before
        mean = sum(math.log1p(s) for s in scores) / max(len(scores), 1)
        self.bandit.reward("hypothesis", mean, part.schedules, found)
        return part


def portfolio_search(
    workload: Workload,
    variant: str,
    *,
    observer: StatsObserver,
    seed_value: int,
    examples: int,
    faults: FaultConfig | None = None,
    max_steps: int | None = None,
    deadline: float | None = None,
    on_found: Callable[[ScheduleResult], None] | None = None,
    arms: Sequence[str] = ARMS,
    stop: Callable[[], bool] | None = None,
) -> SearchOutcome:
    """Run up to ``examples`` portfolio schedules of ``workload`` (wrapped by ``observer``, whose novelty
    steers the arms), fewer if ``deadline`` (a ``time.time()`` value) passes first or ``stop()`` turns
    true; stop at the first failure. The outcome's ``arm`` names the arm that found it; ``arms`` the
    schedules and new states of each."""
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise ValueError(f"unknown portfolio arm {unknown[0]!r} (known: {', '.join(ARMS)})")
    outcome = SearchOutcome()
    base = faults if faults is not None else FaultConfig.coerce(workload.faults)
    steps = max_steps if max_steps is not None else workload.max_steps
    search = _Portfolio(workload, observer, variant, seed=seed_value, base=base, steps=steps,
                        checks=history_checks(workload), arms=arms)
    while outcome.schedules < examples:
        if spent(deadline, stop):
            break
        arm = search.bandit.pick()
        if arm == "hypothesis":
            part = search.hypothesis_slice(outcome, min(HYPOTHESIS_SLICE, examples - outcome.schedules),
                                           deadline, on_found, stop)
            outcome.schedules += part.schedules
            outcome.unknown += part.unknown
            if part.first is not None:
                outcome.first, outcome.failure, outcome.arm = part.first, part.first, "hypothesis"
                break
            if part.schedules == 0:
                break  # the deadline passed inside the slice, or the campaign said stop
            continue
        plan = search.plan(arm)
        result, marks = search.run(plan)
        outcome.schedules += 1
        outcome.unknown += int(result.verdict.unknown)
        search.learn(arm, plan, result, marks)
        if result.verdict.signature is not None:
            outcome.first = outcome.failure = result
            outcome.arm = plan.arm
            if on_found is not None:
                on_found(result)
            break
    outcome.arms = {a: (search.bandit.pulls[a], search.bandit.found[a]) for a in search.bandit.arms}
    return outcome

