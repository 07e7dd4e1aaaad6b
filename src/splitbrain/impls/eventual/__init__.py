"""Eventually consistent systems, judged by the causality checker on the state they converge to:
``gossip-kv`` (dotted version vectors), ``crdt-counter`` and ``crdt-set`` (state-based CRDTs) and
``causal-broadcast`` (vector-clock causal delivery)."""

from splitbrain.impls.eventual.causal_broadcast import CausalBroadcastWorkload
from splitbrain.impls.eventual.crdt_workloads import CRDTCounterWorkload, CRDTSetWorkload
from splitbrain.impls.eventual.gossip import GossipKVWorkload

__all__ = ["CRDTCounterWorkload", "CRDTSetWorkload", "CausalBroadcastWorkload", "GossipKVWorkload"]
