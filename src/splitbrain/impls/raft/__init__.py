"""Raft (Ongaro & Ousterhout 2014) behind a replicated key-value store, correct plus a bug zoo; with
membership changes in ``raft-reconfig``."""

from splitbrain.impls.raft.membership import MembershipNode
from splitbrain.impls.raft.node import RaftNode
from splitbrain.impls.raft.reconfig import RaftReconfigWorkload
from splitbrain.impls.raft.variants import VARIANTS
from splitbrain.impls.raft.workload import RaftKVWorkload

__all__ = ["VARIANTS", "MembershipNode", "RaftKVWorkload", "RaftNode", "RaftReconfigWorkload"]
