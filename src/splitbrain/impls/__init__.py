"""The systems under test, each a :class:`~splitbrain.sim.Workload` with a correct version and bugs.

``WORKLOADS`` maps each workload's name to an instance; ``get_workload(name)`` looks one up. ``SEARCH`` maps
a workload's name to its bug variants' search settings — the faults each bug's scenario needs, made
frequent, and the steps per schedule — which the quality tests, ``benchmarks/bug_zoo.py`` and
``splitbrain fuzz --search`` use; ``search_settings(workload, variant)`` looks one up.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from splitbrain.errors import UsageError
from splitbrain.impls.breaker_workload import SEARCH as BREAKER_SEARCH
from splitbrain.impls.breaker_workload import CircuitBreakerWorkload
from splitbrain.impls.causal_broadcast import SEARCH as BROADCAST_SEARCH
from splitbrain.impls.causal_broadcast import CausalBroadcastWorkload
from splitbrain.impls.crdt_workloads import COUNTER_SEARCH, SET_SEARCH, CRDTCounterWorkload, CRDTSetWorkload
from splitbrain.impls.gossip import SEARCH as GOSSIP_SEARCH
from splitbrain.impls.gossip import GossipKVWorkload
from splitbrain.impls.paxos import SEARCH as PAXOS_SEARCH
from splitbrain.impls.paxos import PaxosWorkload
from splitbrain.impls.primary_backup import PrimaryBackupWorkload
from splitbrain.impls.raft import RaftKVWorkload
from splitbrain.impls.raft.workload import SEARCH as RAFT_SEARCH
from splitbrain.impls.rate_limit import (
    LeakyBucketWorkload,
    LeakyQueueWorkload,
    RateLimitClusterWorkload,
    TokenBucketWorkload,
)
from splitbrain.impls.rate_limit.cluster import SEARCH as CLUSTER_SEARCH
from splitbrain.impls.rate_limit.threaded import SEARCH as LIMITER_SEARCH
from splitbrain.impls.tcc import SEARCH as TCC_SEARCH
from splitbrain.impls.tcc import TCCWorkload
from splitbrain.impls.two_phase_commit import SEARCH as TPC_SEARCH
from splitbrain.impls.two_phase_commit import TwoPhaseCommitWorkload
from splitbrain.impls.wrr_workload import SEARCH as WRR_SEARCH
from splitbrain.impls.wrr_workload import WRRWorkload
from splitbrain.sim import FaultConfig, Workload

__all__ = ["SEARCH", "WORKLOADS", "get_workload", "search_settings"]

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


SEARCH: dict[str, Mapping[str, tuple[FaultConfig, int]]] = {
    "raft-kv": RAFT_SEARCH, "paxos": PAXOS_SEARCH,
    "token-bucket": LIMITER_SEARCH, "leaky-bucket": LIMITER_SEARCH, "leaky-queue": LIMITER_SEARCH,
    "rate-limit-cluster": CLUSTER_SEARCH,
    "gossip-kv": GOSSIP_SEARCH, "crdt-counter": COUNTER_SEARCH, "crdt-set": SET_SEARCH,
    "causal-broadcast": BROADCAST_SEARCH,
    "bank-2pc": TPC_SEARCH, "bank-tcc": TCC_SEARCH,
    "circuit-breaker": BREAKER_SEARCH, "wrr": WRR_SEARCH,
}


def search_settings(workload: str, variant: str) -> tuple[FaultConfig, int]:
    """(faults, max_steps) the bug ``variant`` of ``workload`` is searched with; a clear error otherwise."""
    settings = SEARCH.get(workload, {})
    if variant not in settings:
        which = ", ".join(settings) or "none"
        raise UsageError(
            f"workload {workload!r} has no search settings for variant {variant!r} (variants with them: {which}); "
            "search settings belong to bug variants — fuzz without --search, or with --faults/--max-steps"
        )
    return settings[variant]


def get_workload(name: str) -> Workload:
    """The registered workload called ``name``; an unknown name lists the known ones."""
    try:
        return WORKLOADS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(WORKLOADS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(WORKLOADS)
        raise UsageError(f"unknown workload {name!r}{hint} (known workloads: {known})") from None
