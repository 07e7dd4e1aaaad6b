"""The ``raft-kv`` workload: a Raft-replicated key-value store, checked against the ``kv`` model."""

from __future__ import annotations

from splitbrain.impls.raft.invariants import INVARIANTS
from splitbrain.impls.raft.variants import VARIANTS
from splitbrain.sim import ClientOp, FaultConfig, Rand, Workload

KEYS = ("x", "y")
VALUES = ("a", "b", "c", "d")

#: every fault kind, with partitions and crashes several times more frequent than the defaults so that a
#: run of a few hundred steps sees leadership change hands a few times
RAFT_FAULTS = FaultConfig(
    weights={"partition": 25, "oneway": 8, "heal": 25, "crash": 10, "restart": 25, "duplicate": 4},
)


#: the faults and run length each bug variant is searched with (tests, ``benchmarks/bug_zoo.py``): the
#: scenario each bug needs, made frequent. The correct version must pass under every one of them too.
SEARCH: dict[str, tuple[FaultConfig, int]] = {
    "unpersisted-vote": (FaultConfig(kinds=("drop", "crash"), weights={"crash": 60, "restart": 200, "drop": 10}), 400),
    "commit-old-term": (
        FaultConfig(
            kinds=("drop", "partition", "crash"),
            weights={"partition": 40, "heal": 10, "crash": 30, "restart": 60, "drop": 10},
        ),
        800,
    ),
    "stale-read": (RAFT_FAULTS, 400),
    "truncate-on-append": (
        FaultConfig(kinds=("duplicate", "reorder", "crash"), weights={"duplicate": 30, "crash": 30, "restart": 100}),
        400,
    ),
    "no-step-down": (
        FaultConfig(
            kinds=("drop", "delay", "partition"), weights={"partition": 40, "heal": 10, "delay": 20, "drop": 10},
        ),
        800,
    ),
}


class RaftKVWorkload(Workload):
    """Three nodes (``node_count=5`` for five), three clients, two keys, get / put / append."""

    name = "raft-kv"
    search = SEARCH  # the faults and steps each bug variant is searched with
    model = "kv"
    variants = VARIANTS
    node_count = 3
    clients = 3
    op_timeout = 120
    delay = (1, 5)
    faults = RAFT_FAULTS
    max_steps = 400
    invariants = INVARIANTS

    def generate(self, rand: Rand, process: int) -> ClientOp:
        key = rand.choice(KEYS)
        f = rand.choice(("get", "get", "put", "append"))
        if f == "get":
            return ClientOp("get", None, key)
        return ClientOp(f, rand.choice(VALUES), key)
