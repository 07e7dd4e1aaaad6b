"""A replicated cas-register on a log of single-decree Paxos instances (workload ``paxos``)."""

from splitbrain.impls.paxos.register import PaxosNode, PaxosWorkload

__all__ = ["PaxosNode", "PaxosWorkload"]
