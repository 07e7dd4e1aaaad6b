"""Raft (Ongaro & Ousterhout 2014) behind a replicated key-value store, correct plus a bug zoo."""

from splitbrain.impls.raft.node import RaftNode
from splitbrain.impls.raft.variants import VARIANTS
from splitbrain.impls.raft.workload import RaftKVWorkload

__all__ = ["VARIANTS", "RaftKVWorkload", "RaftNode"]
