"""Money between shards (workloads ``bank-2pc`` and ``bank-tcc``): two-phase commit and try/confirm/cancel
over one sharded bank, with the bank's invariants and its history checks."""

from splitbrain.impls.bank.tcc import TCCWorkload
from splitbrain.impls.bank.two_phase_commit import TwoPhaseCommitWorkload

__all__ = ["TCCWorkload", "TwoPhaseCommitWorkload"]
