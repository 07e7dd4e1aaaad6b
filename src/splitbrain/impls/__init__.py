"""The systems under test, each a :class:`~splitbrain.sim.Workload` with a correct version and bugs.

``WORKLOADS`` maps each workload's name to an instance; ``get_workload(name)`` looks one up.
"""

from __future__ import annotations

import difflib

from splitbrain.errors import UsageError
from splitbrain.impls.breaker_workload import CircuitBreakerWorkload
from splitbrain.impls.causal_broadcast import CausalBroadcastWorkload
from splitbrain.impls.crdt_workloads import CRDTCounterWorkload, CRDTSetWorkload
from splitbrain.impls.gossip import GossipKVWorkload
from splitbrain.impls.paxos import PaxosWorkload
from splitbrain.impls.primary_backup import PrimaryBackupWorkload
from splitbrain.impls.raft import RaftKVWorkload
from splitbrain.impls.rate_limit import (
    LeakyBucketWorkload,
    LeakyQueueWorkload,
    RateLimitClusterWorkload,
    TokenBucketWorkload,
)
from splitbrain.impls.tcc import TCCWorkload
from splitbrain.impls.two_phase_commit import TwoPhaseCommitWorkload
from splitbrain.impls.wrr_workload import WRRWorkload
from splitbrain.sim import Workload

__all__ = ["WORKLOADS", "get_workload"]

WORKLOADS: dict[str, Workload] = {
    w.name: w for w in (PrimaryBackupWorkload(), RaftKVWorkload(), PaxosWorkload())
}
WORKLOADS.update((w.name, w) for w in (
    TokenBucketWorkload(), LeakyBucketWorkload(), LeakyQueueWorkload(), RateLimitClusterWorkload(),
))
WORKLOADS.update((w.name, w) for w in (
    GossipKVWorkload(), CRDTCounterWorkload(), CRDTSetWorkload(), CausalBroadcastWorkload(),
))
WORKLOADS.update((w.name, w) for w in (TwoPhaseCommitWorkload(), TCCWorkload()))
WORKLOADS.update((w.name, w) for w in (CircuitBreakerWorkload(), WRRWorkload()))


def get_workload(name: str) -> Workload:
    """The registered workload called ``name``; an unknown name lists the known ones."""
    try:
        return WORKLOADS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(WORKLOADS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(WORKLOADS)
        raise UsageError(f"unknown workload {name!r}{hint} (known workloads: {known})") from None
