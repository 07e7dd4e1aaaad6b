"""The ``raft-reconfig`` workload: ``raft-kv`` on a universe of five servers whose membership changes.

Four of the five servers vote at first (n1-n4; n5 is a spare); clients issue ``reconfigure`` requests,
each naming a configuration of three to five servers, among their reads and writes, and the leader walks
there one server at a time while faults strike (:mod:`splitbrain.impls.raft.membership` has the rules).
It is a workload of its own, not a setting of ``raft-kv``: that keeps every ``raft-kv`` schedule and
saved trace as it was.

The history is checked against the ``kv`` model with the reconfigurations left out (they change who
stores the data, not the data); Raft's safety invariants (election safety, log matching, leader
completeness, state machine safety) are checked after every step, unchanged — a membership bug shows as
two leaders of one term or as a committed entry lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations
from typing import Any

from splitbrain.checker.linearizability import check_linearizability
from splitbrain.histories import History
from splitbrain.impls.raft.membership import MIN_MEMBERS, RECONFIGURE, VARIANTS
from splitbrain.impls.raft.workload import KEYS, LEADER_WITHIN, VALUES, RaftKVWorkload
from splitbrain.sim import ClientOp, FaultConfig, Rand, World, eventually
from splitbrain.sim.faults import DEFAULT_KINDS

#: the linearizability checker's budget per history, as for every workload checked against a model
CHECK_TIMEOUT = 10.0


def data_ops(history: History) -> History:
    """``history`` without the membership changes: the reads and writes the ``kv`` model judges."""
    return History.from_ops([op for op in history.ops if op.f != RECONFIGURE], source=history.source)


def _linearizable(history: History) -> tuple[Any, str]:
    result = check_linearizability(data_ops(history), "kv", timeout=CHECK_TIMEOUT)
    return result.valid, result.explain()


#: ``raft-kv``'s fault kinds at lower rates: with five nodes the same weights keep the cluster leaderless
#: most of the run, and a membership change needs a leader and a few quiet round trips to happen at all
RECONFIG_FAULTS = FaultConfig(
    kinds=(*DEFAULT_KINDS, "power-loss"),
    weights={"partition": 8, "oneway": 3, "heal": 20, "crash": 3, "restart": 25, "duplicate": 4},
)


def member_leader_elected(world: Any) -> bool:
    """Some live leader has no live member of its configuration in a newer term (a removed server that
    missed its removal campaigns on alone, in ever newer terms, and does not count)."""
    nodes = [n for n in world.live_nodes() if hasattr(n, "members")]
    return any(
        n.role == "leader" and all(m.term <= n.term for m in nodes if m.id in n.members) for n in nodes
    )


class RaftReconfigWorkload(RaftKVWorkload):
    """Five servers, four voting at first; three clients issue get / put / append on two keys and
    ``reconfigure`` to a configuration of three to five servers (one operation in three)."""

    name = "raft-reconfig"
    variants = VARIANTS
    search: dict[str, Any] = {}
    node_count = 5
    faults = RECONFIG_FAULTS
    #: a run long enough for a few reconfigurations between elections (five nodes: more messages per tick)
    max_steps = 800
    #: liveness: once the faults are healed, a leader its members follow is elected within LEADER_WITHIN ticks
    properties = (eventually(member_leader_elected, within=LEADER_WITHIN),)

    def history_checks(self) -> Sequence[tuple[str, Callable[[History], tuple[Any, str]]]]:
        return [("linearizability", _linearizable)]

    def generate(self, rand: Rand, process: int) -> ClientOp:
        f = rand.choice(("get", "get", "put", "append", RECONFIGURE, RECONFIGURE))
        if f == RECONFIGURE:
            return ClientOp(f, rand.choice(self._configurations()))
        key = rand.choice(KEYS)
        if f == "get":
            return ClientOp("get", None, key)
        return ClientOp(f, rand.choice(VALUES), key)

    def _configurations(self) -> list[tuple[str, ...]]:
        """Every configuration a client may ask for: each set of at least MIN_MEMBERS servers."""
        ids = self.node_ids
        return [c for k in range(MIN_MEMBERS, len(ids) + 1) for c in combinations(ids, k)]

    def abstract_state(self, world: World) -> tuple[Any, ...]:
        """What membership safety turns on, coarsely: per node (sorted) its role, whether it lags the
        newest term, whether it is a member of its own configuration, how many config entries of its log
        are uncommitted (capped at 2) and whether its configuration is the newest any node uses; then how
        far apart the configurations in use are (servers in one and not the other, capped at 2: two
        means majorities that may not overlap), and ``raft-kv``'s count of log indexes nodes disagree on.
        """
        live: list[Any] = [n for n in (world.node(i) for i in world.node_ids) if n is not None]
        top = max((n.term for n in live), default=0)
        newest = max((n.config_index for n in live), default=0)
        rows = []
        for node in live:
            pending = sum(1 for e in node.log[node.commit:] if e[1][1] == "config")
            rows.append((node.role, min(top - node.term, 1), node.id in node.members, min(pending, 2),
                         node.config_index == newest))
        configs = {frozenset(n.members) for n in live}
        apart = max((len(a ^ b) for a in configs for b in configs), default=0)
        return (tuple(sorted(rows)), len(world.node_ids) - len(live), min(apart, 2),
                super().abstract_state(world)[1])
