"""How far the default search gets toward Raft's config-before-noop (Ongaro's 2015 membership bug).

Usage: python benchmarks/reconfig_stages.py [--runs 400] [--seeds 1,2,3] [--arm ARM]
                                            [--kingmaker crash|isolate|cross] [--one-server-requests]

Runs ``--runs`` schedules per seed the way the portfolio does (its arms drawn at random, or only
``--arm``; its corpus and bandit learning as usual) on ``raft-reconfig`` / ``config-before-noop``, and
counts the schedules that reach each stage of the bug's scenario, checked after every step (the stages
of search.md):

1. a deposed leader holds an uncommitted config entry that a leader of a later term lacks, and agrees
   with that leader on every entry before it;
2. that leader has appended a config entry of its own term after it;
3. the two configurations are two servers apart (five members against three);
4. the later leader's entry is committed;
5. two members of the deposed leader's configuration hold no entry of the later term and no log newer
   than the deposed leader's: the voters it needs to be elected over the committed entry.

``--kingmaker`` adds, to each schedule, an aim at the node whose message just made a new leader (the
sender of the message delivered when the leader changed), crashing it, cutting it off or moving it to the
other side of the cut (``cross``: what the portfolio's ``kingmaker`` arm does), one to three times (drawn
per schedule from its index). ``--one-server-requests`` makes clients ask only for
configurations one server from the initial one. Both were experiments toward the bug; the figures are in
docs/explanation/search.md. This reaches into the portfolio's private parts on purpose, as
benchmarks/aim_policies.py does.
"""

from __future__ import annotations

import argparse
import collections
import random
from typing import Any

from splitbrain import load_workload
from splitbrain.fuzz import portfolio as pf
from splitbrain.fuzz.schedule import history_checks
from splitbrain.fuzz.stats import StatsObserver
from splitbrain.impls.raft.reconfig import RaftReconfigWorkload
from splitbrain.sim import FaultConfig
from splitbrain.sim.aims import Aim, after_role_change
from splitbrain.sim.workload import Invariant

STAGES = (
    "1 deposed leader holds an uncommitted change",
    "2 new leader appended its own change",
    "3 configurations two servers apart",
    "4 new leader's change committed",
    "5 two voters for the deposed leader",
)


def _newest(log: list[Any]) -> tuple[int, int]:
    return (log[-1][0], len(log)) if log else (0, 0)


def stages_reached(world: Any) -> set[str]:
    """The stages of the scenario the world is in now."""
    reached: set[str] = set()
    logs = {i: (world.node(i).log if world.node(i) is not None else world.storage(i).get("log") or [])
            for i in world.node_ids}
    leaders = [n for n in world.live_nodes() if getattr(n, "role", None) == "leader"]
    for new in leaders:
        for old_id, log in logs.items():
            index = next((j for j in range(len(log) - 1, -1, -1) if log[j][1][1] == "config"), None)
            if old_id == new.id or index is None:
                continue
            entry = log[index]
            held_by_new = len(new.log) > index and new.log[index] == entry
            if new.term <= entry[0] or held_by_new or log[:index] != new.log[:index]:
                continue
            reached.add(STAGES[0])
            own = [j for j in range(index, len(new.log)) if new.log[j][1][1] == "config" and new.log[j][0] == new.term]
            if not own:
                continue
            reached.add(STAGES[1])
            if len(entry[1][3]) - len(new.members) != 2:
                continue
            reached.add(STAGES[2])
            if new.commit <= own[0]:
                continue
            reached.add(STAGES[3])
            voters = [v for v in entry[1][3] if v not in (old_id, new.id)
                      and not any(e[0] >= new.term for e in logs[v]) and _newest(logs[v]) <= _newest(log)]
            if len(voters) >= 2:
                reached.add(STAGES[4])
    return reached


def one_server_requests(self: RaftReconfigWorkload) -> list[tuple[str, ...]]:
    """Only the configurations one server from the initial one."""
    initial = set(self.node_ids[:-1])
    return [c for c in ORIGINAL_CONFIGURATIONS(self) if len(set(c) ^ initial) == 1]


ORIGINAL_CONFIGURATIONS = RaftReconfigWorkload._configurations


def run(seed: int, runs: int, arms: list[str], kingmaker: str | None) -> tuple[collections.Counter[str], int]:
    workload = load_workload("raft-reconfig")
    seen: set[str] = set()

    def probe(world: Any) -> None:
        seen.update(stages_reached(world))
        return None

    workload.invariants = (*workload.invariants, Invariant("benchmark-stages", probe, False))
    observer = StatsObserver(workload)
    search = pf._Portfolio(observer.wrap(workload), observer, "config-before-noop", seed=seed,
                           base=FaultConfig.coerce(workload.faults), steps=workload.max_steps,
                           checks=history_checks(workload), arms=pf.ARMS)
    rng = random.Random(seed)
    counts: collections.Counter[str] = collections.Counter()
    found = 0
    for index in range(runs):
        arm = arms[0] if len(arms) == 1 else rng.choice(arms)
        plan = search.plan(arm)
        if kingmaker is not None:
            times = random.Random(index).choice((1, 2, 3))
            aim = Aim(kingmaker, "sender", after_role_change("leader"), times=times, name="kingmaker")
            plan = pf.Plan(plan.arm, plan.steps, plan.seed, plan.splices, (*plan.aims, aim), plan.depth, plan.mix)
        seen.clear()
        result, marks = search.run(plan)
        search.learn(arm, plan, result, marks)
        counts.update(seen)
        found += result.verdict.signature is not None
    return counts, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--arm", choices=[a for a in pf.ARMS if a != "hypothesis"],
                        help="only this arm (default: every arm but Hypothesis, which runs in slices, not plans, "
                             "and the kingmaker, whose figures came later: the stage counts are the portfolio's "
                             "before it)")
    parser.add_argument("--kingmaker", choices=("crash", "isolate", "cross"))
    parser.add_argument("--one-server-requests", action="store_true")
    args = parser.parse_args()
    if args.one_server_requests:
        RaftReconfigWorkload._configurations = one_server_requests  # type: ignore[method-assign]
    total: collections.Counter[str] = collections.Counter()
    runs = found = 0
    for seed in (int(s) for s in args.seeds.split(",")):
        arms = [args.arm] if args.arm else [a for a in pf.ARMS if a not in ("hypothesis", "kingmaker")]
        counts, failed = run(seed, args.runs, arms, args.kingmaker)
        total.update(counts)
        runs += args.runs
        found += failed
        print(f"seed {seed}: " + ", ".join(f"{stage[:1]}: {counts[stage]}" for stage in STAGES)
              + f"; failed: {failed}", flush=True)
    for stage in STAGES:
        print(f"{stage:<48} {total[stage]:>5} of {runs} ({100 * total[stage] / runs:.1f}%)")
    print(f"{'schedules that failed':<48} {found:>5} of {runs}")


if __name__ == "__main__":
    main()
