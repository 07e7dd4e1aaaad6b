"""The systems under test, each a :class:`~splitbrain.sim.Workload` with a correct version and bugs.

``WORKLOADS`` maps each workload's name to an instance; ``get_workload(name)`` looks one up.
"""

from __future__ import annotations

import difflib

from splitbrain.errors import UsageError
from splitbrain.impls.paxos import PaxosWorkload
from splitbrain.impls.primary_backup import PrimaryBackupWorkload
from splitbrain.impls.raft import RaftKVWorkload
from splitbrain.sim import Workload

__all__ = ["WORKLOADS", "get_workload"]

WORKLOADS: dict[str, Workload] = {
    w.name: w for w in (PrimaryBackupWorkload(), RaftKVWorkload(), PaxosWorkload())
}


def get_workload(name: str) -> Workload:
    """The registered workload called ``name``; an unknown name lists the known ones."""
    try:
        return WORKLOADS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(WORKLOADS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(WORKLOADS)
        raise UsageError(f"unknown workload {name!r}{hint} (known workloads: {known})") from None
